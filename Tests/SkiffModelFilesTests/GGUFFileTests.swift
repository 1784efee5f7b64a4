import Foundation
import Testing
@testable import SkiffModelFiles

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
/// Installed by tools/setup.sh.
let smolLMPath = repoRoot.appendingPathComponent("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path

/// Writes GGUF files byte by byte, following the format description, for the reader's tests.
struct GGUFBuilder {
    var version: UInt32 = 3
    var alignment = 32
    var metadata: [(String, [UInt8])] = []
    var tensors: [(name: String, dims: [UInt64], type: UInt32, data: [UInt8])] = []

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    mutating func add(_ key: String, u32 v: UInt32) { metadata.append((key, Self.le(UInt32(4)) + Self.le(v))) }
    mutating func add(_ key: String, f32 v: Float) { metadata.append((key, Self.le(UInt32(6)) + Self.le(v.bitPattern))) }
    mutating func add(_ key: String, string v: String) { metadata.append((key, Self.le(UInt32(8)) + Self.str(v))) }
    mutating func add(_ key: String, bool v: Bool) { metadata.append((key, Self.le(UInt32(7)) + [v ? 1 : 0])) }
    mutating func add(_ key: String, i64 v: Int64) { metadata.append((key, Self.le(UInt32(11)) + Self.le(v))) }
    mutating func add(_ key: String, f64 v: Double) { metadata.append((key, Self.le(UInt32(12)) + Self.le(v.bitPattern))) }
    mutating func add(_ key: String, strings: [String]) {
        metadata.append((key, Self.le(UInt32(9)) + Self.le(UInt32(8)) + Self.le(UInt64(strings.count)) + strings.flatMap(Self.str)))
    }
    mutating func add(_ key: String, i32s: [Int32]) {
        metadata.append((key, Self.le(UInt32(9)) + Self.le(UInt32(5)) + Self.le(UInt64(i32s.count)) + i32s.flatMap(Self.le)))
    }

    func bytes() -> [UInt8] {
        var out = Array("GGUF".utf8) + Self.le(version) + Self.le(UInt64(tensors.count)) + Self.le(UInt64(metadata.count))
        for (k, v) in metadata { out += Self.str(k) + v }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            out += Self.str(t.name) + Self.le(UInt32(t.dims.count)) + t.dims.flatMap(Self.le) + Self.le(t.type) + Self.le(UInt64(o))
        }
        out += [UInt8](repeating: 0, count: (alignment - out.count % alignment) % alignment)
        for (i, t) in tensors.enumerated() {
            out += t.data
            // Padding between tensors only: a file may end right after its last tensor.
            if i + 1 < tensors.count { out += [UInt8](repeating: 0, count: (alignment - t.data.count % alignment) % alignment) }
        }
        return out
    }
}

func temporaryFile(_ bytes: [UInt8], name: String = UUID().uuidString) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-\(name)")
    try Data(bytes).write(to: url)
    return url.path
}

/// A small valid file: an F32 matrix [2, 4] and a Q8_0 row of 32, alignment 64.
func smallGGUF(version: UInt32 = 3) -> GGUFBuilder {
    var b = GGUFBuilder(version: version, alignment: 64)
    b.add("general.architecture", string: "llama")
    b.add("general.alignment", u32: 64)
    b.add("llama.rope.freq_base", f32: 10000)
    b.add("test.flag", bool: true)
    b.add("test.i64", i64: -5)
    b.add("test.f64", f64: 0.25)
    b.add("test.names", strings: ["a", "bé", ""])
    b.add("test.ints", i32s: [3, -1])
    let matrix: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
    b.tensors.append(("w", [4, 2], 0, matrix.flatMap { GGUFBuilder.le($0.bitPattern) }))
    // Q8_0 block: fp16 scale 0.5 (0x3800), values 0...31.
    b.tensors.append(("q", [32], 8, [0x00, 0x38] + (0..<32).map { UInt8($0) }))
    return b
}

@Suite("GGUF reader")
struct GGUFFileTests {
    @Test func readsSmolLM2() throws {
        let file = try GGUFFile(path: smolLMPath)
        #expect(file.version == 3)
        #expect(file.entries.count == 272)
        #expect(file.metadata["general.architecture"]?.stringValue == "llama")
        #expect(file.metadata["tokenizer.ggml.merges"]?.arrayValue?.count == 48_900)
        let embedding = try file.tensor(named: "token_embd.weight")
        #expect(embedding.type == .q8_0 && embedding.shape == [49_152, 576])
        #expect(try file.tensor(named: "blk.0.attn_q.weight").type == .q4_1)
        #expect(try file.tensor(named: "blk.29.ffn_norm.weight").type == .f32)
        #expect(!file.contains("output.weight"))
        let types = Dictionary(grouping: file.entries, by: \.rawType).mapValues(\.count)
        #expect(types == [3: 210, 0: 61, 8: 1])
        let config = try ModelConfig(gguf: file)
        #expect(config == ModelConfig(
            architecture: "llama", layerCount: 30, hiddenSize: 576, intermediateSize: 1536, headCount: 9,
            kvHeadCount: 3, headDim: 64, ropeBase: 100_000, rmsNormEps: 1e-5, contextLength: 8192,
            vocabSize: 49_152, tiedEmbeddings: true, ropeStyle: .normal, attentionBias: false))
    }

    @Test(arguments: [UInt32(2), 3])
    func readsHandWrittenFile(version: UInt32) throws {
        let file = try GGUFFile(path: temporaryFile(smallGGUF(version: version).bytes()))
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(file.metadata["test.flag"] == .bool(true))
        #expect(file.metadata["test.i64"] == .int(-5))
        #expect(file.metadata["test.f64"] == .float(0.25))
        #expect(file.metadata["test.names"] == .array([.string("a"), .string("bé"), .string("")]))
        #expect(file.metadata["test.ints"] == .array([.int(3), .int(-1)]))
        let w = try file.tensor(named: "w")
        #expect(w.shape == [2, 4] && w.floats() == [1, 2, 3, 4, 5, 6, 7, 8])
        let q = try file.tensor(named: "q")
        #expect(q.floats() == (0..<32).map { Float($0) * 0.5 })
        #expect(throws: ModelFileError.tensorNotFound(name: "nope")) { try file.tensor(named: "nope") }
    }

    @Test func everyTruncationIsAnError() throws {
        let bytes = smallGGUF().bytes()
        for length in 0..<bytes.count {
            let path = try temporaryFile(Array(bytes.prefix(length)), name: "trunc")
            #expect(throws: ModelFileError.self, "length \(length)") { try GGUFFile(path: path) }
        }
    }

    @Test func truncatedDataNamesTheTensor() throws {
        let bytes = smallGGUF().bytes()
        let path = try temporaryFile(Array(bytes.dropLast(10)))
        do {
            _ = try GGUFFile(path: path)
            Issue.record("a truncated file was accepted")
        } catch {
            guard case let .tensorOutOfBounds(_, tensor, _, _, _) = error else { Issue.record("\(error)"); return }
            #expect(tensor == "q")
            #expect(error.description.contains("'q'"))
        }
    }

    @Test func truncatedSmolLM2NamesTheTensor() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: smolLMPath), options: .alwaysMapped)
        let path = try temporaryFile([UInt8](data.prefix(data.count / 2)), name: "half.gguf")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelFileError.self) { try GGUFFile(path: path) }
        do { _ = try GGUFFile(path: path) } catch {
            #expect(error.description.contains("blk."), "\(error)")
        }
    }

    @Test func rejectsCorruptHeaders() throws {
        var bytes = smallGGUF().bytes()
        bytes[0] = 0x58
        #expect(throws: ModelFileError.notGGUF(path: try temporaryFile(bytes, name: "magic"))) {
            try GGUFFile(path: try temporaryFile(bytes, name: "magic"))
        }
        var v1 = smallGGUF()
        v1.version = 1
        #expect(throws: ModelFileError.self) { try GGUFFile(path: try temporaryFile(v1.bytes())) }
        // A tensor count larger than the file.
        var huge = smallGGUF().bytes()
        huge.replaceSubrange(8..<16, with: GGUFBuilder.le(UInt64.max))
        #expect(throws: ModelFileError.self) { try GGUFFile(path: try temporaryFile(huge)) }
        // A string length pointing far past the end.
        var longString = smallGGUF().bytes()
        longString.replaceSubrange(24..<32, with: GGUFBuilder.le(UInt64(1) << 40))
        #expect(throws: ModelFileError.self) { try GGUFFile(path: try temporaryFile(longString)) }
    }

    @Test func unsupportedTypeIsReportedForThatTensor() throws {
        var b = smallGGUF()
        b.tensors.append(("k", [256], 12, [UInt8](repeating: 0, count: 144)))  // Q4_K
        let file = try GGUFFile(path: temporaryFile(b.bytes()))
        #expect(throws: ModelFileError.self) { try file.tensor(named: "k") }
        do { _ = try file.tensor(named: "k") } catch { #expect(error.description.contains("'k'") && error.description.contains("Q4_K")) }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let bytes = smallGGUF().bytes()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var copy = bytes
            for _ in 0..<4 { copy[Int.random(in: 0..<copy.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            if let file = try? GGUFFile(path: temporaryFile(copy, name: "fuzz")) {
                for name in file.tensorNames { _ = try? file.tensor(named: name).floats() }
            }
        }
    }
}
