import Foundation
import Testing
@testable import SkiffONNX

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let modelFolder = repository.appendingPathComponent("models/ppocrv5").path

/// A minimal protobuf writer, to build small models for the error paths.
struct ProtoWriter {
    var bytes: [UInt8] = []
    mutating func varint(_ v: UInt64) {
        var v = v
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            bytes.append(b)
        } while v != 0
    }
    mutating func field(_ n: Int, _ payload: [UInt8]) {
        varint(UInt64(n << 3 | 2))
        varint(UInt64(payload.count))
        bytes += payload
    }
    mutating func field(_ n: Int, _ s: String) { field(n, Array(s.utf8)) }
    mutating func int(_ n: Int, _ v: Int) {
        varint(UInt64(n << 3))
        varint(UInt64(v))
    }
}

func node(_ op: String, inputs: [String], outputs: [String], name: String) -> [UInt8] {
    var w = ProtoWriter()
    for i in inputs { w.field(1, i) }
    for o in outputs { w.field(2, o) }
    w.field(3, name)
    w.field(4, op)
    return w.bytes
}

func model(nodes: [[UInt8]], initializers: [[UInt8]] = [], inputs: [String], outputs: [String]) -> Data {
    var g = ProtoWriter()
    for n in nodes { g.field(1, n) }
    g.field(2, "test")
    for t in initializers { g.field(5, t) }
    for i in inputs { var v = ProtoWriter(); v.field(1, i); g.field(11, v.bytes) }
    for o in outputs { var v = ProtoWriter(); v.field(1, o); g.field(12, v.bytes) }
    var m = ProtoWriter()
    m.int(1, 8)
    m.field(2, "skiff-tests")
    m.field(7, g.bytes)
    var opset = ProtoWriter()
    opset.int(2, 13)
    m.field(8, opset.bytes)
    return Data(m.bytes)
}

func floatTensor(_ name: String, shape: [Int], _ values: [Float]) -> [UInt8] {
    var t = ProtoWriter()
    var dims = ProtoWriter()
    for d in shape { dims.varint(UInt64(d)) }
    t.field(1, dims.bytes)
    t.int(2, 1)
    t.field(8, name)
    t.field(9, values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } })
    return t.bytes
}

@Suite("ONNX files and the graph runtime")
struct ONNXModelTests {
    @Test func readsThePPOCRDetectionGraph() throws {
        let m = try ONNXModel(contentsOf: modelFolder + "/ppocrv5_det.onnx")
        #expect(m.opsets[""] == 11)
        #expect(m.graph.inputs == ["x"])
        #expect(m.graph.nodes.count == 526)
        #expect(m.graph.nodes.filter { $0.opType == "Conv" }.count == 62)
        #expect(m.graph.initializers.count == 246)
        let first = try #require(m.graph.nodes.first)
        #expect(first.opType == "Conv")
        #expect(first.ints("strides") == [2, 2])
        #expect(m.graph.initializers[first.inputs[1]]?.shape == [16, 3, 3, 3])
    }

    @Test func truncatedFileIsAClearError() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: modelFolder + "/ppocrv5_rec.onnx"))
        #expect {
            _ = try ONNXModel(data: data.prefix(1_000_000))
        } throws: { error in
            guard case .truncated = error as? ONNXError else { return false }
            return "\(error)".contains("truncated")
        }
    }

    @Test func notAModelIsAClearError() {
        #expect(throws: ONNXError.self) { _ = try ONNXModel(data: Data("hello, this is text".utf8)) }
        #expect(throws: ONNXError.self) { _ = try ONNXModel(contentsOf: "/nonexistent/model.onnx") }
    }

    @Test func unsupportedOperatorNamesTheNode() throws {
        let data = model(nodes: [node("Gelu", inputs: ["x"], outputs: ["y"], name: "act1")], inputs: ["x"], outputs: ["y"])
        let m = try ONNXModel(data: data)
        #expect(throws: ONNXError.unsupportedOperator(op: "Gelu", node: "act1")) { _ = try InferenceSession(model: m) }
    }

    @Test func missingValueIsAnError() throws {
        let data = model(nodes: [node("Relu", inputs: ["nothing"], outputs: ["y"], name: "r")], inputs: ["x"], outputs: ["y"])
        #expect(throws: ONNXError.missingValue(name: "nothing", node: "r")) { _ = try InferenceSession(model: ONNXModel(data: data)) }
    }

    @Test func smallGraphComputesWhatTheOperatorsSay() throws {
        // y = Relu(x * w + b) with broadcasting, then a MatMul and a Softmax.
        let w = floatTensor("w", shape: [1, 3], [1, -2, 0.5])
        let b = floatTensor("b", shape: [3], [0.5, 0.5, 0.5])
        let m2 = floatTensor("m", shape: [3, 2], [1, 0, 0, 1, 1, 1])
        let data = model(nodes: [
            node("Mul", inputs: ["x", "w"], outputs: ["xw"], name: "mul"),
            node("Add", inputs: ["xw", "b"], outputs: ["s"], name: "add"),
            node("Relu", inputs: ["s"], outputs: ["r"], name: "relu"),
            node("MatMul", inputs: ["r", "m"], outputs: ["p"], name: "mm"),
            node("Softmax", inputs: ["p"], outputs: ["y"], name: "sm"),
        ], initializers: [w, b, m2], inputs: ["x"], outputs: ["y", "r"])
        let session = try InferenceSession(model: ONNXModel(data: data))
        let out = try session.run(["x": Tensor(shape: [2, 3], floats: [1, 1, 1, 2, -1, 4])])
        let r = try #require(out["r"]).floats
        #expect(r == [1.5, 0, 1, 2.5, 2.5, 2.5])
        let y = try #require(out["y"]).floats
        // row 0: p = [1.5 + 1, 0 + 1] = [2.5, 1]; row 1: [5, 5]
        let e = Float(1 / (1 + exp(-1.5)))
        #expect(abs(y[0] - e) < 1e-6 && abs(y[2] - 0.5) < 1e-6 && abs(y[3] - 0.5) < 1e-6)
        #expect(throws: ONNXError.self) { _ = try session.run(["z": Tensor(shape: [1], floats: [0])]) }
    }

    @Test func fusedConvolutionsMatchTheNodeByNodeGraph() throws {
        let m = try ONNXModel(contentsOf: modelFolder + "/ppocrv5_det.onnx")
        let fused = try InferenceSession(model: m, options: SessionOptions(threads: 2, fuse: true))
        let plain = try InferenceSession(model: m, options: SessionOptions(threads: 2, fuse: false))
        #expect(fused.steps.count < plain.steps.count / 3)
        var values = [Float](repeating: 0, count: 3 * 64 * 96)
        for i in values.indices { values[i] = Float((i * 7919) % 255) / 127.5 - 1 }
        let x = Tensor(shape: [1, 3, 64, 96], floats: values)
        let a = try fused.run(x), b = try plain.run(x)
        #expect(a.shape == [1, 1, 64, 96] && a.shape == b.shape)
        let diff = zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 1
        #expect(diff < 1e-4)
    }
}
