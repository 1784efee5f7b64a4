import Foundation
import Testing
@testable import SkiffModelFiles

/// Writes a safetensors file: 8-byte header length, JSON header, data.
func safetensorsBytes(_ tensors: [(String, String, [Int], [UInt8])], headerOverride: String? = nil) -> [UInt8] {
    var entries: [String] = []
    var data: [UInt8] = []
    for (name, dtype, shape, bytes) in tensors {
        entries.append("\"\(name)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": [\(data.count), \(data.count + bytes.count)]}")
        data += bytes
    }
    let header = Array((headerOverride ?? "{\"__metadata__\": {\"format\": \"pt\"}, " + entries.joined(separator: ", ") + "}").utf8)
    return GGUFBuilder.le(UInt64(header.count)) + header + data
}

let f32Bytes: [UInt8] = [Float(1.5), -2, 3, 4].flatMap { GGUFBuilder.le($0.bitPattern) }
let f16Bytes: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]  // 1.0, -2.0
let bf16Bytes: [UInt8] = [0x80, 0x3F, 0x40, 0x40]  // 1.0, 3.0

@Suite("safetensors reader and config.json")
struct SafetensorsFileTests {
    @Test func readsF32F16BF16() throws {
        let path = try temporaryFile(safetensorsBytes([("a", "F32", [2, 2], f32Bytes), ("h", "F16", [2], f16Bytes), ("b", "BF16", [2], bf16Bytes), ("i", "I64", [1], [UInt8](repeating: 1, count: 8))]))
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata["format"] == "pt")
        #expect(try file.tensor(named: "a").floats() == [1.5, -2, 3, 4])
        #expect(try file.tensor(named: "a").shape == [2, 2])
        #expect(try file.tensor(named: "h").floats() == [1, -2])
        #expect(try file.tensor(named: "b").floats() == [1, 3])
        #expect(throws: ModelFileError.self) { try file.tensor(named: "i") }
    }

    @Test func rejectsBadFiles() throws {
        let good = safetensorsBytes([("a", "F32", [2, 2], f32Bytes)])
        for length in 0..<good.count {
            #expect(throws: ModelFileError.self, "length \(length)") { try SafetensorsFile(path: try temporaryFile(Array(good.prefix(length)), name: "st")) }
        }
        do {
            _ = try SafetensorsFile(path: try temporaryFile(Array(good.dropLast(1))))
        } catch { #expect("\(error)".contains("'a'")) }
        // Shape and byte count disagree.
        #expect(throws: ModelFileError.self) { try SafetensorsFile(path: try temporaryFile(safetensorsBytes([("a", "F32", [3], f32Bytes)]))) }
        // Header is not JSON.
        #expect(throws: ModelFileError.self) { try SafetensorsFile(path: try temporaryFile(safetensorsBytes([], headerOverride: "{nope"))) }
        // Offsets outside the data.
        #expect(throws: ModelFileError.self) {
            try SafetensorsFile(path: try temporaryFile(safetensorsBytes([], headerOverride: "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 400]}}")))
        }
    }

    @Test func readsShardedFolderAndConfig() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-sharded-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(safetensorsBytes([("x", "F32", [4], f32Bytes)])).write(to: dir.appendingPathComponent("m-1.safetensors"))
        try Data(safetensorsBytes([("y", "F16", [2], f16Bytes)])).write(to: dir.appendingPathComponent("m-2.safetensors"))
        try Data(#"{"weight_map": {"x": "m-1.safetensors", "y": "m-2.safetensors"}}"#.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let folder = try SafetensorsFolder(path: dir.path)
        #expect(folder.tensorNames == ["x", "y"])
        #expect(try folder.tensor(named: "y").floats() == [1, -2])
        // InternVL-style config: the language model's settings sit under llm_config.
        try Data(#"{"model_type": "internvl_chat", "llm_config": {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "vocab_size": 151655, "max_position_embeddings": 32768, "tie_word_embeddings": false}}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        let config = try ModelConfig(configJSON: dir.appendingPathComponent("config.json").path)
        #expect(config.architecture == "qwen2" && config.headDim == 64 && config.kvHeadCount == 2 && config.attentionBias)
        #expect(config.ropeBase == 1_000_000 && config.ropeStyle == .neox && config.vocabSize == 151_655)
        try Data(#"{"model_type": "gemma", "hidden_size": 8}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        #expect(throws: ModelFileError.self) { try ModelConfig(configJSON: dir.appendingPathComponent("config.json").path) }
    }
}
