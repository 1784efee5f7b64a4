import Foundation

/// Architecture hyper-parameters of a Llama-family decoder (Llama, SmolLM2,
/// Mistral/Danube, Qwen2), read from GGUF metadata or a Hugging Face `config.json`.
public struct ModelConfig: Sendable, Equatable {
    public enum RopeStyle: Sendable, Equatable {
        /// Rotates adjacent pairs (2i, 2i+1): llama.cpp's Llama GGUF files, whose Q/K are permuted.
        case normal
        /// Rotates (i, i + d/2): Hugging Face weights and Qwen2 GGUF files.
        case neox
    }

    public var architecture: String
    public var layerCount: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var ropeBase: Float
    public var rmsNormEps: Float
    public var contextLength: Int
    public var vocabSize: Int
    public var tiedEmbeddings: Bool
    public var ropeStyle: RopeStyle
    /// Qwen2 adds biases to the Q, K and V projections.
    public var attentionBias: Bool

    public init(architecture: String, layerCount: Int, hiddenSize: Int, intermediateSize: Int, headCount: Int,
                kvHeadCount: Int, headDim: Int, ropeBase: Float, rmsNormEps: Float, contextLength: Int,
                vocabSize: Int, tiedEmbeddings: Bool, ropeStyle: RopeStyle, attentionBias: Bool) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.ropeBase = ropeBase
        self.rmsNormEps = rmsNormEps
        self.contextLength = contextLength
        self.vocabSize = vocabSize
        self.tiedEmbeddings = tiedEmbeddings
        self.ropeStyle = ropeStyle
        self.attentionBias = attentionBias
    }

    /// Reads `{arch}.*` keys of a GGUF file.
    public init(gguf: GGUFFile) throws(ModelFileError) {
        let m = gguf.metadata
        guard let arch = m["general.architecture"]?.stringValue else {
            throw .missingKey(key: "general.architecture", source: gguf.path)
        }
        func int(_ key: String) throws(ModelFileError) -> Int {
            guard let v = m["\(arch).\(key)"]?.intValue, v > 0 else { throw .missingKey(key: "\(arch).\(key)", source: gguf.path) }
            return v
        }
        let heads = try int("attention.head_count")
        let hidden = try int("embedding_length")
        let vocab = m["tokenizer.ggml.tokens"]?.arrayValue?.count ?? m["\(arch).vocab_size"]?.intValue ?? 0
        self.init(
            architecture: arch, layerCount: try int("block_count"), hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"), headCount: heads,
            kvHeadCount: m["\(arch).attention.head_count_kv"]?.intValue ?? heads,
            headDim: m["\(arch).attention.key_length"]?.intValue ?? m["\(arch).rope.dimension_count"]?.intValue ?? hidden / heads,
            ropeBase: Float(m["\(arch).rope.freq_base"]?.doubleValue ?? 10000),
            rmsNormEps: Float(m["\(arch).attention.layer_norm_rms_epsilon"]?.doubleValue ?? 1e-5),
            contextLength: m["\(arch).context_length"]?.intValue ?? 4096, vocabSize: vocab,
            tiedEmbeddings: !gguf.contains("output.weight"),
            ropeStyle: arch == "llama" || arch == "mistral" ? .normal : .neox,
            attentionBias: gguf.contains("blk.0.attn_q.bias"))
        guard Set(["llama", "mistral", "qwen2"]).contains(arch) else {
            throw .malformed(path: gguf.path, what: "architecture '\(arch)' is not supported (llama, mistral, qwen2)")
        }
    }

    /// Reads a Hugging Face `config.json`; for a vision-language model the language
    /// model's section (`llm_config` or `text_config`) is used.
    public init(configJSON path: String) throws(ModelFileError) {
        guard let data = FileManager.default.contents(atPath: path),
              var json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw .cannotOpen(path: path, reason: "not a readable JSON object") }
        if let inner = (json["llm_config"] ?? json["text_config"]) as? [String: Any] { json = inner }
        func int(_ key: String) throws(ModelFileError) -> Int {
            guard let v = json[key] as? Int, v > 0 else { throw .missingKey(key: key, source: path) }
            return v
        }
        func double(_ key: String, _ fallback: Double) -> Double {
            (json[key] as? Double) ?? (json[key] as? Int).map(Double.init) ?? fallback
        }
        let modelType = json["model_type"] as? String ?? "llama"
        guard Set(["llama", "mistral", "qwen2"]).contains(modelType) else {
            throw .malformed(path: path, what: "model_type '\(modelType)' is not supported (llama, mistral, qwen2)")
        }
        let heads = try int("num_attention_heads")
        let hidden = try int("hidden_size")
        self.init(
            architecture: modelType, layerCount: try int("num_hidden_layers"), hiddenSize: hidden,
            intermediateSize: try int("intermediate_size"), headCount: heads,
            kvHeadCount: json["num_key_value_heads"] as? Int ?? heads,
            headDim: json["head_dim"] as? Int ?? hidden / heads,
            ropeBase: Float(double("rope_theta", 10000)), rmsNormEps: Float(double("rms_norm_eps", 1e-6)),
            contextLength: json["max_position_embeddings"] as? Int ?? 4096, vocabSize: try int("vocab_size"),
            tiedEmbeddings: json["tie_word_embeddings"] as? Bool ?? false, ropeStyle: .neox,
            attentionBias: modelType == "qwen2" || (json["attention_bias"] as? Bool ?? false))
    }
}
