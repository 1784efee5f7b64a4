/// Levenshtein distance and alignment over sequences of token ids.
///
/// Distance: Myers' bit-parallel algorithm in Hyyrö's multi-word form, O(⌈n/64⌉·m)
/// word operations. Alignment: Hirschberg's divide and conquer on top of bit-parallel
/// columns restricted to Ukkonen's diagonal band (`BandedBitParallel`): a path of cost
/// d never leaves the diagonals i − j ∈ [(δ−d)/2, (δ+d)/2] (δ = n − m), so a band for a
/// bound k ≥ d gives every cell on an optimal path its exact value and every other cell
/// an upper bound. The band starts from a guess and doubles until the cost found is
/// ≤ k; below the first split the pieces' exact distances are known. The work is
/// O(⌈d/64⌉·m) rather than O(⌈n/64⌉·m), and the alignment (split points, traceback
/// tie-breaks) is the one the full-width columns give (`fullWidthAlign`, kept for tests).
/// Written by hand: no available Swift package computes edit distances.
public enum EditDistance {
    /// The edit distance between two token sequences (unit costs).
    public static func distance(_ a: [Int32], _ b: [Int32]) -> Int {
        var a = a[...]
        var b = b[...]
        trimCommonAffixes(&a, &b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        // The pattern (bit vectors) is the shorter sequence: fewer words per step.
        if a.count > b.count { swap(&a, &b) }
        var scratch = SlotScratch(alphabet: max(a.max() ?? 0, b.max() ?? 0) + 1)
        return BitParallel.run(pattern: a, text: b, scratch: &scratch, keepHistory: false).score
    }

    /// An optimal alignment of `reference` and `hypothesis`.
    public static func align(_ reference: [Int32], _ hypothesis: [Int32]) -> [EditOperation] {
        align(reference, hypothesis, historyLimit: historyWords)
    }

    static func align(_ reference: [Int32], _ hypothesis: [Int32], historyLimit: Int) -> [EditOperation] {
        var ops: [EditOperation] = []
        ops.reserveCapacity(max(reference.count, hypothesis.count))
        var r = reference[...]
        var h = hypothesis[...]
        var prefix = 0
        while prefix < r.count && prefix < h.count && r[r.startIndex + prefix] == h[h.startIndex + prefix] {
            prefix += 1
        }
        ops.append(contentsOf: repeatElement(.hit, count: prefix))
        r = r.dropFirst(prefix)
        h = h.dropFirst(prefix)
        var suffix = 0
        while suffix < r.count && suffix < h.count && r[r.endIndex - 1 - suffix] == h[h.endIndex - 1 - suffix] {
            suffix += 1
        }
        r = r.dropLast(suffix)
        h = h.dropLast(suffix)
        var scratch = SlotScratch(alphabet: max(r.max() ?? 0, h.max() ?? 0) + 1)
        bandedHirschberg(r, h, limit: historyLimit, bound: nil, scratch: &scratch, into: &ops)
        ops.append(contentsOf: repeatElement(.hit, count: suffix))
        return ops
    }

    /// The same alignment computed on full-width columns (every block of every column):
    /// the pre-band algorithm, kept so tests can check the banded one gives identical operations.
    static func fullWidthAlign(_ reference: [Int32], _ hypothesis: [Int32], historyLimit: Int) -> [EditOperation] {
        var ops: [EditOperation] = []
        var r = reference[...]
        var h = hypothesis[...]
        var prefix = 0
        while prefix < r.count && prefix < h.count && r[r.startIndex + prefix] == h[h.startIndex + prefix] {
            prefix += 1
        }
        ops.append(contentsOf: repeatElement(.hit, count: prefix))
        r = r.dropFirst(prefix)
        h = h.dropFirst(prefix)
        var suffix = 0
        while suffix < r.count && suffix < h.count && r[r.endIndex - 1 - suffix] == h[h.endIndex - 1 - suffix] {
            suffix += 1
        }
        r = r.dropLast(suffix)
        h = h.dropLast(suffix)
        var scratch = SlotScratch(alphabet: max(r.max() ?? 0, h.max() ?? 0) + 1)
        hirschberg(r, h, limit: historyLimit, scratch: &scratch, into: &ops)
        ops.append(contentsOf: repeatElement(.hit, count: suffix))
        return ops
    }

    /// A value above any edit cost, for cells outside the computed band.
    static let outside = Int.max / 4

    /// The band's first guess at the distance of an n × m piece: the length difference, or
    /// 1/16 of the lengths (CER ≈ 12 %) if larger. Too small only costs cheaper extra passes.
    static func firstGuess(_ n: Int, _ m: Int) -> Int {
        max(abs(n - m), (n + m) / 16, 32)
    }

    /// The next band after bound `k` was too narrow: `found` is the cost of a real alignment,
    /// so a band for it is always wide enough; take it unless it is far wider than doubling.
    static func nextBound(_ k: Int, found: Int) -> Int {
        found <= 4 * k ? found : 2 * k
    }

    /// Hirschberg on banded columns. `bound`, when known, is the piece's exact distance.
    /// Split decisions, split points and traceback tie-breaks are those of `hirschberg`.
    static func bandedHirschberg(_ r: ArraySlice<Int32>, _ h: ArraySlice<Int32>, limit: Int, bound: Int?,
                                 scratch: inout SlotScratch, into ops: inout [EditOperation])
    {
        if r.isEmpty {
            ops.append(contentsOf: repeatElement(.insertion, count: h.count))
            return
        }
        if h.isEmpty {
            ops.append(contentsOf: repeatElement(.deletion, count: r.count))
            return
        }
        if 2 * ((r.count + 63) / 64) * h.count <= limit || h.count == 1 {
            bandedTraceback(r, h, bound: bound, scratch: &scratch, into: &ops)
            return
        }
        let n = r.count
        let m = h.count
        let delta = n - m
        let mid = h.startIndex + m / 2
        let reversedR = ArraySlice(r.reversed())
        let reversedH = ArraySlice(h[mid...].reversed())
        var k = max(bound ?? firstGuess(n, m), abs(delta))
        while true {
            let (lo, hi) = BandedBitParallel.band(n: n, m: m, bound: k)
            let forward = BandedBitParallel.run(pattern: r, text: h[..<mid], lo: lo, hi: hi, scratch: &scratch,
                                                keepHistory: false).lastColumn()
            let backward = BandedBitParallel.run(pattern: reversedR, text: reversedH, lo: delta - hi, hi: delta - lo,
                                                 scratch: &scratch, keepHistory: false).lastColumn()
            var best = 0
            var bestCost = Int.max
            for i in 0...n {
                let cost = forward[i] + backward[n - i]
                if cost < bestCost {
                    bestCost = cost
                    best = i
                }
            }
            if bestCost <= k {
                // The band held every optimal path: both halves' costs are exact.
                let split = r.startIndex + best
                bandedHirschberg(r[..<split], h[..<mid], limit: limit, bound: forward[best], scratch: &scratch,
                                 into: &ops)
                bandedHirschberg(r[split...], h[mid...], limit: limit, bound: backward[n - best], scratch: &scratch,
                                 into: &ops)
                return
            }
            k = nextBound(k, found: bestCost)
        }
    }

    /// `traceback` on banded columns: the greedy walk only reads cells on optimal paths and
    /// their neighbours; the first have their exact values in a wide-enough band and the
    /// others values above what the walk looks for, so it takes the same steps.
    static func bandedTraceback(_ r: ArraySlice<Int32>, _ h: ArraySlice<Int32>, bound: Int?,
                                scratch: inout SlotScratch, into ops: inout [EditOperation])
    {
        let n = r.count
        let m = h.count
        var k = max(bound ?? firstGuess(n, m), abs(n - m))
        if bound == nil {
            // Find a wide-enough bound with cheaper passes that keep no history: a cost found
            // is that of a real alignment, so its band always holds the optimal ones.
            while true {
                let (lo, hi) = BandedBitParallel.band(n: n, m: m, bound: k)
                let found = BandedBitParallel.run(pattern: r, text: h, lo: lo, hi: hi, scratch: &scratch,
                                                  keepHistory: false).score
                if found <= 4 * k {
                    k = found
                    break
                }
                k *= 2
            }
        }
        let (lo, hi) = BandedBitParallel.band(n: n, m: m, bound: k)
        let run = BandedBitParallel.run(pattern: r, text: h, lo: lo, hi: hi, scratch: &scratch, keepHistory: true)
        let history = run.history
        let firsts = run.firsts
        let offsets = run.offsets
        let tops = run.tops
        /// D[i][j] (upper bound outside the band); row i is 1-based, 0 is the empty prefix.
        func cell(_ i: Int, _ j: Int) -> Int {
            if j == 0 { return i }
            let start = 64 * Int(firsts[j - 1])
            let base = offsets[j - 1]
            let words = offsets[j] - base
            if i < start || i > start + 32 * words { return outside }
            var value = tops[j - 1]
            let count = i - start
            let full = count >> 6
            for b in 0..<full {
                value += history[base + 2 * b].nonzeroBitCount - history[base + 2 * b + 1].nonzeroBitCount
            }
            let rest = count & 63
            if rest > 0 {
                let mask = (UInt64(1) << UInt64(rest)) - 1
                value += (history[base + 2 * full] & mask).nonzeroBitCount
                    - (history[base + 2 * full + 1] & mask).nonzeroBitCount
            }
            return value
        }
        var i = n
        var j = m
        var current = run.score
        var reversed: [EditOperation] = []
        reversed.reserveCapacity(i + j)
        while i > 0 || j > 0 {
            if i > 0 && j > 0 {
                if r[r.startIndex + i - 1] == h[h.startIndex + j - 1] {
                    reversed.append(.hit)
                    i -= 1
                    j -= 1
                    continue
                }
                if cell(i - 1, j - 1) == current - 1 {
                    reversed.append(.substitution)
                    i -= 1
                    j -= 1
                    current -= 1
                    continue
                }
            }
            // (i, j) is on an optimal path, so row i lies in column j's blocks: its VP bit
            // says whether D[i − 1][j] = D[i][j] − 1.
            var deletion = i > 0 && j == 0
            if i > 0 && j > 0 {
                let row = i - 1 - 64 * Int(firsts[j - 1])
                deletion = history[offsets[j - 1] + 2 * (row >> 6)] & (UInt64(1) << UInt64(row & 63)) != 0
            }
            if deletion {
                reversed.append(.deletion)
                i -= 1
            } else {
                reversed.append(.insertion)
                j -= 1
            }
            current -= 1
        }
        ops.append(contentsOf: reversed.reversed())
    }

    static func trimCommonAffixes(_ a: inout ArraySlice<Int32>, _ b: inout ArraySlice<Int32>) {
        while let x = a.first, let y = b.first, x == y {
            a = a.dropFirst()
            b = b.dropFirst()
        }
        while let x = a.last, let y = b.last, x == y {
            a = a.dropLast()
            b = b.dropLast()
        }
    }

    /// D[i][m] for i = 0...n: the cost of aligning `reference[..<i]` with all of `hypothesis`.
    static func lastColumn(_ reference: ArraySlice<Int32>, _ hypothesis: ArraySlice<Int32>,
                           scratch: inout SlotScratch) -> [Int]
    {
        var column = [Int](repeating: 0, count: reference.count + 1)
        if reference.isEmpty {
            column[0] = hypothesis.count
            return column
        }
        let run = BitParallel.run(pattern: reference, text: hypothesis, scratch: &scratch, keepHistory: false)
        var value = hypothesis.count
        column[0] = value
        for i in 0..<reference.count {
            let bit = UInt64(1) << UInt64(i & 63)
            if run.vp[i >> 6] & bit != 0 { value += 1 } else if run.vn[i >> 6] & bit != 0 { value -= 1 }
            column[i + 1] = value
        }
        return column
    }

    /// Pieces whose bit-vector history fits in this many 64-bit words (32 MiB) are traced back
    /// directly (one pass); larger ones are split first (Hirschberg).
    static let historyWords = 4 << 20

    static func hirschberg(_ r: ArraySlice<Int32>, _ h: ArraySlice<Int32>, limit: Int, scratch: inout SlotScratch,
                           into ops: inout [EditOperation])
    {
        if r.isEmpty {
            ops.append(contentsOf: repeatElement(.insertion, count: h.count))
            return
        }
        if h.isEmpty {
            ops.append(contentsOf: repeatElement(.deletion, count: r.count))
            return
        }
        if 2 * ((r.count + 63) / 64) * h.count <= limit || h.count == 1 {
            traceback(r, h, scratch: &scratch, into: &ops)
            return
        }
        let mid = h.startIndex + h.count / 2
        let forward = lastColumn(r, h[..<mid], scratch: &scratch)
        let backward = lastColumn(ArraySlice(r.reversed()), ArraySlice(h[mid...].reversed()), scratch: &scratch)
        let n = r.count
        var best = 0
        var bestCost = Int.max
        for i in 0...n {
            let cost = forward[i] + backward[n - i]
            if cost < bestCost {
                bestCost = cost
                best = i
            }
        }
        let split = r.startIndex + best
        hirschberg(r[..<split], h[..<mid], limit: limit, scratch: &scratch, into: &ops)
        hirschberg(r[split...], h[mid...], limit: limit, scratch: &scratch, into: &ops)
    }

    /// One bit-parallel pass keeping every column's vectors, then a walk back from the end.
    /// D[i][j] is read off column j as j + popcount(VP below i) − popcount(VN below i).
    /// Ties prefer a hit or substitution, then a deletion, then an insertion.
    static func traceback(_ r: ArraySlice<Int32>, _ h: ArraySlice<Int32>, scratch: inout SlotScratch,
                          into ops: inout [EditOperation])
    {
        let run = BitParallel.run(pattern: r, text: h, scratch: &scratch, keepHistory: true)
        let blocks = run.blocks
        let history = run.history
        func cell(_ i: Int, _ j: Int) -> Int {
            if j == 0 { return i }
            var value = j
            let base = (j - 1) * blocks * 2
            let full = i >> 6
            for b in 0..<full {
                value += history[base + 2 * b].nonzeroBitCount - history[base + 2 * b + 1].nonzeroBitCount
            }
            let rest = i & 63
            if rest > 0 {
                let mask = (UInt64(1) << UInt64(rest)) - 1
                value += (history[base + 2 * full] & mask).nonzeroBitCount
                    - (history[base + 2 * full + 1] & mask).nonzeroBitCount
            }
            return value
        }
        var i = r.count
        var j = h.count
        var current = run.score
        var reversed: [EditOperation] = []
        reversed.reserveCapacity(i + j)
        while i > 0 || j > 0 {
            if i > 0 && j > 0 {
                if r[r.startIndex + i - 1] == h[h.startIndex + j - 1] {
                    // A match is always on some optimal path.
                    reversed.append(.hit)
                    i -= 1
                    j -= 1
                    continue
                }
                if cell(i - 1, j - 1) == current - 1 {
                    reversed.append(.substitution)
                    i -= 1
                    j -= 1
                    current -= 1
                    continue
                }
            }
            if i > 0 && (j == 0 || history[(j - 1) * blocks * 2 + 2 * ((i - 1) >> 6)] & (UInt64(1) << UInt64((i - 1) & 63)) != 0) {
                reversed.append(.deletion)
                i -= 1
            } else {
                reversed.append(.insertion)
                j -= 1
            }
            current -= 1
        }
        ops.append(contentsOf: reversed.reversed())
    }

    /// Full dynamic-programming table with traceback: the plain algorithm, kept for tests.
    static func tableAlign(_ r: ArraySlice<Int32>, _ h: ArraySlice<Int32>, into ops: inout [EditOperation]) {
        let n = r.count
        let m = h.count
        let width = m + 1
        var d = [Int32](repeating: 0, count: (n + 1) * width)
        for j in 0...m { d[j] = Int32(j) }
        for i in stride(from: 1, through: n, by: 1) {
            d[i * width] = Int32(i)
            let ri = r[r.startIndex + i - 1]
            for j in stride(from: 1, through: m, by: 1) {
                let diagonal = d[(i - 1) * width + j - 1] + (ri == h[h.startIndex + j - 1] ? 0 : 1)
                let up = d[(i - 1) * width + j] + 1
                let left = d[i * width + j - 1] + 1
                d[i * width + j] = min(diagonal, up, left)
            }
        }
        var i = n
        var j = m
        var reversed: [EditOperation] = []
        while i > 0 || j > 0 {
            let here = d[i * width + j]
            if i > 0 && j > 0 {
                let same = r[r.startIndex + i - 1] == h[h.startIndex + j - 1]
                if d[(i - 1) * width + j - 1] + (same ? 0 : 1) == here {
                    reversed.append(same ? .hit : .substitution)
                    i -= 1
                    j -= 1
                    continue
                }
            }
            if i > 0 && d[(i - 1) * width + j] + 1 == here {
                reversed.append(.deletion)
                i -= 1
            } else {
                reversed.append(.insertion)
                j -= 1
            }
        }
        ops.append(contentsOf: reversed.reversed())
    }
}

/// One step of an alignment, read from the reference's side: a hit or substitution
/// consumes one token of each sequence, a deletion one reference token (missing from
/// the output), an insertion one hypothesis token (extra in the output).
public enum EditOperation: UInt8, Sendable, Hashable, Codable {
    case hit, substitution, deletion, insertion
}

/// A token-id → pattern-slot table reused across the passes of one alignment, so text
/// tokens are looked up by index rather than hashed.
struct SlotScratch {
    var slots: [Int32]

    init(alphabet: Int32) {
        slots = [Int32](repeating: -1, count: Int(max(alphabet, 1)))
    }
}

/// Myers' bit-parallel edit distance in Hyyrö's multi-word (block) form.
enum BitParallel {
    struct Run {
        var blocks: Int
        var score: Int
        /// The last column's vertical +1 / −1 delta vectors.
        var vp: [UInt64]
        var vn: [UInt64]
        /// With `keepHistory`: for each text position, the column's (VP, VN) words interleaved per block.
        var history: [UInt64]
    }

    static func run(pattern: ArraySlice<Int32>, text: ArraySlice<Int32>, scratch: inout SlotScratch,
                    keepHistory: Bool) -> Run
    {
        let n = pattern.count
        let blocks = (n + 63) / 64
        // Peq: one row of `blocks` words per distinct pattern token.
        var distinct = 0
        var peq: [UInt64] = []
        peq.reserveCapacity(blocks * min(n, 64))
        for (i, token) in pattern.enumerated() {
            var slot = scratch.slots[Int(token)]
            if slot < 0 {
                slot = Int32(distinct)
                scratch.slots[Int(token)] = slot
                distinct += 1
                peq.append(contentsOf: repeatElement(0, count: blocks))
            }
            peq[Int(slot) * blocks + (i >> 6)] |= UInt64(1) << UInt64(i & 63)
        }
        let textSlots = text.map { (token: Int32) -> Int in
            let t = Int(token)
            return t < scratch.slots.count ? Int(scratch.slots[t]) : -1
        }
        for token in pattern { scratch.slots[Int(token)] = -1 }

        var vp = [UInt64](repeating: ~0, count: blocks)
        var vn = [UInt64](repeating: 0, count: blocks)
        // Every word of the history is written below, column by column, so no zero-fill.
        var history: [UInt64] = keepHistory
            ? [UInt64](unsafeUninitializedCapacity: 2 * blocks * text.count) { _, count in count = 2 * blocks * text.count }
            : []
        var score = n
        let lastShift = UInt64((n - 1) & 63)
        let zero = [UInt64](repeating: 0, count: blocks)
        // The hot loop, on raw pointers: every index is within the arrays sized above.
        peq.withUnsafeBufferPointer { peqBuffer in
            zero.withUnsafeBufferPointer { zeroBuffer in
                vp.withUnsafeMutableBufferPointer { vpBuffer in
                    vn.withUnsafeMutableBufferPointer { vnBuffer in
                        history.withUnsafeMutableBufferPointer { historyBuffer in
                            guard let peqBase = peqBuffer.baseAddress, let zeroRow = zeroBuffer.baseAddress,
                                  let vpp = vpBuffer.baseAddress, let vnp = vnBuffer.baseAddress
                            else { return }
                            let out = keepHistory ? historyBuffer.baseAddress : nil
                            let last = blocks - 1
                            let stride = 2 * blocks
                            var column = 0
                            while column < textSlots.count {
                                let slot = textSlots[column]
                                let eq = slot >= 0 ? peqBase + slot * blocks : zeroRow
                                let row = out.map { $0 + column * stride }
                                var hp: UInt64 = 1, hn: UInt64 = 0
                                for b in 0...last {
                                    Self.step(vpp + b, vnp + b, eq[b], &hp, &hn, b == last ? lastShift : 63, row.map { $0 + 2 * b })
                                }
                                score += Int(hp) - Int(hn)
                                column += 1
                            }
                        }
                    }
                }
            }
        }
        return Run(blocks: blocks, score: score, vp: vp, vn: vn, history: history)
    }

    /// One block of one column (Myers 1999, Hyyrö 2003): updates the block's vertical
    /// deltas in place from the horizontal carry (hp, hn) coming in from the block above,
    /// and leaves the carry going out in (hp, hn). `shift` is the block's last pattern bit.
    @inline(__always)
    static func step(_ vpp: UnsafeMutablePointer<UInt64>, _ vnp: UnsafeMutablePointer<UInt64>, _ eqRaw: UInt64,
                     _ hp: inout UInt64, _ hn: inout UInt64, _ shift: UInt64, _ out: UnsafeMutablePointer<UInt64>?)
    {
        let pv = vpp.pointee
        let mv = vnp.pointee
        let eq = eqRaw | hn
        let xv = eqRaw | mv
        let xh = (((eq & pv) &+ pv) ^ pv) | eq
        let ph = mv | ~(xh | pv)
        let mh = pv & xh
        let phs = (ph &<< 1) | hp
        let mhs = (mh &<< 1) | hn
        hp = (ph &>> shift) & 1
        hn = (mh &>> shift) & 1
        let newVP = mhs | ~(xv | phs)
        let newVN = phs & xv
        vpp.pointee = newVP
        vnp.pointee = newVN
        if let out {
            out[0] = newVP
            out[1] = newVN
        }
    }
}

/// Myers/Hyyrö bit-parallel columns restricted to a diagonal band (Ukkonen 1985): column j
/// (1-based) computes only the 64-row blocks holding rows j + lo … j + hi. Cells outside are
/// taken as reachable by insertions from the left (above the first block) or deletions from
/// above (a block entering at the bottom starts as +1 per row), so every value is the cost
/// of a real alignment, and exact wherever an optimal path to the cell stays in the band.
enum BandedBitParallel {
    struct Run {
        var n: Int
        var blocks: Int
        /// D[n][m], the bottom-right cell.
        var score: Int
        /// Last column: its first block, D at the row above that block, and the vectors of every block.
        var first: Int
        var last: Int
        var top: Int
        var vp: [UInt64]
        var vn: [UInt64]
        /// With history, per column j = 1…m (index j − 1): the first block, D at the row above it,
        /// and where its (VP, VN) words, interleaved per block, start in `history` (`offsets[m]` is the end).
        var firsts: [Int32]
        var tops: [Int]
        var offsets: [Int]
        var history: [UInt64]

        /// D[i][m] for i = 0…n (`EditDistance.outside` where the band did not reach).
        func lastColumn() -> [Int] {
            var column = [Int](repeating: EditDistance.outside, count: n + 1)
            var row = 64 * first
            var value = top
            column[row] = value
            for b in first...last {
                let p = vp[b], q = vn[b]
                var bit = 0
                while bit < 64 && row < n {
                    let mask = UInt64(1) << UInt64(bit)
                    if p & mask != 0 { value += 1 } else if q & mask != 0 { value -= 1 }
                    row += 1
                    column[row] = value
                    bit += 1
                }
            }
            return column
        }
    }

    /// The diagonals (t = i − j) a path of cost ≤ k from (0, 0) to (n, m) can visit.
    static func band(n: Int, m: Int, bound k: Int) -> (lo: Int, hi: Int) {
        let delta = n - m
        let lo = delta - k >= 0 ? (delta - k) / 2 : -((k - delta + 1) / 2)
        let hi = delta + k >= 0 ? (delta + k + 1) / 2 : -((-(delta + k)) / 2)
        return (lo, hi)
    }

    static func run(pattern: ArraySlice<Int32>, text: ArraySlice<Int32>, lo: Int, hi: Int,
                    scratch: inout SlotScratch, keepHistory: Bool) -> Run
    {
        let n = pattern.count
        let m = text.count
        let blocks = (n + 63) / 64
        var distinct = 0
        var peq: [UInt64] = []
        peq.reserveCapacity(blocks * min(n, 64))
        for (i, token) in pattern.enumerated() {
            var slot = scratch.slots[Int(token)]
            if slot < 0 {
                slot = Int32(distinct)
                scratch.slots[Int(token)] = slot
                distinct += 1
                peq.append(contentsOf: repeatElement(0, count: blocks))
            }
            peq[Int(slot) * blocks + (i >> 6)] |= UInt64(1) << UInt64(i & 63)
        }
        let textSlots = text.map { (token: Int32) -> Int in
            let t = Int(token)
            return t < scratch.slots.count ? Int(scratch.slots[t]) : -1
        }
        for token in pattern { scratch.slots[Int(token)] = -1 }

        // Before column 1 every block reads D[i][0] = i: +1 per row.
        var vp = [UInt64](repeating: ~0, count: blocks)
        var vn = [UInt64](repeating: 0, count: blocks)
        // Column j's blocks: first(j) … last(j), both non-decreasing in j.
        func blockRange(_ j: Int) -> (Int, Int) {
            ((max(1, j + lo) - 1) >> 6, (min(n, j + hi) - 1) >> 6)
        }
        var firsts: [Int32] = []
        var offsets: [Int] = []
        var tops: [Int] = []
        var history: [UInt64] = []
        if keepHistory {
            firsts = [Int32](repeating: 0, count: m)
            offsets = [Int](repeating: 0, count: m + 1)
            tops = [Int](repeating: 0, count: m)
            var total = 0
            for column in 0..<m {
                let (f, l) = blockRange(column + 1)
                firsts[column] = Int32(f)
                offsets[column] = total
                total += 2 * (l - f + 1)
            }
            offsets[m] = total
            // Every word is written below, column by column, so no zero-fill.
            history = [UInt64](unsafeUninitializedCapacity: total) { _, count in count = total }
        }
        let lastShift = UInt64((n - 1) & 63)
        var first = 0
        var last = -1
        var top = 0
        let zero = [UInt64](repeating: 0, count: blocks)
        peq.withUnsafeBufferPointer { peqBuffer in
            zero.withUnsafeBufferPointer { zeroBuffer in
                vp.withUnsafeMutableBufferPointer { vpBuffer in
                    vn.withUnsafeMutableBufferPointer { vnBuffer in
                        history.withUnsafeMutableBufferPointer { historyBuffer in
                            tops.withUnsafeMutableBufferPointer { topsBuffer in
                                guard let peqBase = peqBuffer.baseAddress, let zeroRow = zeroBuffer.baseAddress,
                                      let vpp = vpBuffer.baseAddress, let vnp = vnBuffer.baseAddress
                                else { return }
                                var out = keepHistory ? historyBuffer.baseAddress : nil
                                for column in 0..<m {
                                    let (newFirst, newLast) = blockRange(column + 1)
                                    // Blocks leaving at the top: D at the row above the new first block.
                                    while first < newFirst {
                                        top += vpp[first].nonzeroBitCount - vnp[first].nonzeroBitCount
                                        first += 1
                                    }
                                    // Blocks entering at the bottom still hold +1 per row (never stepped).
                                    last = newLast
                                    let slot = textSlots[column]
                                    let eq = slot >= 0 ? peqBase + slot * blocks : zeroRow
                                    var hp: UInt64 = 1, hn: UInt64 = 0
                                    var b = first
                                    if let o = out {
                                        while b < last {
                                            BitParallel.step(vpp + b, vnp + b, eq[b], &hp, &hn, 63, o + 2 * (b - first))
                                            b += 1
                                        }
                                        BitParallel.step(vpp + last, vnp + last, eq[last], &hp, &hn,
                                                         last == blocks - 1 ? lastShift : 63, o + 2 * (last - first))
                                        out = o + 2 * (last - first + 1)
                                    } else {
                                        while b < last {
                                            BitParallel.step(vpp + b, vnp + b, eq[b], &hp, &hn, 63, nil)
                                            b += 1
                                        }
                                        BitParallel.step(vpp + last, vnp + last, eq[last], &hp, &hn,
                                                         last == blocks - 1 ? lastShift : 63, nil)
                                    }
                                    // Row 0, or the row above the first block: +1 from the left.
                                    top += 1
                                    if keepHistory { topsBuffer[column] = top }
                                }
                            }
                        }
                    }
                }
            }
        }
        // D[n][m] = D at the row above the first block + the deltas down to row n.
        var score = top
        if last == blocks - 1 {
            for b in first..<last { score += vp[b].nonzeroBitCount - vn[b].nonzeroBitCount }
            let mask = lastShift == 63 ? ~UInt64(0) : (UInt64(1) << (lastShift + 1)) - 1
            score += (vp[last] & mask).nonzeroBitCount - (vn[last] & mask).nonzeroBitCount
        } else {
            score = EditDistance.outside
        }
        return Run(n: n, blocks: blocks, score: score, first: first, last: last, top: top, vp: vp, vn: vn,
                   firsts: firsts,
                   tops: tops, offsets: offsets, history: history)
    }
}
