/// Levenshtein distance and alignment over sequences of token ids.
///
/// Distance: Myers' bit-parallel algorithm in Hyyrö's multi-word form, O(⌈n/64⌉·m)
/// word operations. Alignment: Hirschberg's divide and conquer on top of the same
/// bit-parallel columns, so it needs linear memory and about twice the distance time;
/// it is computed only when counts or a report need it. Written by hand: no available
/// Swift package computes edit distances.
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
        var columns = BitParallelColumns(pattern: a)
        for token in b { columns.advance(token) }
        return columns.score
    }

    /// An optimal alignment of `reference` and `hypothesis`.
    public static func align(_ reference: [Int32], _ hypothesis: [Int32]) -> [EditOperation] {
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
        hirschberg(r, h, into: &ops)
        ops.append(contentsOf: repeatElement(.hit, count: suffix))
        return ops
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
    static func lastColumn(_ reference: ArraySlice<Int32>, _ hypothesis: some Sequence<Int32>, count m: Int)
        -> [Int]
    {
        var column = [Int](repeating: 0, count: reference.count + 1)
        if reference.isEmpty {
            column[0] = m
            return column
        }
        var columns = BitParallelColumns(pattern: reference)
        for token in hypothesis { columns.advance(token) }
        columns.fill(&column, top: m)
        return column
    }

    private static let baseCase = 4096

    static func hirschberg(_ r: ArraySlice<Int32>, _ h: ArraySlice<Int32>, into ops: inout [EditOperation]) {
        if r.isEmpty {
            ops.append(contentsOf: repeatElement(.insertion, count: h.count))
            return
        }
        if h.isEmpty {
            ops.append(contentsOf: repeatElement(.deletion, count: r.count))
            return
        }
        if r.count * h.count <= baseCase || h.count == 1 {
            tableAlign(r, h, into: &ops)
            return
        }
        let mid = h.startIndex + h.count / 2
        let forward = lastColumn(r, h[..<mid], count: mid - h.startIndex)
        let backward = lastColumn(ArraySlice(r.reversed()), h[mid...].reversed(), count: h.endIndex - mid)
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
        hirschberg(r[..<split], h[..<mid], into: &ops)
        hirschberg(r[split...], h[mid...], into: &ops)
    }

    /// Full dynamic-programming table with traceback, for small pieces only.
    /// Ties prefer a hit or substitution, then a deletion, then an insertion.
    static func tableAlign(_ r: ArraySlice<Int32>, _ h: ArraySlice<Int32>, into ops: inout [EditOperation]) {
        let n = r.count
        let m = h.count
        let width = m + 1
        var d = [Int32](repeating: 0, count: (n + 1) * width)
        for j in 0...m { d[j] = Int32(j) }
        for i in 1...n {
            d[i * width] = Int32(i)
            let ri = r[r.startIndex + i - 1]
            for j in 1...m {
                let diagonal = d[(i - 1) * width + j - 1] + (ri == h[h.startIndex + j - 1] ? 0 : 1)
                let up = d[(i - 1) * width + j] + 1
                let left = d[i * width + j - 1] + 1
                d[i * width + j] = min(diagonal, up, left)
            }
        }
        var i = n
        var j = m
        var reversed: [EditOperation] = []
        reversed.reserveCapacity(n + m)
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

/// Myers/Hyyrö vertical delta vectors for one pattern, advanced one text token at a time.
struct BitParallelColumns {
    private let blocks: Int
    private let lastBit: UInt64
    private let length: Int
    /// Peq: for each distinct pattern token, `blocks` words with bit i set where pattern[i] == token.
    private var peq: [UInt64]
    private var slot: [Int32: Int]
    private var vp: [UInt64]
    private var vn: [UInt64]
    private(set) var score: Int

    init(pattern: ArraySlice<Int32>) {
        length = pattern.count
        blocks = (pattern.count + 63) / 64
        lastBit = UInt64(1) << UInt64((pattern.count - 1) % 64)
        slot = [:]
        peq = []
        for (i, token) in pattern.enumerated() {
            let s: Int
            if let known = slot[token] {
                s = known
            } else {
                s = slot.count
                slot[token] = s
                peq.append(contentsOf: repeatElement(0, count: blocks))
            }
            peq[s * blocks + i / 64] |= UInt64(1) << UInt64(i % 64)
        }
        vp = [UInt64](repeating: ~0, count: blocks)
        vn = [UInt64](repeating: 0, count: blocks)
        score = pattern.count
    }

    /// Adds one text token: the column moves from D[·][j] to D[·][j+1].
    mutating func advance(_ token: Int32) {
        let base = slot[token].map { $0 * blocks }
        var carry = 1  // D[0][j+1] - D[0][j] = +1 along the top row.
        vp.withUnsafeMutableBufferPointer { vp in
            vn.withUnsafeMutableBufferPointer { vn in
                peq.withUnsafeBufferPointer { peq in
                    for b in 0..<blocks {
                        var eq: UInt64 = base.map { peq[$0 + b] } ?? 0
                        let pv = vp[b]
                        let mv = vn[b]
                        let xv = eq | mv
                        if carry < 0 { eq |= 1 }
                        let xh = (((eq & pv) &+ pv) ^ pv) | eq
                        var ph = mv | ~(xh | pv)
                        var mh = pv & xh
                        let high: UInt64 = b == blocks - 1 ? lastBit : UInt64(1) << 63
                        let out = (ph & high != 0 ? 1 : 0) - (mh & high != 0 ? 1 : 0)
                        ph <<= 1
                        mh <<= 1
                        if carry < 0 { mh |= 1 } else if carry > 0 { ph |= 1 }
                        vp[b] = mh | ~(xv | ph)
                        vn[b] = ph & xv
                        carry = out
                    }
                }
            }
        }
        score += carry
    }

    /// Writes D[i][j] for i = 0...n into `column`, given D[0][j] = `top`.
    func fill(_ column: inout [Int], top: Int) {
        var value = top
        column[0] = value
        for i in 0..<length {
            let bit = UInt64(1) << UInt64(i % 64)
            if vp[i / 64] & bit != 0 { value += 1 } else if vn[i / 64] & bit != 0 { value -= 1 }
            column[i + 1] = value
        }
    }
}
