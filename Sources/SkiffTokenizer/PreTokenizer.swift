/// Splits text into the pieces BPE runs on, matching the regular expressions the
/// models were trained with.
///
/// Hand-written rather than a regex: Swift's `Regex` and Foundation's
/// `NSRegularExpression` differ from Oniguruma/PCRE2 in lookahead and Unicode
/// class details and are an order of magnitude slower on this hot path; each
/// matcher below follows its pattern alternative by alternative (leftmost
/// alternative wins, greedy quantifiers with the same backtracking outcome).
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// SmolLM: every `\p{N}` character isolated, then the GPT-2 pattern on the rest
    /// (Hugging Face `Digits(individual_digits)` + `ByteLevel`).
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llamaBPE = "llama-bpe"
    /// Qwen2: the Llama 3 pattern with single digits (`\p{N}` instead of `\p{N}{1,3}`).
    case qwen2

    /// Character classes the patterns use.
    enum Class: UInt8 { case letter, number, space, other }

    static func classify(_ s: Unicode.Scalar) -> Class {
        let v = s.value
        if v < 0x80 {
            switch v {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pieces of `text`, as ranges of its Unicode scalars.
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let classes = scalars.map(Self.classify)
        var pieces: [Range<Int>] = []
        switch self {
        case .gpt2: Self.gpt2(scalars, classes, 0..<scalars.count, &pieces)
        case .smollm:
            var start = 0
            for i in 0..<scalars.count where classes[i] == .number {
                if start < i { Self.gpt2(scalars, classes, start..<i, &pieces) }
                pieces.append(i..<i + 1)
                start = i + 1
            }
            if start < scalars.count { Self.gpt2(scalars, classes, start..<scalars.count, &pieces) }
        case .llamaBPE: Self.llama3(scalars, classes, maxDigits: 3, &pieces)
        case .qwen2: Self.llama3(scalars, classes, maxDigits: 1, &pieces)
        }
        return pieces
    }

    /// Length of a contraction ('s 't 're 've 'm 'll 'd) at `i`, or 0.
    private static func contraction(_ s: [Unicode.Scalar], _ i: Int, end: Int, ignoreCase: Bool) -> Int {
        guard s[i] == "'", i + 1 < end else { return 0 }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            ignoreCase && c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 32) ?? c : c
        }
        let a = lower(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        if i + 2 < end {
            let b = lower(s[i + 2])
            if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        }
        return 0
    }

    /// Matches of the whitespace alternatives `\s+(?!\S)|\s+` at `i` (a space).
    private static func whitespace(_ c: [Class], _ i: Int, end: Int) -> Int {
        var j = i
        while j < end && c[j] == .space { j += 1 }
        if j == end { return j - i }
        return j - i > 1 ? j - i - 1 : 1
    }

    private static func gpt2(_ s: [Unicode.Scalar], _ c: [Class], _ range: Range<Int>, _ out: inout [Range<Int>]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            var n = contraction(s, i, end: end, ignoreCase: false)
            if n == 0 {
                // ` ?X+` for X = letter, number, other: the optional space is the ASCII space only.
                let lead = s[i] == " " && i + 1 < end && c[i + 1] != .space ? 1 : 0
                let cls = c[i + lead]
                if cls != .space {
                    var j = i + lead
                    while j < end && c[j] == cls { j += 1 }
                    n = j - i
                } else {
                    n = whitespace(c, i, end: end)
                }
            }
            out.append(i..<i + n)
            i += n
        }
    }

    private static func isNewline(_ s: Unicode.Scalar) -> Bool { s == "\r" || s == "\n" }

    private static func llama3(_ s: [Unicode.Scalar], _ c: [Class], maxDigits: Int, _ out: inout [Range<Int>]) {
        var i = 0
        let end = s.count
        while i < end {
            var n = contraction(s, i, end: end, ignoreCase: true)
            if n == 0 {
                n = llama3Piece(s, c, i, end: end, maxDigits: maxDigits)
            }
            out.append(i..<i + n)
            i += n
        }
    }

    private static func llama3Piece(_ s: [Unicode.Scalar], _ c: [Class], _ i: Int, end: Int, maxDigits: Int) -> Int {
        // [^\r\n\p{L}\p{N}]?\p{L}+
        var j = i
        if c[j] != .letter && c[j] != .number && !isNewline(s[j]) && j + 1 < end && c[j + 1] == .letter { j += 1 }
        if c[j] == .letter {
            while j < end && c[j] == .letter { j += 1 }
            return j - i
        }
        // \p{N}{1,maxDigits}
        if c[i] == .number {
            j = i
            while j < end && j - i < maxDigits && c[j] == .number { j += 1 }
            return j - i
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        j = i
        if s[j] == " " && j + 1 < end && c[j + 1] == .other { j += 1 }
        if c[j] == .other {
            while j < end && c[j] == .other { j += 1 }
            while j < end && isNewline(s[j]) { j += 1 }
            return j - i
        }
        // \s*[\r\n]+ : up to the last newline of the whitespace run.
        j = i
        var lastNewline = -1
        while j < end && c[j] == .space {
            if isNewline(s[j]) { lastNewline = j }
            j += 1
        }
        if lastNewline >= 0 { return lastNewline + 1 - i }
        return whitespace(c, i, end: end)
    }
}
