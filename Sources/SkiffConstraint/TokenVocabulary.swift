public import SkiffTokenizer

/// A set of token ids as a bitset.
public struct TokenMask: Sendable, Equatable {
    public var words: [UInt64]
    public let count: Int

    public init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    @inline(__always) public func contains(_ id: Int) -> Bool {
        id >= 0 && id < count && words[id >> 6] & (1 << UInt64(id & 63)) != 0
    }
    @inline(__always) public mutating func insert(_ id: Int) { words[id >> 6] |= 1 << UInt64(id & 63) }
    public mutating func removeAll() { for i in words.indices { words[i] = 0 } }
    public mutating func formUnion(_ o: TokenMask) { for i in words.indices { words[i] |= o.words[i] } }
    public var population: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    /// The ids in the set, ascending.
    public var ids: [Int] {
        var out: [Int] = []
        for (w, word) in words.enumerated() {
            var x = word
            while x != 0 {
                out.append(w * 64 + x.trailingZeroBitCount)
                x &= x - 1
            }
        }
        return out
    }
}

/// A byte trie over token strings, flattened into buffers (children sorted by byte). Raw
/// buffers rather than arrays: the mask walks read them millions of times, and array access
/// through a class costs retains and exclusivity checks. Immutable after init.
final class TokenTrie: @unchecked Sendable {
    let edgeStart: UnsafeMutableBufferPointer<Int32>
    let edgeCount: UnsafeMutableBufferPointer<Int32>
    let edgeByte: UnsafeMutableBufferPointer<UInt8>
    let edgeTarget: UnsafeMutableBufferPointer<Int32>
    let tokenStart: UnsafeMutableBufferPointer<Int32>
    let tokenCount: UnsafeMutableBufferPointer<Int32>
    let tokenList: UnsafeMutableBufferPointer<Int32>

    init(_ items: [(Int, [UInt8])]) {
        // Sort tokens by bytes, then emit nodes in creation order.
        let sorted = items.sorted { a, b in a.1.lexicographicallyPrecedes(b.1) }
        var kids: [[(UInt8, Int)]] = [[]]
        var toks: [[Int32]] = [[]]
        for (id, bytes) in sorted {
            var node = 0
            for b in bytes {
                if let last = kids[node].last, last.0 == b {
                    node = last.1
                } else {
                    kids.append([])
                    toks.append([])
                    kids[node].append((b, kids.count - 1))
                    node = kids.count - 1
                }
            }
            toks[node].append(Int32(id))
        }
        var es: [Int32] = [], ec: [Int32] = [], eb: [UInt8] = [], et: [Int32] = []
        var ts: [Int32] = [], tc: [Int32] = [], tl: [Int32] = []
        for n in kids.indices {
            es.append(Int32(eb.count))
            ec.append(Int32(kids[n].count))
            for (b, t) in kids[n] {
                eb.append(b)
                et.append(Int32(t))
            }
            ts.append(Int32(tl.count))
            tc.append(Int32(toks[n].count))
            tl.append(contentsOf: toks[n])
        }
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let p = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
            _ = p.initialize(from: a)
            return UnsafeMutableBufferPointer(rebasing: p[0..<a.count])
        }
        edgeStart = copy(es)
        edgeCount = copy(ec)
        edgeByte = copy(eb)
        edgeTarget = copy(et)
        tokenStart = copy(ts)
        tokenCount = copy(tc)
        tokenList = copy(tl)
    }

    deinit {
        for p in [edgeStart, edgeCount, edgeTarget, tokenStart, tokenCount, tokenList] { p.baseAddress?.deallocate() }
        edgeByte.baseAddress?.deallocate()
    }
}

/// What the mask engine precomputes once per tokenizer: the token trie, and the string
/// "slicer" (XGrammar's context-independent split, for the string body): from a plain
/// position inside a string, which tokens stay inside it (valid content: plain text, escapes,
/// partial UTF-8) — bucketed by the code points they need, so a string body ORs one
/// precomputed bitset — and which ones close it (checked against the full parse state).
public final class TokenVocabulary: Sendable {
    public let size: Int
    public let eos: Int?
    public let tokenBytes: [[UInt8]]
    let trie: TokenTrie
    static let maxBucket = 16
    /// insideUpTo[r]: tokens that stay inside a string and need at most r code points.
    let insideUpTo: [TokenMask]
    /// Tokens that stay inside but need more than `maxBucket` code points.
    let longInside: [(id: Int32, need: Int32)]
    /// Tokens that close the string (valid content, then an unescaped quote).
    let exits: [Int32]
    /// The closing tokens' bytes from the closing quote on, in a trie; exitNeed[id]: the code
    /// points before the quote (-1: not a closing token). Where the content cannot matter,
    /// the parse state steps over the shared suffixes once instead of once per token.
    let exitTrie: TokenTrie
    let exitNeed: [Int32]
    /// The most code points any token that stays inside a string needs: a pattern walk with a
    /// larger budget finds the same tokens, so budgets are capped here (one cache entry, not one per length).
    let maxInsideNeed: Int
    /// Closing tokens: the byte index of the closing quote (-1: not a closing token), and whether
    /// an object key closed by the token could not be decided from its bytes alone by the key
    /// fast path (a backslash before the quote; or two more quotes after it, so a second key
    /// may close within the token).
    let exitAt: [Int32]
    let exitKeySlow: [Bool]

    public convenience init(tokenizer: BPETokenizer) {
        let special = Set(tokenizer.specialTokens.values)
        self.init(tokenBytes: (0..<tokenizer.vocabularySize).map { special.contains($0) ? [] : tokenizer.bytes(of: $0) },
                  eos: tokenizer.eosToken)
    }

    /// A vocabulary from raw token bytes (empty: a special token, never allowed by the grammar).
    public init(tokenBytes: [[UInt8]], eos: Int?) {
        size = tokenBytes.count
        self.eos = eos
        var bytes: [[UInt8]] = []
        var items: [(Int, [UInt8])] = []
        var long: [(id: Int32, need: Int32)] = []
        var exits: [Int32] = []
        var exitSuffixes: [(Int, [UInt8])] = []
        var need = [Int32](repeating: -1, count: tokenBytes.count)
        var maxNeed = 0
        var exitAt = [Int32](repeating: -1, count: tokenBytes.count)
        var exitKeySlow = [Bool](repeating: false, count: tokenBytes.count)
        var buckets = [TokenMask](repeating: TokenMask(count: tokenBytes.count), count: Self.maxBucket + 1)
        for id in 0..<tokenBytes.count {
            let b = id == eos ? [] : tokenBytes[id]
            bytes.append(b)
            guard !b.isEmpty else { continue }
            items.append((id, b))
            var st = StrState()
            var outcome = LexResult.more
            var at = 0
            for (k, x) in b.enumerated() {
                outcome = lexString(&st, x, maxLength: Int.max)
                at = k
                if outcome != .more { break }
            }
            switch outcome {
            case .dead: continue
            case .closed:
                exits.append(Int32(id))
                exitSuffixes.append((id, Array(b[at...])))
                need[id] = st.cps
                exitAt[id] = Int32(at)
                exitKeySlow[id] = b[..<at].contains(0x5C) || b[(at + 1)...].filter { $0 == 0x22 }.count >= 2
            case .more:
                let need = Int(st.cps) + (st.isPlain ? 0 : 1)
                maxNeed = max(maxNeed, need)
                if need <= Self.maxBucket { buckets[need].insert(id) } else { long.append((Int32(id), Int32(need))) }
            }
        }
        for r in 1...Self.maxBucket { buckets[r].formUnion(buckets[r - 1]) }
        self.tokenBytes = bytes
        trie = TokenTrie(items)
        insideUpTo = buckets
        longInside = long
        self.exits = exits
        exitTrie = TokenTrie(exitSuffixes)
        exitNeed = need
        maxInsideNeed = maxNeed
        self.exitAt = exitAt
        self.exitKeySlow = exitKeySlow
    }
}
