import CSkiffKernels
import Foundation

/// The model as `skiff_decode_token` reads it: one generated token as a single pool job
/// instead of ~150 jobs with norms, RoPE, cache writes and SiLU between them on the
/// calling thread. Same kernels in the same order, so the same logits bit for bit.
/// Built per session because the block descriptions point at the session's KV cache.
final class FusedStep {
    /// Norm weights and biases, copied so that the C side holds stable pointers.
    private let floats: UnsafeMutablePointer<Float>
    private let blocks: UnsafeMutablePointer<skiff_block>
    private let layerCount: Int
    private var decoder: skiff_decoder
    private let scratch: UnsafeMutableRawPointer
    private let scratchBytes: Int

    /// Off with `SKIFF_FUSED_STEP=0`, to compare both paths in one benchmark.
    static let enabled = ProcessInfo.processInfo.environment["SKIFF_FUSED_STEP"] != "0"

    /// Whether the C side takes this model: false when a matrix has a type the fused path
    /// has no kernel for (F32/F16/BF16), or when it is switched off.
    let isUsable: Bool

    init(model: LlamaModel, keys: (Int) -> UnsafeMutablePointer<Float>, values: (Int) -> UnsafeMutablePointer<Float>,
          stride: Int, capacity: Int, threads: Int) {
        let c = model.config
        var vectors: [[Float]] = [model.outputNorm]
        for l in model.layers {
            vectors += [l.attentionNorm, l.ffnNorm]
            vectors += [l.qBias, l.kBias, l.vBias].compactMap { $0 }
        }
        let total = vectors.reduce(0) { $0 + $1.count }
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: max(1, total))
        self.floats = floats
        var offset = 0
        func copy(_ v: [Float]?) -> UnsafePointer<Float>? {
            guard let v else { return nil }
            let p = floats + offset
            v.withUnsafeBufferPointer { if let base = $0.baseAddress { p.initialize(from: base, count: v.count) } }
            offset += v.count
            return UnsafePointer(p)
        }
        func matrix(_ w: WeightMatrix) -> skiff_matrix {
            skiff_matrix(type: w.kernelType, data: w.kernelBase, rows: Int64(w.rows))
        }
        let outputNorm = copy(model.outputNorm)
        layerCount = model.layers.count
        let blocks = UnsafeMutablePointer<skiff_block>.allocate(capacity: max(1, layerCount))
        self.blocks = blocks
        for (i, l) in model.layers.enumerated() {
            (blocks + i).initialize(to: skiff_block(
                attn_norm: copy(l.attentionNorm), ffn_norm: copy(l.ffnNorm),
                q_bias: copy(l.qBias), k_bias: copy(l.kBias), v_bias: copy(l.vBias),
                q: matrix(l.q), k: matrix(l.k), v: matrix(l.v), o: matrix(l.o),
                gate: matrix(l.gate), up: matrix(l.up), down: matrix(l.down),
                kcache: keys(i), vcache: values(i)))
        }
        var decoder = skiff_decoder(
            hidden: Int64(c.hiddenSize), heads: Int64(c.headCount), kv_heads: Int64(c.kvHeadCount),
            head_dim: Int64(c.headDim), ffn: Int64(c.intermediateSize), vocab: Int64(c.vocabSize),
            stride: Int64(stride), eps: c.rmsNormEps, rope_base: c.ropeBase,
            attn_scale: 1 / Float(c.headDim).squareRoot(), neox: c.ropeStyle == .neox ? 1 : 0,
            layers: Int64(layerCount), blocks: UnsafePointer(blocks), output_norm: outputNorm,
            output: matrix(model.output))
        let bytes = skiff_decode_scratch_size(&decoder, Int32(threads), Int64(capacity))
        scratchBytes = bytes
        scratch = .allocate(byteCount: bytes, alignment: 64)
        isUsable = Self.enabled && skiff_decode_supported(&decoder) == 1
        self.decoder = decoder
    }

    deinit {
        blocks.deinitialize(count: layerCount)
        blocks.deallocate()
        floats.deallocate()
        scratch.deallocate()
    }

    /// Runs the embedding `x` at `position`; false when the C side refused (nothing was written).
    func run(pool: ThreadPool, x: UnsafeMutablePointer<Float>, position: Int, logits: UnsafeMutablePointer<Float>) -> Bool {
        withUnsafePointer(to: &decoder) {
            skiff_decode_token(pool.handle, $0, x, Int64(position), logits, scratch, scratchBytes) == 0
        }
    }
}
