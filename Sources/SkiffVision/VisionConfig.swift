import Foundation
public import SkiffImage

/// Errors loading or running a vision-language model. Messages name the file or tensor.
public enum VisionError: Error, Sendable, CustomStringConvertible {
    case notAModel(path: String, reason: String)
    case config(path: String, what: String)
    case unsupported(String)
    case weights(String)
    case prompt(String)
    case generation(String)

    public var description: String {
        switch self {
        case let .notAModel(path, reason): "\(path) is not a vision-language model folder: \(reason)"
        case let .config(path, what): "\(path): \(what)"
        case let .unsupported(what): "unsupported model: \(what)"
        case let .weights(what): "weights: \(what)"
        case let .prompt(what): "prompt: \(what)"
        case let .generation(what): "generation: \(what)"
        }
    }
}

/// The InternViT encoder's shape and the InternVL keys around it, all read from
/// `config.json` (`vision_config` and the top level); nothing is assumed from the model's name.
public struct VisionConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var headCount: Int
    public var layerCount: Int
    public var patchSize: Int
    /// The encoder's native input side (448).
    public var imageSize: Int
    public var layerNormEps: Float
    /// Layers actually run: `select_layer` -1 is the last one, -2 the one before, ...
    public var usedLayers: Int
    /// Pixel shuffle factor: 1 / `downsample_ratio` (2: each output token is a 2x2 block).
    public var shuffleFactor: Int
    /// `ps_version` v1 leaves the shuffled grid transposed (as the original code does).
    public var transposedShuffle: Bool
    /// The conversation template name (`Hermes-2`, `h2ogpt2`, ...).
    public var template: String
    public var tiling: TilingConfiguration
    public var modelType: String

    /// Tokens per tile after the pixel shuffle (256 for 448 px, patch 14, ratio 0.5).
    public var tokensPerTile: Int {
        let grid = imageSize / patchSize / shuffleFactor
        return grid * grid
    }
    public var patchGrid: Int { imageSize / patchSize }
    public var headDim: Int { hiddenSize / headCount }

    public init(hiddenSize: Int, intermediateSize: Int, headCount: Int, layerCount: Int, patchSize: Int,
                imageSize: Int, layerNormEps: Float, usedLayers: Int, shuffleFactor: Int, transposedShuffle: Bool,
                template: String, tiling: TilingConfiguration, modelType: String) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.headCount = headCount
        self.layerCount = layerCount
        self.patchSize = patchSize
        self.imageSize = imageSize
        self.layerNormEps = layerNormEps
        self.usedLayers = usedLayers
        self.shuffleFactor = shuffleFactor
        self.transposedShuffle = transposedShuffle
        self.template = template
        self.tiling = tiling
        self.modelType = modelType
    }

    /// Reads an InternVL2 / H2OVL `config.json`.
    public init(configJSON path: String) throws(VisionError) {
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw .notAModel(path: path, reason: "no readable config.json") }
        guard let vision = json["vision_config"] as? [String: Any] else {
            throw .notAModel(path: path, reason: "config.json has no vision_config (a text-only model?)")
        }
        guard json["llm_config"] is [String: Any] else { throw .config(path: path, what: "no llm_config section") }
        func int(_ dict: [String: Any], _ key: String) throws(VisionError) -> Int {
            guard let v = dict[key] as? Int, v > 0 else { throw .config(path: path, what: "missing or invalid '\(key)'") }
            return v
        }
        func number(_ dict: [String: Any], _ key: String, _ fallback: Double) -> Double {
            (dict[key] as? Double) ?? (dict[key] as? Int).map(Double.init) ?? fallback
        }
        let hidden = try int(vision, "hidden_size"), heads = try int(vision, "num_attention_heads")
        let layers = try int(vision, "num_hidden_layers"), patch = try int(vision, "patch_size")
        var imageSize = try int(vision, "image_size")
        if let forced = json["force_image_size"] as? Int, forced > 0 { imageSize = forced }
        guard hidden % heads == 0 else { throw .config(path: path, what: "hidden_size \(hidden) is not a multiple of \(heads) heads") }
        guard imageSize % patch == 0 else { throw .config(path: path, what: "image size \(imageSize) is not a multiple of patch \(patch)") }
        if let norm = vision["norm_type"] as? String, norm != "layer_norm" {
            throw .unsupported("vision norm_type '\(norm)' (InternViT-6B's RMSNorm); only layer_norm (InternViT-300M) is implemented")
        }
        if vision["qk_normalization"] as? Bool == true { throw .unsupported("vision qk_normalization (InternViT-6B)") }
        if vision["qkv_bias"] as? Bool == false { throw .unsupported("vision qkv_bias false") }
        if let act = vision["hidden_act"] as? String, act != "gelu" { throw .unsupported("vision hidden_act '\(act)'") }
        let ratio = number(json, "downsample_ratio", 0.5)
        let factor = Int((1 / ratio).rounded())
        guard factor >= 1, abs(1 / Double(factor) - ratio) < 1e-9, (imageSize / patch) % factor == 0 else {
            throw .config(path: path, what: "downsample_ratio \(ratio) does not divide the \(imageSize / patch)-patch grid")
        }
        let select = json["select_layer"] as? Int ?? -1
        let used = select < 0 ? layers + 1 + select : select
        guard used >= 1, used <= layers else { throw .config(path: path, what: "select_layer \(select) with \(layers) layers") }
        let ps = json["ps_version"] as? String ?? "v2"
        guard ps == "v1" || ps == "v2" else { throw .config(path: path, what: "ps_version '\(ps)'") }
        let dynamic = json["dynamic_image_size"] as? Bool ?? true
        let maxTiles = dynamic ? (json["max_dynamic_patch"] as? Int ?? 12) : 1
        let minTiles = dynamic ? (json["min_dynamic_patch"] as? Int ?? 1) : 1
        guard minTiles >= 1, maxTiles >= minTiles else { throw .config(path: path, what: "min/max_dynamic_patch \(minTiles)/\(maxTiles)") }
        let tiling = TilingConfiguration(tileSize: imageSize, minTiles: minTiles, maxTiles: maxTiles,
                                         usesThumbnail: json["use_thumbnail"] as? Bool ?? true,
                                         usesMultiScale: json["use_msac"] as? Bool ?? false)
        let template = json["template"] as? String ?? "Hermes-2"
        self.init(hiddenSize: hidden, intermediateSize: try int(vision, "intermediate_size"), headCount: heads,
                  layerCount: layers, patchSize: patch, imageSize: imageSize,
                  layerNormEps: Float(number(vision, "layer_norm_eps", 1e-6)), usedLayers: used, shuffleFactor: factor,
                  transposedShuffle: ps == "v1", template: template, tiling: tiling,
                  modelType: json["model_type"] as? String ?? "internvl_chat")
    }
}
