/// Error counts for one unit (characters or words), in the hit/substitution/deletion/
/// insertion convention of jiwer and dinglehopper: a deletion is a reference unit missing
/// from the output, an insertion an extra unit in the output.
public struct ErrorCounts: Sendable, Hashable, Codable {
    public var referenceUnits: Int
    public var hypothesisUnits: Int
    public var hits: Int
    public var substitutions: Int
    public var deletions: Int
    public var insertions: Int
    /// Usually substitutions + deletions + insertions; for `isri` words only the deletions.
    public var errors: Int
    /// errors / referenceUnits, with the edge rules in `ErrorCounts.rate(errors:units:profile:)`.
    public var rate: Double

    public init(referenceUnits: Int, hypothesisUnits: Int, hits: Int, substitutions: Int, deletions: Int,
                insertions: Int, errors: Int, rate: Double)
    {
        self.referenceUnits = referenceUnits
        self.hypothesisUnits = hypothesisUnits
        self.hits = hits
        self.substitutions = substitutions
        self.deletions = deletions
        self.insertions = insertions
        self.errors = errors
        self.rate = rate
    }

    init(operations: [EditOperation], profile: ScoringProfile) {
        var counts = [0, 0, 0, 0]
        for op in operations { counts[Int(op.rawValue)] += 1 }
        let (h, s, d, i) = (counts[0], counts[1], counts[2], counts[3])
        self.init(referenceUnits: h + s + d, hypothesisUnits: h + s + i, hits: h, substitutions: s, deletions: d,
                  insertions: i, errors: s + d + i, rate: Self.rate(errors: s + d + i, units: h + s + d, profile: profile))
    }

    /// The edge rules: no errors → 0 (also when both texts are empty); errors against an
    /// empty reference → +∞ (jiwer: the error count itself); otherwise errors / units,
    /// which may exceed 1.
    public static func rate(errors: Int, units: Int, profile: ScoringProfile) -> Double {
        if errors == 0 { return 0 }
        if units == 0 { return profile == .jiwer ? Double(errors) : .infinity }
        return Double(errors) / Double(units)
    }

    /// Sums counts over documents (micro average: Σ errors / Σ reference units).
    public static func sum(_ all: [ErrorCounts], profile: ScoringProfile) -> ErrorCounts {
        var total = ErrorCounts(referenceUnits: 0, hypothesisUnits: 0, hits: 0, substitutions: 0, deletions: 0,
                                insertions: 0, errors: 0, rate: 0)
        for c in all {
            total.referenceUnits += c.referenceUnits
            total.hypothesisUnits += c.hypothesisUnits
            total.hits += c.hits
            total.substitutions += c.substitutions
            total.deletions += c.deletions
            total.insertions += c.insertions
            total.errors += c.errors
        }
        total.rate = rate(errors: total.errors, units: total.referenceUnits, profile: profile)
        return total
    }
}

/// A text comparison ready for counting: both sides cut into units and mapped to ids.
public struct TokenizedPair: Sendable {
    public var reference: [String]
    public var hypothesis: [String]
    public var referenceIDs: [Int32]
    public var hypothesisIDs: [Int32]

    /// Ids compare tokens by their exact code points (Swift's `==` on strings would
    /// treat canonically equivalent spellings as equal, hiding what `none` must show).
    init(reference: [String], hypothesis: [String]) {
        self.reference = reference
        self.hypothesis = hypothesis
        var ids = TokenIDs()
        referenceIDs = reference.map { ids.id($0) }
        hypothesisIDs = hypothesis.map { ids.id($0) }
    }
}

/// Dense ids for tokens, by exact code points, numbered in order of first appearance.
/// ASCII goes through a table; other single scalars and longer tokens through small
/// open-addressing tables rather than Dictionary, whose generic instantiation for each key
/// type costs a runtime metadata and conformance lookup at start-up (measured: about as
/// much as hashing a page's tokens).
struct TokenIDs {
    private var ascii = [Int32](repeating: -1, count: 128)
    // Single scalars: key slots (UInt32.max = empty) and their ids.
    private var scalarKeys = [UInt32](repeating: .max, count: 256)
    private var scalarIDs = [Int32](repeating: -1, count: 256)
    private var scalarCount = 0
    // Longer tokens: slots hold an index into `texts` (-1 = empty).
    private var textSlots = [Int32](repeating: -1, count: 1024)
    private var texts: [String] = []
    private var textIDs: [Int32] = []
    private(set) var count: Int32 = 0

    mutating func id(_ token: String) -> Int32 {
        var iterator = token.unicodeScalars.makeIterator()
        if let first = iterator.next(), iterator.next() == nil {
            let v = first.value
            if v < 128 {
                if ascii[Int(v)] < 0 {
                    ascii[Int(v)] = count
                    count += 1
                }
                return ascii[Int(v)]
            }
            return scalarID(v)
        }
        return textID(token)
    }

    private mutating func scalarID(_ v: UInt32) -> Int32 {
        var mask = scalarKeys.count - 1
        var i = Int(truncatingIfNeeded: (v &* 0x9E37_79B9) >> 8) & mask
        while scalarKeys[i] != .max {
            if scalarKeys[i] == v { return scalarIDs[i] }
            i = (i + 1) & mask
        }
        if 2 * (scalarCount + 1) > scalarKeys.count {
            // Grow and re-insert, then find the free slot again.
            let oldKeys = scalarKeys
            let oldIDs = scalarIDs
            scalarKeys = [UInt32](repeating: .max, count: 2 * oldKeys.count)
            scalarIDs = [Int32](repeating: -1, count: 2 * oldKeys.count)
            mask = scalarKeys.count - 1
            for (k, key) in oldKeys.enumerated() where key != .max {
                var j = Int(truncatingIfNeeded: (key &* 0x9E37_79B9) >> 8) & mask
                while scalarKeys[j] != .max { j = (j + 1) & mask }
                scalarKeys[j] = key
                scalarIDs[j] = oldIDs[k]
            }
            i = Int(truncatingIfNeeded: (v &* 0x9E37_79B9) >> 8) & mask
            while scalarKeys[i] != .max { i = (i + 1) & mask }
        }
        scalarKeys[i] = v
        scalarIDs[i] = count
        scalarCount += 1
        count += 1
        return count - 1
    }

    /// FNV-1a over the UTF-8 bytes.
    private static func hash(_ text: String) -> Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    private mutating func textID(_ token: String) -> Int32 {
        var mask = textSlots.count - 1
        let h = Self.hash(token)
        var i = h & mask
        while textSlots[i] >= 0 {
            let known = Int(textSlots[i])
            if texts[known].utf8.elementsEqual(token.utf8) { return textIDs[known] }
            i = (i + 1) & mask
        }
        if 2 * (texts.count + 1) > textSlots.count {
            textSlots = [Int32](repeating: -1, count: 2 * textSlots.count)
            mask = textSlots.count - 1
            for (k, text) in texts.enumerated() {
                var j = Self.hash(text) & mask
                while textSlots[j] >= 0 { j = (j + 1) & mask }
                textSlots[j] = Int32(k)
            }
            i = h & mask
            while textSlots[i] >= 0 { i = (i + 1) & mask }
        }
        textSlots[i] = Int32(texts.count)
        texts.append(token)
        textIDs.append(count)
        count += 1
        return count - 1
    }
}

/// The result of scoring one output text against its ground truth.
public struct TextScore: Sendable, Codable {
    public var profile: ScoringProfile
    public var orderInsensitive: Bool
    public var characters: ErrorCounts
    public var words: ErrorCounts
    public var cer: Double { characters.rate }
    public var wer: Double { words.rate }
}

/// Everything a report needs beyond the counts: the units and how they line up.
public struct TextAlignment: Sendable {
    public var characters: TokenizedPair
    public var characterOperations: [EditOperation]
    public var words: TokenizedPair
    public var wordOperations: [EditOperation]
}

/// Computes CER and WER under a profile.
public struct TextScorer: Sendable {
    public var profile: ScoringProfile
    /// Reorder the output's lines to follow the ground truth's before counting.
    public var orderInsensitive: Bool

    public init(profile: ScoringProfile = .nfc, orderInsensitive: Bool = false) {
        self.profile = profile
        self.orderInsensitive = orderInsensitive
    }

    public func score(reference: String, hypothesis: String) -> TextScore {
        score(reference: reference, hypothesis: hypothesis, keepingAlignment: false).0
    }

    /// Scores and also returns the aligned units, for reports.
    public func scoreWithAlignment(reference: String, hypothesis: String) -> (TextScore, TextAlignment) {
        let (score, alignment) = score(reference: reference, hypothesis: hypothesis, keepingAlignment: true)
        // `keepingAlignment: true` always produces one.
        return (score, alignment ?? TextAlignment(characters: TokenizedPair(reference: [], hypothesis: []),
                                                  characterOperations: [],
                                                  words: TokenizedPair(reference: [], hypothesis: []),
                                                  wordOperations: []))
    }

    private func score(reference: String, hypothesis: String, keepingAlignment: Bool)
        -> (TextScore, TextAlignment?)
    {
        let hypothesis = orderInsensitive ? LineReordering.reorder(hypothesis, toFollow: reference) : hypothesis
        let refText = profile.characterText(reference)
        let hypText = profile.characterText(hypothesis)
        let characters = TokenizedPair(reference: units(refText), hypothesis: units(hypText))
        let characterOps = EditDistance.align(characters.referenceIDs, characters.hypothesisIDs)
        let charCounts = ErrorCounts(operations: characterOps, profile: profile)

        let refWords = profile.words(profile.wordsFromCharacterText ? refText : reference)
        let hypWords = profile.words(profile.wordsFromCharacterText ? hypText : hypothesis)
        let words = TokenizedPair(reference: refWords, hypothesis: hypWords)
        let wordCounts: ErrorCounts
        var wordOps: [EditOperation] = []
        if profile == .isri {
            // wordacc: a reference word is an error only if the longest common subsequence misses it.
            let common = LongestCommonSubsequence.length(words.referenceIDs, words.hypothesisIDs)
            let missed = refWords.count - common
            wordCounts = ErrorCounts(referenceUnits: refWords.count, hypothesisUnits: hypWords.count, hits: common,
                                     substitutions: 0, deletions: missed, insertions: hypWords.count - common,
                                     errors: missed,
                                     rate: ErrorCounts.rate(errors: missed, units: refWords.count, profile: profile))
            if keepingAlignment { wordOps = EditDistance.align(words.referenceIDs, words.hypothesisIDs) }
        } else {
            wordOps = EditDistance.align(words.referenceIDs, words.hypothesisIDs)
            wordCounts = ErrorCounts(operations: wordOps, profile: profile)
        }
        let score = TextScore(profile: profile, orderInsensitive: orderInsensitive, characters: charCounts,
                              words: wordCounts)
        guard keepingAlignment else { return (score, nil) }
        return (score, TextAlignment(characters: characters, characterOperations: characterOps, words: words,
                                     wordOperations: wordOps))
    }

    private func units(_ text: String) -> [String] {
        if profile.countsCodePoints {
            return text.unicodeScalars.map { String($0) }
        }
        return text.map { String($0) }
    }
}

/// Length of the longest common subsequence, bit-parallel (Hyyrö 2004, Allison–Dix).
/// Written by hand for the same reason as `EditDistance`.
enum LongestCommonSubsequence {
    static func length(_ a: [Int32], _ b: [Int32]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        let blocks = (a.count + 63) / 64
        var slot: [Int32: Int] = [:]
        var peq: [UInt64] = []
        for (i, token) in a.enumerated() {
            let s = slot[token] ?? {
                let s = slot.count
                slot[token] = s
                peq.append(contentsOf: repeatElement(0, count: blocks))
                return s
            }()
            peq[s * blocks + i / 64] |= UInt64(1) << UInt64(i % 64)
        }
        var v = [UInt64](repeating: ~0, count: blocks)
        for token in b {
            guard let s = slot[token] else { continue }
            var carry: UInt64 = 0
            for k in 0..<blocks {
                let u = v[k] & peq[s * blocks + k]
                let (sum1, o1) = v[k].addingReportingOverflow(u)
                let (sum2, o2) = sum1.addingReportingOverflow(carry)
                carry = (o1 || o2) ? 1 : 0
                v[k] = sum2 | (v[k] & ~u)
            }
        }
        var zeros = 0
        for i in 0..<a.count where v[i / 64] & (UInt64(1) << UInt64(i % 64)) == 0 { zeros += 1 }
        return zeros
    }
}

/// Order-insensitive comparison: the output's lines are put in the order of the ground-truth
/// lines they best match (pairs taken greedily by smallest normalised edit distance, each
/// line used once); an unmatched output line stays after the line it followed. Errors inside lines still count.
enum LineReordering {
    static func reorder(_ hypothesis: String, toFollow reference: String) -> String {
        let refLines = splitLines(reference).map(String.init)
        let hypLines = splitLines(hypothesis).map(String.init)
        guard !refLines.isEmpty, hypLines.count > 1 else { return hypothesis }
        var ids: [Character: Int32] = [:]
        func encode(_ line: String) -> [Int32] {
            line.map { c in
                if let id = ids[c] { return id }
                let id = Int32(ids.count)
                ids[c] = id
                return id
            }
        }
        let r = refLines.map(encode)
        let h = hypLines.map(encode)
        var pairs: [(cost: Double, ref: Int, hyp: Int)] = []
        pairs.reserveCapacity(r.count * h.count)
        for (j, hyp) in h.enumerated() {
            for (i, ref) in r.enumerated() {
                let longest = max(ref.count, hyp.count)
                // Cheap lower bound first: the length difference.
                if longest > 0, Double(abs(ref.count - hyp.count)) / Double(longest) >= 0.75 { continue }
                let d = EditDistance.distance(ref, hyp)
                let cost = longest == 0 ? 0 : Double(d) / Double(longest)
                if cost < 0.75 { pairs.append((cost, i, j)) }
            }
        }
        pairs.sort { ($0.cost, $0.ref, $0.hyp) < ($1.cost, $1.ref, $1.hyp) }
        var refTaken = [Bool](repeating: false, count: r.count)
        var hypFor = [Int?](repeating: nil, count: r.count)
        var hypTaken = [Bool](repeating: false, count: h.count)
        for pair in pairs where !refTaken[pair.ref] && !hypTaken[pair.hyp] {
            refTaken[pair.ref] = true
            hypTaken[pair.hyp] = true
            hypFor[pair.ref] = pair.hyp
        }
        // Matched lines take their ground-truth line's place; an unmatched line stays right
        // after the line it followed in the output, so fragments keep their neighbours.
        var refOf = [Int?](repeating: nil, count: h.count)
        for (i, j) in hypFor.enumerated() { if let j { refOf[j] = i } }
        var keys: [(ref: Int, follower: Int, hyp: Int)] = []
        var anchor = -1
        var follower = 0
        for j in h.indices {
            if let i = refOf[j] {
                anchor = i
                follower = 0
                keys.append((i, 0, j))
            } else {
                follower += 1
                keys.append((anchor, follower, j))
            }
        }
        keys.sort { ($0.ref, $0.follower, $0.hyp) < ($1.ref, $1.follower, $1.hyp) }
        let ordered = keys.map { hypLines[$0.hyp] }
        return ordered.joined(separator: "\n")
    }
}
