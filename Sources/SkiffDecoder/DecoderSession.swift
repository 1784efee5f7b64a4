import CSkiffKernels
import Foundation
import SkiffModelFiles

/// One prompt input: token ids, or embeddings (`count` rows of the model's hidden
/// size) fed straight into the first block, as the vision encoder does for image tokens.
public enum PromptInput: Sendable {
    case tokens([Int])
    case embeddings([Float], count: Int)
}

/// A running sequence: the model, its KV cache and scratch buffers. Not thread-safe:
/// use one session per sequence (the model itself is shared).
public final class DecoderSession {
    public let model: LlamaModel
    /// Positions the KV cache holds.
    public let capacity: Int
    /// Positions filled so far.
    public private(set) var position = 0
    /// Largest number of tokens run through the blocks at once while prefilling.
    public let batchSize: Int
    private let pool: ThreadPool
    /// Cache positions per head row: `capacity` rounded up to 32 (the attention kernel
    /// sums 32 positions at a time).
    private let stride: Int
    /// Per layer, keys (kv heads x stride x head dim) then values, transposed (kv heads x
    /// head dim x stride: llama.cpp's layout without flash attention). Owned here so that
    /// the fused step can hold pointers into it.
    private let cache: UnsafeMutablePointer<Float>
    /// Bytes mapped for `cache` by skiff_weight_alloc (0: an ordinary allocation).
    private let cacheMapped: Int
    private let cacheLayerSize: Int
    private var scratch: [UInt8] = []
    /// The one-call path for single tokens (nil for models it does not cover).
    private var fused: FusedStep?

    public var threads: Int { pool.threads }

    /// - Parameters:
    ///   - capacity: context positions to allocate (default: the model's context, at most 4096).
    ///   - threads: kernel threads (default: all cores).
    public init(model: LlamaModel, capacity: Int? = nil, threads: Int? = nil, batchSize: Int = 64) {
        self.model = model
        let c = model.config
        self.capacity = max(1, capacity ?? min(c.contextLength, 4096))
        self.batchSize = max(1, batchSize)
        pool = ThreadPool(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        stride = (self.capacity + 31) / 32 * 32
        cacheLayerSize = c.kvHeadCount * stride * c.headDim
        let cacheCount = max(1, 2 * cacheLayerSize * c.layerCount)
        // Huge pages where the system gives them: each head's V rows are `stride` floats
        // apart, so P.V touches a new 4 KB page every row or two otherwise. Mapped memory is
        // zeroed, as the attention needs for the padding positions it reads.
        var mapped = 0
        if let p = skiff_weight_alloc(cacheCount * MemoryLayout<Float>.stride, &mapped) {
            cache = p.bindMemory(to: Float.self, capacity: cacheCount)
            cacheMapped = mapped
        } else {
            cache = .allocate(capacity: cacheCount)
            cache.initialize(repeating: 0, count: cacheCount)
            cacheMapped = 0
        }
        let step = FusedStep(model: model, keys: keys, values: values, stride: stride, capacity: self.capacity,
                             threads: pool.threads)
        fused = step.isUsable ? step : nil
    }

    deinit {
        if cacheMapped > 0 { skiff_weight_free(cache, cacheMapped) } else { cache.deallocate() }
    }

    private func keys(_ layer: Int) -> UnsafeMutablePointer<Float> { cache + 2 * layer * cacheLayerSize }
    private func values(_ layer: Int) -> UnsafeMutablePointer<Float> { cache + (2 * layer + 1) * cacheLayerSize }

    /// Whether single tokens run as one fused call (`skiff_decode_token`).
    var usesFusedStep: Bool { fused != nil }

    /// Single tokens take the per-operation path (tests compare the two).
    func disableFusedStep() { fused = nil }

    /// Forgets the sequence (the cache is overwritten from position 0).
    public func reset() { position = 0 }

    /// Drops positions after `count` (e.g. to reuse a shared prompt prefix).
    public func truncate(to count: Int) { position = min(position, max(0, count)) }

    /// Runs `inputs` through the model and returns the logits after the last one.
    @discardableResult
    public func prefill(_ inputs: [PromptInput]) throws(DecoderError) -> [Float] {
        var logits: [Float] = []
        let hidden = model.config.hiddenSize
        for input in inputs {
            switch input {
            case let .tokens(ids):
                guard !ids.isEmpty else { continue }
                for id in ids where id < 0 || id >= model.config.vocabSize {
                    throw .invalidInput("token id \(id) is outside the vocabulary (\(model.config.vocabSize))")
                }
                var start = 0
                while start < ids.count {
                    let chunk = Array(ids[start..<min(ids.count, start + batchSize)])
                    var x = [Float](repeating: 0, count: chunk.count * hidden)
                    x.withUnsafeMutableBufferPointer { xp in
                        for (i, id) in chunk.enumerated() {
                            model.embedding.row(id, into: xp.baseAddress! + i * hidden)
                        }
                    }
                    logits = try forward(&x, count: chunk.count)
                    start += chunk.count
                }
            case let .embeddings(values, count):
                guard count > 0 else { continue }
                guard values.count == count * hidden else {
                    throw .invalidInput("\(values.count) embedding values are not \(count) rows of \(hidden)")
                }
                var start = 0
                while start < count {
                    let n = min(count - start, batchSize)
                    var x = Array(values[start * hidden..<(start + n) * hidden])
                    logits = try forward(&x, count: n)
                    start += n
                }
            }
        }
        return logits
    }

    /// Runs `ids` through the model and returns the next-token logits after each of them
    /// (row `i` follows `ids[i]`), for scoring a known continuation in one pass instead of a
    /// step per token. The batched products round differently from `step`, by float noise.
    public func logitsAfterEach(_ ids: [Int]) throws(DecoderError) -> [[Float]] {
        for id in ids where id < 0 || id >= model.config.vocabSize {
            throw .invalidInput("token id \(id) is outside the vocabulary (\(model.config.vocabSize))")
        }
        let hidden = model.config.hiddenSize, vocab = model.config.vocabSize
        var rows: [[Float]] = []
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + batchSize)])
            var x = [Float](repeating: 0, count: chunk.count * hidden)
            x.withUnsafeMutableBufferPointer { xp in
                for (i, id) in chunk.enumerated() { model.embedding.row(id, into: xp.baseAddress! + i * hidden) }
            }
            let all = try forward(&x, count: chunk.count, allRows: true)
            for i in 0..<chunk.count { rows.append(Array(all[i * vocab..<(i + 1) * vocab])) }
            start += chunk.count
        }
        return rows
    }

    /// Appends one token and returns the next-token logits.
    public func step(_ token: Int) throws(DecoderError) -> [Float] {
        try prefill([.tokens([token])])
    }

    private func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        let need = skiff_matmul_scratch_size(w.kernelType, Int64(w.cols), Int64(n))
        if scratch.count < need { scratch = [UInt8](repeating: 0, count: need) }
        scratch.withUnsafeMutableBytes { s in
            _ = skiff_matmul(pool.handle, w.kernelType, w.kernelBase, Int64(w.rows), Int64(w.cols), x, Int64(n), y, s.baseAddress)
        }
    }

    /// Products of one input with several matrices; one pass when their types agree.
    private func matmulGroup(_ ws: [WeightMatrix], _ x: UnsafePointer<Float>, _ n: Int, _ ys: [UnsafeMutablePointer<Float>]) {
        guard ws.count > 1, ws.allSatisfy({ $0.kernelType == ws[0].kernelType && $0.cols == ws[0].cols }) else {
            for (w, y) in zip(ws, ys) { matmul(w, x, n, y) }
            return
        }
        let w0 = ws[0]
        let need = skiff_matmul_scratch_size(w0.kernelType, Int64(w0.cols), Int64(n))
        if scratch.count < need { scratch = [UInt8](repeating: 0, count: need) }
        let bases: [UnsafeRawPointer?] = ws.map { $0.kernelBase }
        let rows = ws.map { Int64($0.rows) }
        let outs: [UnsafeMutablePointer<Float>?] = ys
        scratch.withUnsafeMutableBytes { s in
            _ = skiff_matmul_group(pool.handle, w0.kernelType, Int32(ws.count), bases, rows, Int64(w0.cols), x,
                                   Int64(n), outs, s.baseAddress)
        }
    }

    private static func addBias(_ bias: [Float]?, _ y: UnsafeMutablePointer<Float>, rows: Int, count: Int) {
        guard let bias else { return }
        for t in 0..<count { for i in 0..<rows { y[t * rows + i] += bias[i] } }
    }

    /// Runs `count` hidden-state rows in `x` through every block at positions
    /// `position...`; returns the logits of the last row.
    private func forward(_ xArray: inout [Float], count n: Int, allRows: Bool = false) throws(DecoderError) -> [Float] {
        guard position + n <= capacity else { throw .contextFull(capacity: capacity) }
        let c = model.config
        if n == 1, let fused {
            let logits = [Float](unsafeUninitializedCapacity: c.vocabSize) { buffer, count in
                let ok = xArray.withUnsafeMutableBufferPointer { xb in
                    guard let x = xb.baseAddress, let out = buffer.baseAddress else { return false }
                    return fused.run(pool: pool, x: x, position: position, logits: out)
                }
                count = ok ? c.vocabSize : 0
            }
            if logits.count == c.vocabSize {
                position += 1
                return logits
            }
            self.fused = nil  // refused (cannot happen once built); the per-operation path below
        }
        let hidden = c.hiddenSize, qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        let ffn = c.intermediateSize
        let positions = (0..<n).map { Int32(position + $0) }
        var xn = [Float](repeating: 0, count: n * hidden)
        var q = [Float](repeating: 0, count: n * qDim)
        var k = [Float](repeating: 0, count: n * kvDim)
        var v = [Float](repeating: 0, count: n * kvDim)
        var attn = [Float](repeating: 0, count: n * qDim)
        var proj = [Float](repeating: 0, count: n * hidden)
        var gate = [Float](repeating: 0, count: n * ffn)
        var up = [Float](repeating: 0, count: n * ffn)
        var scores = [Float](repeating: 0, count: pool.threads * ((position + n + 31) / 32 * 32))
        let neox: Int32 = c.ropeStyle == .neox ? 1 : 0
        let scale = 1 / Float(c.headDim).squareRoot()
        let pos0 = position

        xArray.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            xn.withUnsafeMutableBufferPointer { xnb in
            q.withUnsafeMutableBufferPointer { qb in
            k.withUnsafeMutableBufferPointer { kb in
            v.withUnsafeMutableBufferPointer { vb in
            attn.withUnsafeMutableBufferPointer { ab in
            proj.withUnsafeMutableBufferPointer { pb in
            gate.withUnsafeMutableBufferPointer { gb in
            up.withUnsafeMutableBufferPointer { ub in
            scores.withUnsafeMutableBufferPointer { sb in
                let xn = xnb.baseAddress!, q = qb.baseAddress!, k = kb.baseAddress!, v = vb.baseAddress!
                let attn = ab.baseAddress!, proj = pb.baseAddress!, gate = gb.baseAddress!, up = ub.baseAddress!
                for (li, layer) in model.layers.enumerated() {
                    layer.attentionNorm.withUnsafeBufferPointer {
                        skiff_rmsnorm(x, $0.baseAddress, xn, Int64(hidden), Int64(n), c.rmsNormEps)
                    }
                    matmulGroup([layer.q, layer.k, layer.v], xn, n, [q, k, v])
                    Self.addBias(layer.qBias, q, rows: qDim, count: n)
                    Self.addBias(layer.kBias, k, rows: kvDim, count: n)
                    Self.addBias(layer.vBias, v, rows: kvDim, count: n)
                    positions.withUnsafeBufferPointer { p in
                        skiff_rope(q, Int64(n), Int64(c.headCount), Int64(c.headDim), p.baseAddress, c.ropeBase, neox)
                        skiff_rope(k, Int64(n), Int64(c.kvHeadCount), Int64(c.headDim), p.baseAddress, c.ropeBase, neox)
                    }
                    let kc = keys(li), vc = values(li)
                    let d = c.headDim
                    for t in 0..<n {
                        for h in 0..<c.kvHeadCount {
                            let src = t * kvDim + h * d
                            (kc + (h * stride + pos0 + t) * d).update(from: k + src, count: d)
                            let vt = vc + h * d * stride + pos0 + t
                            for i in 0..<d { vt[i * stride] = v[src + i] }
                        }
                    }
                    skiff_attention(pool.handle, q, kc, vc, attn, Int64(n), Int64(pos0), Int64(c.headCount),
                                    Int64(c.kvHeadCount), Int64(d), Int64(stride), scale, sb.baseAddress)
                    matmul(layer.o, attn, n, proj)
                    for i in 0..<n * hidden { x[i] += proj[i] }
                    layer.ffnNorm.withUnsafeBufferPointer {
                        skiff_rmsnorm(x, $0.baseAddress, xn, Int64(hidden), Int64(n), c.rmsNormEps)
                    }
                    matmulGroup([layer.gate, layer.up], xn, n, [gate, up])
                    skiff_silu_mul(gate, up, Int64(n * ffn))
                    matmul(layer.down, gate, n, proj)
                    for i in 0..<n * hidden { x[i] += proj[i] }
                }
                // Only the last row's logits are needed, unless all are asked for.
                model.outputNorm.withUnsafeBufferPointer {
                    if allRows {
                        skiff_rmsnorm(x, $0.baseAddress, xn, Int64(hidden), Int64(n), c.rmsNormEps)
                    } else {
                        skiff_rmsnorm(x + (n - 1) * hidden, $0.baseAddress, xn, Int64(hidden), 1, c.rmsNormEps)
                    }
                }
            }}}}}}}}}
        }
        position += n
        let rows = allRows ? n : 1
        var logits = [Float](repeating: 0, count: c.vocabSize * rows)
        xn.withUnsafeBufferPointer { xnb in
            logits.withUnsafeMutableBufferPointer { lb in matmul(model.output, xnb.baseAddress!, rows, lb.baseAddress!) }
        }
        return logits
    }
}
