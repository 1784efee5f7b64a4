public import Foundation

/// A tensor of a model file or of a run: float32 or int64 values, row-major, outermost dimension first.
public struct Tensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case float([Float])
        case int64([Int64])
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], floats: [Float]) {
        self.shape = shape
        self.storage = .float(floats)
    }

    public init(shape: [Int], int64s: [Int64]) {
        self.shape = shape
        self.storage = .int64(int64s)
    }

    public var count: Int { shape.reduce(1, *) }

    /// The values as floats (int64 values converted).
    public var floats: [Float] {
        switch storage {
        case let .float(v): v
        case let .int64(v): v.map { Float($0) }
        }
    }

    /// The values as integers (floats truncated), for shape arithmetic.
    public var int64s: [Int64] {
        switch storage {
        case let .float(v): v.map { Int64($0) }
        case let .int64(v): v
        }
    }

    public var isFloat: Bool { if case .float = storage { true } else { false } }
}

/// One attribute of a node.
public enum Attribute: Sendable, Equatable {
    case int(Int64)
    case float(Float)
    case string(String)
    case ints([Int64])
    case floats([Float])
    case tensor(Tensor)
    /// A kind this runtime keeps only the name of (graphs, sparse tensors, strings lists).
    case other(Int)
}

/// One operator application.
public struct Node: Sendable, Equatable {
    public var name: String
    public var opType: String
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: Attribute]

    func int(_ key: String, default value: Int) -> Int {
        if case let .int(v) = attributes[key] { return Int(v) }
        return value
    }

    func float(_ key: String, default value: Float) -> Float {
        if case let .float(v) = attributes[key] { return v }
        return value
    }

    func ints(_ key: String) -> [Int]? {
        if case let .ints(v) = attributes[key] { return v.map { Int($0) } }
        return nil
    }

    func string(_ key: String, default value: String) -> String {
        if case let .string(v) = attributes[key] { return v }
        return value
    }
}

/// The computation graph of a model: nodes in topological order (as ONNX requires),
/// initializers (weights) by name, and the names of graph inputs and outputs.
public struct Graph: Sendable {
    public var name: String
    public var nodes: [Node]
    public var initializers: [String: Tensor]
    /// Declared inputs that are not initializers.
    public var inputs: [String]
    public var outputs: [String]
}

/// An ONNX model file (`ModelProto`), read straight from the protobuf wire format:
/// ModelProto → GraphProto → NodeProto / TensorProto / ValueInfoProto. Fields the
/// runtime does not need (doc strings, metadata, value_info) are skipped.
public struct ONNXModel: Sendable {
    public var irVersion: Int
    public var producer: String
    /// Operator set versions by domain ("" is the default ONNX domain).
    public var opsets: [String: Int]
    public var graph: Graph

    public init(contentsOf path: String) throws(ONNXError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(data: data)
    }

    public init(data: Data) throws(ONNXError) {
        let result: Result<ONNXModel, ONNXError> = data.withUnsafeBytes { bytes in
            do throws(ONNXError) {
                return .success(try ONNXModel.parse(bytes))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    private init(irVersion: Int, producer: String, opsets: [String: Int], graph: Graph) {
        self.irVersion = irVersion
        self.producer = producer
        self.opsets = opsets
        self.graph = graph
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer) throws(ONNXError) -> ONNXModel {
        var r = ProtobufReader(bytes: bytes, range: 0..<bytes.count, what: "ModelProto")
        var ir = 0, producer = ""
        var opsets: [String: Int] = [:]
        var graph: Graph?
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, .varint): ir = Int(truncatingIfNeeded: try r.varint())
            case (2, .lengthDelimited): producer = try r.string()
            case (7, .lengthDelimited):
                var g = try r.message("GraphProto")
                graph = try parseGraph(&g)
            case (8, .lengthDelimited):
                var o = try r.message("OperatorSetIdProto")
                var domain = "", version = 0
                while !o.atEnd {
                    let (f, w) = try o.tag()
                    switch (f, w) {
                    case (1, .lengthDelimited): domain = try o.string()
                    case (2, .varint): version = Int(truncatingIfNeeded: try o.varint())
                    default: try o.skip(w)
                    }
                }
                opsets[domain] = version
            default: try r.skip(wire)
            }
        }
        guard let graph else { throw .malformed(what: "ModelProto", offset: 0, reason: "the file has no graph (is it an ONNX model?)") }
        return ONNXModel(irVersion: ir, producer: producer, opsets: opsets, graph: graph)
    }

    private static func parseGraph(_ r: inout ProtobufReader) throws(ONNXError) -> Graph {
        var nodes: [Node] = []
        var initializers: [String: Tensor] = [:]
        var inputs: [String] = [], outputs: [String] = []
        var name = ""
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, .lengthDelimited):
                var n = try r.message("NodeProto")
                nodes.append(try parseNode(&n))
            case (2, .lengthDelimited): name = try r.string()
            case (5, .lengthDelimited):
                var t = try r.message("TensorProto")
                let (tensorName, tensor) = try parseTensor(&t)
                initializers[tensorName] = tensor
            case (11, .lengthDelimited), (12, .lengthDelimited):
                var v = try r.message("ValueInfoProto")
                var valueName = ""
                while !v.atEnd {
                    let (f, w) = try v.tag()
                    if f == 1, w == .lengthDelimited { valueName = try v.string() } else { try v.skip(w) }
                }
                if field == 11 { inputs.append(valueName) } else { outputs.append(valueName) }
            default: try r.skip(wire)
            }
        }
        // Older exporters list initializers among the inputs too.
        inputs.removeAll { initializers[$0] != nil }
        return Graph(name: name, nodes: nodes, initializers: initializers, inputs: inputs, outputs: outputs)
    }

    private static func parseNode(_ r: inout ProtobufReader) throws(ONNXError) -> Node {
        var node = Node(name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: [:])
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, .lengthDelimited): node.inputs.append(try r.string())
            case (2, .lengthDelimited): node.outputs.append(try r.string())
            case (3, .lengthDelimited): node.name = try r.string()
            case (4, .lengthDelimited): node.opType = try r.string()
            case (7, .lengthDelimited): node.domain = try r.string()
            case (5, .lengthDelimited):
                var a = try r.message("AttributeProto")
                let (key, value) = try parseAttribute(&a)
                node.attributes[key] = value
            default: try r.skip(wire)
            }
        }
        return node
    }

    private static func parseAttribute(_ r: inout ProtobufReader) throws(ONNXError) -> (String, Attribute) {
        var name = ""
        var type = 0
        var f: Float = 0, i: Int64 = 0, s = ""
        var floats: [Float] = [], ints: [Int64] = []
        var tensor: Tensor?
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, .lengthDelimited): name = try r.string()
            case (2, .fixed32): f = Float(bitPattern: try r.fixed32())
            case (3, .varint): i = Int64(bitPattern: try r.varint())
            case (4, .lengthDelimited): s = try r.string()
            case (5, .lengthDelimited):
                var t = try r.message("TensorProto")
                tensor = try parseTensor(&t).1
            case (7, _): try r.floats(wire, into: &floats)
            case (8, _): try r.int64s(wire, into: &ints)
            case (20, .varint): type = Int(truncatingIfNeeded: try r.varint())
            default: try r.skip(wire)
            }
        }
        // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
        let value: Attribute
        switch type {
        case 1: value = .float(f)
        case 2: value = .int(i)
        case 3: value = .string(s)
        case 4:
            guard let tensor else { throw .malformed(what: "AttributeProto", offset: r.base + r.position, reason: "attribute '\(name)' of type TENSOR has no tensor") }
            value = .tensor(tensor)
        case 6: value = .floats(floats)
        case 7: value = .ints(ints)
        default: value = .other(type)
        }
        return (name, value)
    }

    private static func parseTensor(_ r: inout ProtobufReader) throws(ONNXError) -> (String, Tensor) {
        var dims: [Int64] = []
        var dataType = 0
        var name = ""
        var raw: Range<Int>?
        var floatData: [Float] = []
        var int64Data: [Int64] = []
        var int32Data: [Int64] = []
        var external = false
        let start = r.base + r.position
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, _): try r.int64s(wire, into: &dims)
            case (2, .varint): dataType = Int(truncatingIfNeeded: try r.varint())
            case (4, _): try r.floats(wire, into: &floatData)
            case (5, _): try r.int64s(wire, into: &int32Data)
            case (7, _): try r.int64s(wire, into: &int64Data)
            case (8, .lengthDelimited): name = try r.string()
            case (9, .lengthDelimited): raw = try r.lengthDelimited()
            case (14, .varint): external = try r.varint() == 1
            default: try r.skip(wire)
            }
        }
        if external {
            throw .malformed(what: "TensorProto", offset: start, reason: "tensor '\(name)' keeps its data in an external file, which is not supported")
        }
        guard dims.allSatisfy({ $0 >= 0 }) else {
            throw .malformed(what: "TensorProto", offset: start, reason: "tensor '\(name)' has a negative dimension")
        }
        let shape = dims.map { Int($0) }
        let count = shape.reduce(1, *)
        let bytes = r.bytes
        func rawValues<T>(_ type: T.Type, width: Int) throws(ONNXError) -> [T]? {
            guard let raw else { return nil }
            guard raw.count == count * width else {
                throw .malformed(what: "TensorProto", offset: start, reason: "tensor '\(name)' has \(raw.count) bytes of data for \(count) values of \(width) bytes")
            }
            return (0..<count).map { bytes.loadUnaligned(fromByteOffset: raw.lowerBound + $0 * width, as: T.self) }
        }
        let tensor: Tensor
        switch dataType {
        case 1:  // FLOAT
            let values = try rawValues(UInt32.self, width: 4).map { $0.map { Float(bitPattern: UInt32(littleEndian: $0)) } } ?? floatData
            guard values.count == count else { throw countMismatch(name, values.count, count, start) }
            tensor = Tensor(shape: shape, floats: values)
        case 7:  // INT64
            let values = try rawValues(Int64.self, width: 8).map { $0.map { Int64(littleEndian: $0) } } ?? int64Data
            guard values.count == count else { throw countMismatch(name, values.count, count, start) }
            tensor = Tensor(shape: shape, int64s: values)
        case 6:  // INT32
            let values = try rawValues(Int32.self, width: 4).map { $0.map { Int64(Int32(littleEndian: $0)) } } ?? int32Data
            guard values.count == count else { throw countMismatch(name, values.count, count, start) }
            tensor = Tensor(shape: shape, int64s: values)
        default:
            throw .unsupportedDataType(tensor: name, dataType: dataType)
        }
        return (name, tensor)
    }

    private static func countMismatch(_ name: String, _ got: Int, _ expected: Int, _ offset: Int) -> ONNXError {
        .malformed(what: "TensorProto", offset: offset, reason: "tensor '\(name)' holds \(got) values, its shape needs \(expected)")
    }
}
