import CSkiffKernels
import Foundation
public import SkiffModelFiles

/// One InternViT encoder layer's weights (F32, widened from the file's BF16/F16 at load).
struct VisionLayer: Sendable {
    let norm1Weight: [Float], norm1Bias: [Float]
    /// The fused projection: rows q, k, v (3C x C) and its bias.
    let qkv: [Float], qkvBias: [Float]
    let proj: [Float], projBias: [Float]
    let scale1: [Float]
    let norm2Weight: [Float], norm2Bias: [Float]
    let fc1: [Float], fc1Bias: [Float]
    let fc2: [Float], fc2Bias: [Float]
    let scale2: [Float]
}

/// What the encoder produced for a batch of tiles.
public struct VisionOutput: Sendable {
    /// tiles x tokensPerTile x the language model's hidden size: the rows that replace
    /// `<IMG_CONTEXT>` tokens, in order.
    public var embeddings: [Float]
    /// tiles x (patches + 1) x C: the selected ViT layer's output (CLS first), when asked for.
    public var features: [Float]?
}

/// InternViT (patch embedding, class token, absolute positions, pre-norm layers with layer
/// scales) + pixel shuffle + the `mlp1` projector, in F32 with OpenBLAS for the products.
/// Immutable and shareable; `encode` allocates its own scratch.
public final class VisionEncoder: Sendable {
    public let config: VisionConfig
    /// The language model's hidden size (the projector's output).
    public let outputSize: Int
    let patchWeight: [Float], patchBias: [Float]
    let classEmbedding: [Float], positions: [Float]
    let layers: [VisionLayer]
    let projNormWeight: [Float], projNormBias: [Float]
    let proj1: [Float], proj1Bias: [Float]
    let proj2: [Float], proj2Bias: [Float]
    /// nn.LayerNorm's default: the projector's norm is not configurable in the checkpoints.
    let projectorEps: Float = 1e-5

    /// Loads `vision_model.*` and `mlp1.*` from `source`, checking every shape against `config`.
    public init(config: VisionConfig, source: any TensorSource, outputSize: Int) throws(VisionError) {
        self.config = config
        self.outputSize = outputSize
        let c = config.hiddenSize, inner = config.intermediateSize, p = config.patchSize
        let merged = c * config.shuffleFactor * config.shuffleFactor
        func load(_ name: String, _ shape: [Int]) throws(VisionError) -> [Float] {
            let t: Tensor
            do { t = try source.tensor(named: name) } catch { throw .weights("\(error)") }
            guard t.shape == shape else {
                throw .weights("tensor '\(name)' has shape \(t.shape), config.json implies \(shape)")
            }
            return t.floats()
        }
        let v = "vision_model."
        patchWeight = try load(v + "embeddings.patch_embedding.weight", [c, 3, p, p])
        patchBias = try load(v + "embeddings.patch_embedding.bias", [c])
        classEmbedding = try load(v + "embeddings.class_embedding", [1, 1, c])
        let grid = config.patchGrid
        positions = try load(v + "embeddings.position_embedding", [1, grid * grid + 1, c])
        var layers: [VisionLayer] = []
        for i in 0..<config.usedLayers {
            let l = v + "encoder.layers.\(i)."
            layers.append(VisionLayer(
                norm1Weight: try load(l + "norm1.weight", [c]), norm1Bias: try load(l + "norm1.bias", [c]),
                qkv: try load(l + "attn.qkv.weight", [3 * c, c]), qkvBias: try load(l + "attn.qkv.bias", [3 * c]),
                proj: try load(l + "attn.proj.weight", [c, c]), projBias: try load(l + "attn.proj.bias", [c]),
                scale1: try load(l + "ls1", [c]),
                norm2Weight: try load(l + "norm2.weight", [c]), norm2Bias: try load(l + "norm2.bias", [c]),
                fc1: try load(l + "mlp.fc1.weight", [inner, c]), fc1Bias: try load(l + "mlp.fc1.bias", [inner]),
                fc2: try load(l + "mlp.fc2.weight", [c, inner]), fc2Bias: try load(l + "mlp.fc2.bias", [c]),
                scale2: try load(l + "ls2", [c])))
        }
        self.layers = layers
        projNormWeight = try load("mlp1.0.weight", [merged])
        projNormBias = try load("mlp1.0.bias", [merged])
        proj1 = try load("mlp1.1.weight", [outputSize, merged])
        proj1Bias = try load("mlp1.1.bias", [outputSize])
        proj2 = try load("mlp1.3.weight", [outputSize, outputSize])
        proj2Bias = try load("mlp1.3.bias", [outputSize])
    }

    /// Floating-point operations one tile costs (the products; element-wise work not counted).
    public var flopsPerTile: Double {
        let c = Double(config.hiddenSize), i = Double(config.intermediateSize)
        let n = Double(config.patchGrid * config.patchGrid + 1)
        let perLayer = 2 * n * (3 * c * c + c * c + 2 * c * i) + 2 * 2 * n * n * c
        let patches = 2 * (n - 1) * c * Double(3 * config.patchSize * config.patchSize)
        let tokens = Double(config.tokensPerTile)
        let merged = c * Double(config.shuffleFactor * config.shuffleFactor), h = Double(outputSize)
        return patches + Double(layers.count) * perLayer + 2 * tokens * (merged * h + h * h)
    }

    /// Encodes `tiles` normalised tiles (each 3 x size x size floats, channels first, as
    /// `PixelNormalization.tensor` makes them), `batch` tiles at a time.
    /// - Parameters:
    ///   - keepFeatures: also return the ViT output (for checking against a reference).
    ///   - threads: threads for OpenBLAS and the element-wise kernels.
    public func encode(_ pixels: [Float], tiles: Int, batch: Int = 4, threads: Int = 1,
                       keepFeatures: Bool = false) throws(VisionError) -> VisionOutput {
        let size = config.imageSize
        guard tiles >= 1, pixels.count == tiles * 3 * size * size else {
            throw .prompt("\(pixels.count) pixel values are not \(tiles) tiles of 3x\(size)x\(size)")
        }
        skiff_vision_set_blas_threads(Int32(threads))
        let c = config.hiddenSize, seq = config.patchGrid * config.patchGrid + 1
        let tokens = config.tokensPerTile
        var embeddings = [Float](repeating: 0, count: tiles * tokens * outputSize)
        var features: [Float]? = keepFeatures ? [Float](repeating: 0, count: tiles * seq * c) : nil
        var start = 0
        while start < tiles {
            let n = min(max(1, batch), tiles - start)
            let hidden = pixels.withUnsafeBufferPointer { px in
                runViT(px.baseAddress! + start * 3 * size * size, tiles: n, threads: threads)
            }
            if features != nil {
                features!.replaceSubrange(start * seq * c..<(start + n) * seq * c, with: hidden)
            }
            let projected = project(hidden, tiles: n, threads: threads)
            embeddings.replaceSubrange(start * tokens * outputSize..<(start + n) * tokens * outputSize, with: projected)
            start += n
        }
        return VisionOutput(embeddings: embeddings, features: features)
    }

    /// The ViT over `tiles` tiles: tiles x seq x C.
    func runViT(_ pixels: UnsafePointer<Float>, tiles: Int, threads: Int) -> [Float] {
        let cfg = config
        let c = cfg.hiddenSize, inner = cfg.intermediateSize, p = cfg.patchSize, size = cfg.imageSize
        let grid = cfg.patchGrid, patches = grid * grid, seq = patches + 1, rows = tiles * seq
        let patchWidth = 3 * p * p
        let t = Int32(threads)
        var x = [Float](repeating: 0, count: rows * c)
        var xn = [Float](repeating: 0, count: rows * c)
        var qkv = [Float](repeating: 0, count: rows * 3 * c)
        var attn = [Float](repeating: 0, count: rows * c)
        var mlp = [Float](repeating: 0, count: rows * inner)
        var scores = [Float](repeating: 0, count: max(1, threads) * seq * seq)
        var patchRows = [Float](repeating: 0, count: patches * patchWidth)
        x.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            // Patch embedding (a stride-p convolution as one product per tile), class token, positions.
            patchRows.withUnsafeMutableBufferPointer { pr in
                for tile in 0..<tiles {
                    skiff_patch_rows(pixels + tile * 3 * size * size, Int64(size), Int64(p), pr.baseAddress)
                    let out = x + tile * seq * c
                    skiff_sgemm_nt(Int64(patches), Int64(c), Int64(patchWidth), 1, pr.baseAddress, Int64(patchWidth),
                                   patchWeight, Int64(patchWidth), 0, out + c, Int64(c))
                    for j in 0..<c { out[j] = classEmbedding[j] }
                    for r in 1..<seq { for j in 0..<c { out[r * c + j] += patchBias[j] } }
                    for i in 0..<seq * c { out[i] += positions[i] }
                }
            }
            xn.withUnsafeMutableBufferPointer { xnb in
            qkv.withUnsafeMutableBufferPointer { qb in
            attn.withUnsafeMutableBufferPointer { ab in
            mlp.withUnsafeMutableBufferPointer { mb in
            scores.withUnsafeMutableBufferPointer { sb in
                let xn = xnb.baseAddress!, qkv = qb.baseAddress!, attn = ab.baseAddress!, mlp = mb.baseAddress!
                let r = Int64(rows), cc = Int64(c)
                for layer in layers {
                    skiff_layernorm(x, layer.norm1Weight, layer.norm1Bias, xn, cc, r, cfg.layerNormEps, t)
                    skiff_sgemm_nt(r, 3 * cc, cc, 1, xn, cc, layer.qkv, cc, 0, qkv, 3 * cc)
                    skiff_add_bias(qkv, layer.qkvBias, r, 3 * cc, t)
                    skiff_self_attention(qkv, attn, Int64(tiles), Int64(seq), Int64(cfg.headCount), Int64(cfg.headDim),
                                         1 / Float(cfg.headDim).squareRoot(), sb.baseAddress, t)
                    skiff_sgemm_nt(r, cc, cc, 1, attn, cc, layer.proj, cc, 0, xn, cc)
                    skiff_scaled_residual(x, xn, layer.projBias, layer.scale1, r, cc, t)
                    skiff_layernorm(x, layer.norm2Weight, layer.norm2Bias, xn, cc, r, cfg.layerNormEps, t)
                    skiff_sgemm_nt(r, Int64(inner), cc, 1, xn, cc, layer.fc1, cc, 0, mlp, Int64(inner))
                    skiff_add_bias(mlp, layer.fc1Bias, r, Int64(inner), t)
                    skiff_gelu_erf(mlp, r * Int64(inner), t)
                    skiff_sgemm_nt(r, cc, Int64(inner), 1, mlp, Int64(inner), layer.fc2, Int64(inner), 0, xn, cc)
                    skiff_scaled_residual(x, xn, layer.fc2Bias, layer.scale2, r, cc, t)
                }
            }}}}}
        }
        return x
    }

    /// CLS dropped, pixel shuffle (each output token concatenates a factor x factor block of
    /// patches, row by row), then LayerNorm -> Linear -> GELU -> Linear.
    func project(_ hidden: [Float], tiles: Int, threads: Int) -> [Float] {
        let cfg = config
        let c = cfg.hiddenSize, f = cfg.shuffleFactor, grid = cfg.patchGrid, out = grid / f
        let seq = grid * grid + 1, merged = c * f * f, tokens = out * out, rows = tiles * tokens
        var shuffled = [Float](repeating: 0, count: rows * merged)
        hidden.withUnsafeBufferPointer { hb in
            shuffled.withUnsafeMutableBufferPointer { sb in
                let h = hb.baseAddress!, s = sb.baseAddress!
                for tile in 0..<tiles {
                    let base = h + tile * seq * c + c  // CLS dropped
                    for r in 0..<out {
                        for col in 0..<out {
                            // v2 order is row-major over the shuffled grid; v1 leaves it transposed.
                            let token = cfg.transposedShuffle ? col * out + r : r * out + col
                            var dst = s + (tile * tokens + token) * merged
                            for i in 0..<f {
                                for j in 0..<f {
                                    let patch = (r * f + i) * grid + col * f + j
                                    dst.update(from: base + patch * c, count: c)
                                    dst += c
                                }
                            }
                        }
                    }
                }
            }
        }
        let t = Int32(threads), h = Int64(outputSize), r = Int64(rows)
        var mid = [Float](repeating: 0, count: rows * outputSize)
        var result = [Float](repeating: 0, count: rows * outputSize)
        shuffled.withUnsafeMutableBufferPointer { sb in
            skiff_layernorm(sb.baseAddress, projNormWeight, projNormBias, sb.baseAddress, Int64(merged), r, projectorEps, t)
            mid.withUnsafeMutableBufferPointer { mb in
                skiff_sgemm_nt(r, h, Int64(merged), 1, sb.baseAddress, Int64(merged), proj1, Int64(merged), 0, mb.baseAddress, h)
                skiff_add_bias(mb.baseAddress, proj1Bias, r, h, t)
                skiff_gelu_erf(mb.baseAddress, r * h, t)
                result.withUnsafeMutableBufferPointer { ob in
                    skiff_sgemm_nt(r, h, h, 1, mb.baseAddress, h, proj2, h, 0, ob.baseAddress, h)
                    skiff_add_bias(ob.baseAddress, proj2Bias, r, h, t)
                }
            }
        }
        return result
    }
}
