import CSkiffKernels
import Foundation
import SkiffDecoder
import SkiffModelFiles

/// The shapes of a published checkpoint, for a benchmark model with random weights.
public struct VisionModelShape: Sendable {
    public var name: String
    public var visionHidden = 1024, visionIntermediate = 4096, visionHeads = 16, visionLayers = 24
    public var patch = 14, imageSize = 448
    public var llmType: String
    public var llmHidden: Int, llmIntermediate: Int, llmLayers: Int, llmHeads: Int, llmKVHeads: Int, vocab: Int
    public var ropeTheta: Double
    public var template: String

    /// InternVL2-1B: InternViT-300M-448px + Qwen2-0.5B (the 0.5B decoder of the family).
    public static let internVL2_1B = VisionModelShape(
        name: "InternVL2-1B shapes (InternViT-300M + Qwen2-0.5B)", llmType: "qwen2", llmHidden: 896, llmIntermediate: 4864,
        llmLayers: 24, llmHeads: 14, llmKVHeads: 2, vocab: 151_655, ropeTheta: 1_000_000, template: "Hermes-2")
}

/// `skiff bench vision`: a full-size model with random BF16 weights written in the published
/// layout, loaded through the normal loader, then timed.
public enum VisionBenchmark {
    /// Writes config.json, two BF16 shards and the index (random values; LayerNorm weights 1).
    public static func writeRandomModel(_ s: VisionModelShape, to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let c = s.visionHidden, i = s.visionIntermediate, h = s.llmHidden, f = s.llmIntermediate
        let grid = s.imageSize / s.patch
        let kv = s.llmKVHeads * (h / s.llmHeads)
        var vision: [(String, [Int], Bool)] = [
            ("vision_model.embeddings.patch_embedding.weight", [c, 3, s.patch, s.patch], false),
            ("vision_model.embeddings.patch_embedding.bias", [c], false),
            ("vision_model.embeddings.class_embedding", [1, 1, c], false),
            ("vision_model.embeddings.position_embedding", [1, grid * grid + 1, c], false),
        ]
        for l in 0..<s.visionLayers {
            let p = "vision_model.encoder.layers.\(l)."
            vision += [(p + "norm1.weight", [c], true), (p + "norm1.bias", [c], false),
                       (p + "attn.qkv.weight", [3 * c, c], false), (p + "attn.qkv.bias", [3 * c], false),
                       (p + "attn.proj.weight", [c, c], false), (p + "attn.proj.bias", [c], false), (p + "ls1", [c], true),
                       (p + "norm2.weight", [c], true), (p + "norm2.bias", [c], false),
                       (p + "mlp.fc1.weight", [i, c], false), (p + "mlp.fc1.bias", [i], false),
                       (p + "mlp.fc2.weight", [c, i], false), (p + "mlp.fc2.bias", [c], false), (p + "ls2", [c], true)]
        }
        vision += [("mlp1.0.weight", [4 * c], true), ("mlp1.0.bias", [4 * c], false),
                   ("mlp1.1.weight", [h, 4 * c], false), ("mlp1.1.bias", [h], false),
                   ("mlp1.3.weight", [h, h], false), ("mlp1.3.bias", [h], false)]
        var language: [(String, [Int], Bool)] = [
            ("language_model.model.embed_tokens.weight", [s.vocab, h], false),
            ("language_model.model.norm.weight", [h], true), ("language_model.lm_head.weight", [s.vocab, h], false),
        ]
        for l in 0..<s.llmLayers {
            let p = "language_model.model.layers.\(l)."
            language += [(p + "input_layernorm.weight", [h], true), (p + "post_attention_layernorm.weight", [h], true),
                         (p + "self_attn.q_proj.weight", [h, h], false), (p + "self_attn.k_proj.weight", [kv, h], false),
                         (p + "self_attn.v_proj.weight", [kv, h], false), (p + "self_attn.o_proj.weight", [h, h], false),
                         (p + "mlp.gate_proj.weight", [f, h], false), (p + "mlp.up_proj.weight", [f, h], false),
                         (p + "mlp.down_proj.weight", [h, f], false)]
            if s.llmType == "qwen2" {
                language += [(p + "self_attn.q_proj.bias", [h], false), (p + "self_attn.k_proj.bias", [kv], false),
                             (p + "self_attn.v_proj.bias", [kv], false)]
            }
        }
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        var map: [String: String] = [:]
        for (shard, tensors) in [("model-00001-of-00002.safetensors", vision), ("model-00002-of-00002.safetensors", language)] {
            try writeShard(folder + "/" + shard, tensors, rng: &rng)
            for t in tensors { map[t.0] = shard }
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map], options: [.sortedKeys])
        try index.write(to: URL(fileURLWithPath: folder + "/model.safetensors.index.json"))
        let llm: [String: Any] = [
            "architectures": [s.llmType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], "model_type": s.llmType,
            "hidden_size": h, "intermediate_size": f, "num_hidden_layers": s.llmLayers, "num_attention_heads": s.llmHeads,
            "num_key_value_heads": s.llmKVHeads, "rope_theta": s.ropeTheta, "rms_norm_eps": 1e-6, "vocab_size": s.vocab,
            "max_position_embeddings": 32768, "tie_word_embeddings": false]
        let visionConfig: [String: Any] = [
            "hidden_size": c, "intermediate_size": i, "num_attention_heads": s.visionHeads, "num_hidden_layers": s.visionLayers,
            "patch_size": s.patch, "image_size": s.imageSize, "layer_norm_eps": 1e-6, "norm_type": "layer_norm",
            "qkv_bias": true, "qk_normalization": false, "hidden_act": "gelu"]
        let config: [String: Any] = [
            "architectures": ["InternVLChatModel"], "model_type": "internvl_chat", "downsample_ratio": 0.5,
            "force_image_size": s.imageSize, "max_dynamic_patch": 12, "min_dynamic_patch": 1, "ps_version": "v2",
            "select_layer": -1, "template": s.template, "use_thumbnail": true, "dynamic_image_size": true,
            "vision_config": visionConfig, "llm_config": llm]
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted])
            .write(to: URL(fileURLWithPath: folder + "/config.json"))
    }

    /// One BF16 safetensors file; values uniform in ±0.04 (±0.02 for the embeddings), `ones` tensors around 1.
    static func writeShard(_ path: String, _ tensors: [(String, [Int], Bool)], rng: inout UInt64) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, shape, _) in tensors {
            let bytes = shape.reduce(1, *) * 2
            header[name] = ["dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var length = UInt64(json.count).littleEndian
        try handle.write(contentsOf: Data(bytes: &length, count: 8))
        try handle.write(contentsOf: json)
        for (_, shape, ones) in tensors {
            var remaining = shape.reduce(1, *)
            while remaining > 0 {
                let n = min(remaining, 1 << 22)
                var chunk = [UInt16](repeating: 0, count: n)
                for k in 0..<n {
                    rng ^= rng << 13
                    rng ^= rng >> 7
                    rng ^= rng << 17
                    let u = Float(rng >> 40) / Float(1 << 24) - 0.5  // [-0.5, 0.5)
                    let v: Float = ones ? 1 + 0.2 * u : 0.08 * u
                    chunk[k] = UInt16(truncatingIfNeeded: v.bitPattern >> 16)
                }
                try chunk.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
                remaining -= n
            }
        }
    }

    /// One timing figure.
    public struct Figure: Sendable {
        public var name: String
        public var value: Double
        public var unit: String
    }

    /// Times the encoder (per tile, at each thread count), the same sequence of products alone
    /// (the sgemm bound, in the same run), the prefill of 256·tiles image tokens and generation.
    public static func run(folder: String, tiles: Int, threadCounts: [Int], generate: Int,
                           log: (String) -> Void) throws -> [Figure] {
        var figures: [Figure] = []
        let clock = ContinuousClock()
        var started = clock.now
        let config = try VisionConfig(configJSON: folder + "/config.json")
        let decoder = try LlamaModel(safetensorsFolder: folder)
        let encoder = try VisionEncoder(config: config, source: try SafetensorsFolder(path: folder),
                                        outputSize: decoder.config.hiddenSize)
        figures.append(Figure(name: "load (BF16 -> F32)", value: (clock.now - started).seconds, unit: "s"))
        log(String(format: "loaded in %.1f s; OpenBLAS core %@; %.1f GFLOP per tile", figures[0].value,
                   String(cString: skiff_vision_blas_core()), encoder.flopsPerTile / 1e9))
        let size = config.imageSize
        var pixels = [Float](repeating: 0, count: tiles * 3 * size * size)
        for k in pixels.indices { pixels[k] = Float((k * 7919) % 255) / 127.5 - 1 }
        var embeddings: [Float] = []
        for t in threadCounts {
            started = clock.now
            var cpu = processCPUSeconds()
            let out = try encoder.encode(pixels, tiles: tiles, batch: tiles, threads: t)
            let seconds = (clock.now - started).seconds / Double(tiles)
            let cpuSeconds = (processCPUSeconds() - cpu) / Double(tiles)
            embeddings = out.embeddings
            started = clock.now
            cpu = processCPUSeconds()
            encoder.productsOnly(tiles: tiles, threads: t)
            let bound = (clock.now - started).seconds / Double(tiles)
            let boundCPU = (processCPUSeconds() - cpu) / Double(tiles)
            figures.append(Figure(name: "encoder, \(t) thread(s)", value: seconds, unit: "s/tile"))
            figures.append(Figure(name: "sgemm bound, \(t) thread(s)", value: bound, unit: "s/tile"))
            figures.append(Figure(name: "encoder CPU time, \(t) thread(s)", value: cpuSeconds, unit: "s/tile"))
            figures.append(Figure(name: "sgemm bound CPU time, \(t) thread(s)", value: boundCPU, unit: "s/tile"))
            log(String(format: "encoder %d thread(s): %.2f s per tile (CPU %.2f s); its products alone %.2f s per tile (CPU %.2f s, %.0f GFLOP/s wall); ratio %.2f wall, %.2f CPU",
                       t, seconds, cpuSeconds, bound, boundCPU, encoder.flopsPerTile / bound / 1e9, seconds / bound,
                       cpuSeconds / boundCPU))
        }
        let hidden = decoder.config.hiddenSize
        let imageTokens = tiles * config.tokensPerTile
        let text = [151_644, 872, 198, 151_645]  // a few ids; any in the vocabulary do
        for t in threadCounts {
            let session = DecoderSession(model: decoder, capacity: imageTokens + 2 * text.count + generate + 1, threads: t,
                                         batchSize: 256)
            skiff_vision_set_blas_threads(Int32(t))
            started = clock.now
            var logits = try session.prefill([.tokens(text), .embeddings(embeddings, count: embeddings.count / hidden), .tokens(text)])
            let prefill = (clock.now - started).seconds
            let promptTokens = session.position
            started = clock.now
            for _ in 0..<generate {
                logits = try session.step(Sampler.argmax(logits) ?? 0)
            }
            let gen = (clock.now - started).seconds
            figures.append(Figure(name: "prefill \(promptTokens) tokens (\(imageTokens) image), \(t) thread(s)",
                                  value: Double(promptTokens) / prefill, unit: "tok/s"))
            figures.append(Figure(name: "generation, \(t) thread(s)", value: Double(generate) / gen, unit: "tok/s"))
            log(String(format: "decoder %d thread(s): prefill %d tokens in %.2f s (%.1f tok/s); %d generated tokens %.1f tok/s",
                       t, promptTokens, prefill, Double(promptTokens) / prefill, generate, Double(generate) / gen))
        }
        return figures
    }
}

/// CPU seconds of every thread of this process so far (the machine is shared: wall time
/// includes waiting for a core, CPU time does not).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

extension VisionEncoder {
    /// The encoder's matrix products for `tiles` tiles, with the same shapes and in the same
    /// order, and nothing else: the time OpenBLAS alone needs (the bound for `encode`).
    public func productsOnly(tiles: Int, threads: Int) {
        skiff_vision_set_blas_threads(Int32(threads))
        let c = config.hiddenSize, inner = config.intermediateSize, p = config.patchSize
        let grid = config.patchGrid, seq = grid * grid + 1, rows = tiles * seq, width = 3 * p * p
        let heads = config.headCount, d = config.headDim
        let merged = c * config.shuffleFactor * config.shuffleFactor, tokens = tiles * config.tokensPerTile
        var a = [Float](repeating: 0.01, count: rows * max(inner, 3 * c, width))
        var b = [Float](repeating: 0.01, count: max(inner * c, seq * seq, outputSize * merged))
        var out = [Float](repeating: 0, count: rows * max(inner, 3 * c))
        a.withUnsafeMutableBufferPointer { ab in
            b.withUnsafeMutableBufferPointer { bb in
                out.withUnsafeMutableBufferPointer { ob in
                    let a = ab.baseAddress!, b = bb.baseAddress!, o = ob.baseAddress!
                    for _ in 0..<tiles {
                        skiff_sgemm_nt(Int64(grid * grid), Int64(c), Int64(width), 1, a, Int64(width), b, Int64(width), 0, o, Int64(c))
                    }
                    let r = Int64(rows), cc = Int64(c)
                    for _ in 0..<config.usedLayers {
                        skiff_sgemm_nt(r, 3 * cc, cc, 1, a, cc, b, cc, 0, o, 3 * cc)
                        for _ in 0..<tiles * heads {
                            skiff_sgemm_nt(Int64(seq), Int64(seq), Int64(d), 1, a, 3 * cc, a, 3 * cc, 0, b, Int64(seq))
                            skiff_sgemm_nn(Int64(seq), Int64(d), Int64(seq), 1, b, Int64(seq), a, 3 * cc, 0, o, cc)
                        }
                        skiff_sgemm_nt(r, cc, cc, 1, a, cc, b, cc, 0, o, cc)
                        skiff_sgemm_nt(r, Int64(inner), cc, 1, a, cc, b, cc, 0, o, Int64(inner))
                        skiff_sgemm_nt(r, cc, Int64(inner), 1, a, Int64(inner), b, Int64(inner), 0, o, cc)
                    }
                    let h = Int64(outputSize)
                    skiff_sgemm_nt(Int64(tokens), h, Int64(merged), 1, a, Int64(merged), b, Int64(merged), 0, o, h)
                    skiff_sgemm_nt(Int64(tokens), h, h, 1, a, h, b, h, 0, o, h)
                }
            }
        }
    }
}
