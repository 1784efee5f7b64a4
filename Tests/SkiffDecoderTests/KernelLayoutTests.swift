import CSkiffKernels
import Testing
@testable import SkiffDecoder

/// The interleaved four- and sixteen-row layouts (`skiff_repack_x4`, `skiff_repack_x16`)
/// must give the same bits as the GGUF layouts they are made from, since greedy decoding is
/// checked token for token against llama.cpp.
@Suite("Interleaved weight layouts")
struct KernelLayoutTests {
    /// xorshift, so the matrices are the same on every run.
    struct Generator {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        mutating func unit() -> Float { Float(next() % 2_000_001) / 1e6 - 1 }
    }

    /// A matrix of random blocks: fp16 scales (and Q4_1 minimums) in a realistic range.
    static func matrix(type: Int32, rows: Int, cols: Int, _ g: inout Generator) -> [UInt8] {
        let blockBytes = type == Int32(SKIFF_TYPE_Q4_1.rawValue) ? 20 : type == Int32(SKIFF_TYPE_Q4_0.rawValue) ? 18 : 34
        var bytes = [UInt8](repeating: 0, count: rows * cols / 32 * blockBytes)
        for block in 0..<(rows * cols / 32) {
            let o = block * blockBytes
            let d = skiff_fp32_to_fp16(g.unit() * 0.05)
            bytes[o] = UInt8(d & 0xff); bytes[o + 1] = UInt8(d >> 8)
            var q = o + 2
            if blockBytes == 20 {
                let m = skiff_fp32_to_fp16(g.unit() * 0.3)
                bytes[o + 2] = UInt8(m & 0xff); bytes[o + 3] = UInt8(m >> 8)
                q = o + 4
            }
            for i in q..<(o + blockBytes) { bytes[i] = UInt8(truncatingIfNeeded: g.next()) }
        }
        return bytes
    }

    static func products(type: Int32, weights: UnsafeRawPointer, rows: Int, cols: Int, x: [Float], batch: Int, threads: Int32) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * batch)
        var scratch = [UInt8](repeating: 0, count: max(1, skiff_matmul_scratch_size(type, Int64(cols), Int64(batch))))
        let pool = skiff_pool_create(threads)
        defer { skiff_pool_destroy(pool) }
        let rc = x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                scratch.withUnsafeMutableBytes { s in
                    skiff_matmul(pool, type, weights, Int64(rows), Int64(cols), xb.baseAddress, Int64(batch), yb.baseAddress, s.baseAddress)
                }
            }
        }
        #expect(rc == 0)
        return y
    }

    // Shapes: SmolLM2's (576 and 1536 columns: even block counts), odd block counts (96, 160
    // columns) and a single block; batches of one row (decoding) and three (prompts).
    @Test(arguments: [SKIFF_TYPE_Q4_1, SKIFF_TYPE_Q8_0], [(576, 576), (64, 1536), (8, 96), (12, 32), (4, 160)])
    func packedProductsEqualGGUFLayoutBitForBit(type: skiff_type, shape: (Int, Int)) throws {
        guard skiff_has_avx2() == 1 else { return }  // no packed layout without the AVX2 kernels
        let expected = type == SKIFF_TYPE_Q4_1 ? SKIFF_TYPE_Q4_1_X4 : SKIFF_TYPE_Q8_0_X4
        try checkLayout(type: type, shape: shape, expected: expected, repack: skiff_repack_x4)
    }

    /// The sixteen-row layouts, where the CPU has AVX-512 VNNI (elsewhere they are never made:
    /// `layoutsItCannotMakeAreRefused`).
    @Test(.enabled(if: skiff_has_avx512_vnni() == 1, "the sixteen-row kernels need AVX-512 VNNI"),
          arguments: [SKIFF_TYPE_Q4_0, SKIFF_TYPE_Q4_1, SKIFF_TYPE_Q8_0], [(576, 576), (64, 1536), (16, 96), (32, 32), (16, 160)])
    func sixteenRowProductsEqualGGUFLayoutBitForBit(type: skiff_type, shape: (Int, Int)) throws {
        let expected = type == SKIFF_TYPE_Q4_0 ? SKIFF_TYPE_Q4_0_X16 : type == SKIFF_TYPE_Q4_1 ? SKIFF_TYPE_Q4_1_X16 : SKIFF_TYPE_Q8_0_X16
        try checkLayout(type: type, shape: shape, expected: expected, repack: skiff_repack_x16)
    }

    func checkLayout(type: skiff_type, shape: (Int, Int), expected: skiff_type,
                     repack: (Int32, UnsafeRawPointer?, Int64, Int64, UnsafeMutableRawPointer?) -> Int32) throws {
        let (rows, cols) = shape
        let t = Int32(type.rawValue)
        var g = Generator()
        let gguf = Self.matrix(type: t, rows: rows, cols: cols, &g)
        var packed = [UInt8](repeating: 0, count: gguf.count)
        let packedType = gguf.withUnsafeBytes { src in
            packed.withUnsafeMutableBytes { dst in repack(t, src.baseAddress, Int64(rows), Int64(cols), dst.baseAddress) }
        }
        #expect(packedType == Int32(expected.rawValue))
        #expect(packed != gguf)  // it really is another layout
        for batch in [1, 3] {
            let x = (0..<(cols * batch)).map { _ in g.unit() * 3 }
            for threads: Int32 in [1, 2] {
                let reference = gguf.withUnsafeBytes {
                    Self.products(type: t, weights: $0.baseAddress!, rows: rows, cols: cols, x: x, batch: batch, threads: threads)
                }
                let fast = packed.withUnsafeBytes {
                    Self.products(type: packedType, weights: $0.baseAddress!, rows: rows, cols: cols, x: x, batch: batch, threads: threads)
                }
                #expect(reference.allSatisfy { $0.isFinite })
                let differing = zip(fast, reference).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(fast.count == reference.count && differing == 0,
                        "\(differing) of \(reference.count) products differ: \(rows)x\(cols), batch \(batch), \(threads) threads")
            }
        }
    }

    typealias Repack = (Int32, UnsafeRawPointer?, Int64, Int64, UnsafeMutableRawPointer?) -> Int32

    /// What each repack call returns, run on zeroed buffers large enough for any of them.
    static func repackCodes(_ calls: [(Repack, skiff_type, rows: Int64, cols: Int64)]) -> [Int32] {
        let src = [UInt8](repeating: 0, count: 64 * 34)
        var dst = src
        return src.withUnsafeBytes { s in
            dst.withUnsafeMutableBytes { d in calls.map { $0.0(Int32($0.1.rawValue), s.baseAddress, $0.rows, $0.cols, d.baseAddress) } }
        }
    }

    @Test func layoutsItCannotMakeAreRefused() {
        // six rows: not whole groups of four; a type without a four-row layout; 48 columns
        #expect(Self.repackCodes([(skiff_repack_x4, SKIFF_TYPE_Q4_1, 6, 32), (skiff_repack_x4, SKIFF_TYPE_Q4_0, 4, 32),
                                  (skiff_repack_x4, SKIFF_TYPE_Q4_1, 4, 48)]) == [-1, -1, -1])
        // eight rows: not whole groups of sixteen; 48 columns: not whole blocks; F32
        #expect(Self.repackCodes([(skiff_repack_x16, SKIFF_TYPE_Q8_0, 8, 32), (skiff_repack_x16, SKIFF_TYPE_Q4_1, 16, 48),
                                  (skiff_repack_x16, SKIFF_TYPE_F32, 16, 32)]) == [-1, -1, -1])
        if skiff_has_avx512_vnni() == 0 {  // and without the CPU for it, any matrix
            #expect(Self.repackCodes([(skiff_repack_x16, SKIFF_TYPE_Q8_0, 16, 64)]) == [-1])
        }
        // A packed type is refused by the products when its rows are not whole groups.
        let weights = [UInt8](repeating: 0, count: 32 * 34)
        var scratch = [UInt8](repeating: 0, count: 64)
        var y = [Float](repeating: 0, count: 6)
        let x = [Float](repeating: 1, count: 32)
        for packed in [SKIFF_TYPE_Q4_1_X4, SKIFF_TYPE_Q8_0_X16] {
            let product = weights.withUnsafeBytes { s in
                y.withUnsafeMutableBufferPointer { yb in
                    scratch.withUnsafeMutableBytes { sc in
                        skiff_matmul(nil, Int32(packed.rawValue), s.baseAddress, 6, 32, x, 1, yb.baseAddress, sc.baseAddress)
                    }
                }
            }
            #expect(product == -1, "\(packed) with 6 rows")
        }
    }
}

@Suite("Packed weight memory")
struct PackedArenaTests {
    @Test func weightMemoryIsHugePageAlignedAndZeroed() throws {
        var mapped = 0
        let p = try #require(skiff_weight_alloc(3 << 20, &mapped))
        defer { skiff_weight_free(p, mapped) }
        #expect(Int(bitPattern: p) % (2 << 20) == 0)
        #expect(mapped == 4 << 20)  // whole 2 MB pages
        let bytes = p.assumingMemoryBound(to: UInt8.self)
        #expect((0..<mapped).allSatisfy { bytes[$0] == 0 })
        bytes[mapped - 1] = 7  // writable to its end
        #expect(bytes[mapped - 1] == 7)
    }

    @Test func arenaHandsOutAlignedDisjointBlocks() throws {
        let arena = PackedArena()
        let sizes = [100, 64, 186_624, 1, 40 << 20, 5000]  // one larger than a chunk
        var blocks: [(Int, Int)] = []
        for size in sizes {
            let p = try #require(arena.allocate(size))
            #expect(Int(bitPattern: p) % 64 == 0)
            p.initializeMemory(as: UInt8.self, repeating: 0xAB, count: size)
            blocks.append((Int(bitPattern: p), size))
        }
        let sorted = blocks.sorted { $0.0 < $1.0 }
        for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a.0 + a.1 <= b.0) }
    }

    /// The model's packed matrices live in its arena (the llama.cpp suite checks that
    /// decoding from them still gives llama.cpp's tokens and logits).
    @Test(.enabled(if: skiff_has_avx2() == 1 && WeightLayout.standard == .fastest, "packed layouts need AVX2"))
    func modelMatricesUseTheArena() throws {
        let model = try smolLM.get()
        let sixteen = skiff_has_avx512_vnni() == 1
        let q4_1 = sixteen ? SKIFF_TYPE_Q4_1_X16 : SKIFF_TYPE_Q4_1_X4, q8_0 = sixteen ? SKIFF_TYPE_Q8_0_X16 : SKIFF_TYPE_Q8_0_X4
        #expect(model.layers.allSatisfy { $0.q.kernelType == Int32(q4_1.rawValue) && $0.down.kernelType == Int32(q4_1.rawValue) })
        #expect(model.output.kernelType == Int32(q8_0.rawValue))
        #expect(model.productLayouts == (sixteen ? "x16" : "x4"))
        #expect(model.layers.allSatisfy { $0.gate.usesArena && $0.down.usesArena } && model.output.usesArena)
    }
}
