import Foundation
public import SkiffModelFiles
public import SkiffTokenizer

/// The weights of one transformer block.
public struct LayerWeights: Sendable {
    let attentionNorm: [Float]
    let q: WeightMatrix, k: WeightMatrix, v: WeightMatrix, o: WeightMatrix
    let qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
    let ffnNorm: [Float]
    let gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix
}

/// A Llama-family decoder (Llama/SmolLM2, Mistral/H2O-Danube, Qwen2) loaded from a
/// GGUF file or a Hugging Face safetensors folder, with its tokenizer when the
/// files carry one. Immutable and shareable; generation state lives in `DecoderSession`.
public final class LlamaModel: Sendable {
    public let config: ModelConfig
    public let tokenizer: BPETokenizer?
    let embedding: WeightMatrix
    let layers: [LayerWeights]
    let outputNorm: [Float]
    let output: WeightMatrix

    /// Opens `path`: a `.gguf` file, or a folder with `config.json` and safetensors weights.
    /// - Parameter layout: how far the quantized matrices are rewritten for the kernels (the
    ///   same bits either way).
    public convenience init(path: String, layout: WeightLayout = .standard) throws(DecoderError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .noModel(path: path) }
        if isDirectory.boolValue {
            try self.init(safetensorsFolder: path, layout: layout)
        } else {
            try self.init(ggufPath: path, layout: layout)
        }
    }

    public convenience init(ggufPath: String, layout: WeightLayout = .standard) throws(DecoderError) {
        let file: GGUFFile
        let config: ModelConfig
        do {
            file = try GGUFFile(path: ggufPath)
            config = try ModelConfig(gguf: file)
        } catch { throw .modelFile(error) }
        var tokenizer: BPETokenizer?
        if file.metadata["tokenizer.ggml.model"] != nil {
            do { tokenizer = try BPETokenizer(gguf: file) } catch { throw .tokenizer(error) }
        }
        try self.init(config: config, source: file, names: .gguf, tokenizer: tokenizer, layout: layout)
    }

    public convenience init(safetensorsFolder path: String, layout: WeightLayout = .standard) throws(DecoderError) {
        let folder: SafetensorsFolder
        let config: ModelConfig
        do {
            config = try ModelConfig(configJSON: path + "/config.json")
            folder = try SafetensorsFolder(path: path)
        } catch { throw .modelFile(error) }
        var tokenizer: BPETokenizer?
        if FileManager.default.fileExists(atPath: path + "/tokenizer.json") {
            do { tokenizer = try BPETokenizer(tokenizerJSON: path + "/tokenizer.json") } catch { throw .tokenizer(error) }
        }
        // Vision-language checkpoints keep the language model under a prefix.
        let prefix = ["", "language_model.", "model.language_model."].first {
            folder.contains($0 + "model.embed_tokens.weight")
        } ?? ""
        try self.init(config: config, source: folder, names: .huggingFace(prefix: prefix), tokenizer: tokenizer,
                      layout: layout)
    }

    enum Names {
        case gguf
        case huggingFace(prefix: String)

        func name(_ gguf: String, _ hf: String, layer: Int? = nil) -> String {
            switch self {
            case .gguf: layer.map { "blk.\($0).\(gguf)" } ?? gguf
            case let .huggingFace(prefix): prefix + (layer.map { "model.layers.\($0).\(hf)" } ?? hf)
            }
        }
    }

    init(config: ModelConfig, source: any TensorSource, names: Names, tokenizer: BPETokenizer?,
         layout: WeightLayout) throws(DecoderError) {
        self.config = config
        self.tokenizer = tokenizer
        let c = config
        let arena = PackedArena()
        func tensor(_ name: String) throws(DecoderError) -> Tensor {
            do { return try source.tensor(named: name) } catch { throw .modelFile(error) }
        }
        func matrix(_ g: String, _ h: String, layer: Int? = nil, rows: Int, cols: Int,
                    perHead: Bool = false) throws(DecoderError) -> WeightMatrix {
            let m = try WeightMatrix(tensor(names.name(g, h, layer: layer)), rows: rows, cols: cols, layout: layout,
                                     sixteenRows: !perHead || c.headDim % 16 == 0, arena: arena)
            if m.type != .f32 && cols % 32 != 0 {
                throw .unsupportedWeight(tensor: m.name, type: m.type, reason: "row length \(cols) is not a multiple of 32")
            }
            return m
        }
        func vector(_ g: String, _ h: String, layer: Int? = nil, count: Int) throws(DecoderError) -> [Float] {
            let t = try tensor(names.name(g, h, layer: layer))
            guard t.elementCount == count, t.shape.count == 1 else {
                throw .modelFile(.wrongShape(tensor: t.name, expected: [count], actual: t.shape))
            }
            return t.floats()
        }
        func optionalVector(_ g: String, _ h: String, layer: Int, count: Int) throws(DecoderError) -> [Float]? {
            source.contains(names.name(g, h, layer: layer)) ? try vector(g, h, layer: layer, count: count) : nil
        }
        guard c.headCount % c.kvHeadCount == 0, c.headDim % 2 == 0 else {
            throw .invalidInput("\(c.headCount) heads cannot be grouped over \(c.kvHeadCount) KV heads of dimension \(c.headDim)")
        }
        let qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        embedding = try matrix("token_embd.weight", "model.embed_tokens.weight", rows: c.vocabSize, cols: c.hiddenSize)
        var layers: [LayerWeights] = []
        for i in 0..<c.layerCount {
            layers.append(LayerWeights(
                attentionNorm: try vector("attn_norm.weight", "input_layernorm.weight", layer: i, count: c.hiddenSize),
                q: try matrix("attn_q.weight", "self_attn.q_proj.weight", layer: i, rows: qDim, cols: c.hiddenSize,
                           perHead: true),
                k: try matrix("attn_k.weight", "self_attn.k_proj.weight", layer: i, rows: kvDim, cols: c.hiddenSize,
                           perHead: true),
                v: try matrix("attn_v.weight", "self_attn.v_proj.weight", layer: i, rows: kvDim, cols: c.hiddenSize,
                           perHead: true),
                o: try matrix("attn_output.weight", "self_attn.o_proj.weight", layer: i, rows: c.hiddenSize, cols: qDim),
                qBias: try optionalVector("attn_q.bias", "self_attn.q_proj.bias", layer: i, count: qDim),
                kBias: try optionalVector("attn_k.bias", "self_attn.k_proj.bias", layer: i, count: kvDim),
                vBias: try optionalVector("attn_v.bias", "self_attn.v_proj.bias", layer: i, count: kvDim),
                ffnNorm: try vector("ffn_norm.weight", "post_attention_layernorm.weight", layer: i, count: c.hiddenSize),
                gate: try matrix("ffn_gate.weight", "mlp.gate_proj.weight", layer: i, rows: c.intermediateSize, cols: c.hiddenSize),
                up: try matrix("ffn_up.weight", "mlp.up_proj.weight", layer: i, rows: c.intermediateSize, cols: c.hiddenSize),
                down: try matrix("ffn_down.weight", "mlp.down_proj.weight", layer: i, rows: c.hiddenSize, cols: c.intermediateSize)))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", "model.norm.weight", count: c.hiddenSize)
        let outputName = names.name("output.weight", "lm_head.weight")
        if source.contains(outputName) {
            output = try matrix("output.weight", "lm_head.weight", rows: c.vocabSize, cols: c.hiddenSize)
        } else {
            output = embedding  // tied embeddings
        }
    }

    /// The layouts its products read ("x16", "x4", "gguf"), for benchmark reports.
    public var productLayouts: String {
        var seen: [String] = []
        for m in [output] + layers.flatMap({ [$0.q, $0.k, $0.v, $0.o, $0.gate, $0.up, $0.down] })
        where !seen.contains(m.layout) {
            seen.append(m.layout)
        }
        return seen.joined(separator: ", ")
    }

    /// Weight bytes read to produce one token (every matrix once; the embedding row is negligible).
    public var weightBytesPerToken: Int {
        var total = output.byteCount
        for l in layers {
            total += [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce(0) { $0 + $1.byteCount }
            total += (l.attentionNorm.count + l.ffnNorm.count) * 4
        }
        return total + outputNorm.count * 4
    }
}
