internal import Foundation

/// How text is normalised and cut into units before counting errors. Each profile
/// reproduces one widely used tool, so numbers can be compared with it.
public enum ScoringProfile: String, CaseIterable, Sendable, Codable {
    /// No normalisation: grapheme clusters compared code point by code point; UAX #29 words.
    case none
    /// Unicode NFC, grapheme clusters, UAX #29 words (dinglehopper's Python API).
    case nfc
    /// dinglehopper's command line: per line strip and NFC, ligatures unjoined
    /// (ﬂ → fl …) and its character equivalences (— → –, ’ → ' …), lines joined with \n.
    case nfcLigatures = "nfc+ligatures"
    /// ocreval / ISRI tools: code points, no normalisation, blanks collapsed and trimmed
    /// per line, blank lines dropped; words lowercased and only missed reference words count.
    case isri
    /// jiwer 4: characters are code points after stripping the ends; words are split on
    /// spaces after collapsing whitespace runs; an empty reference gives the error count.
    case jiwer
    /// NFC, then lowercase (Unicode default case mapping); otherwise as `nfc`.
    case casefold

    /// A sentence for reports: what exactly is counted.
    public var definition: String {
        switch self {
        case .none:
            "CER: Levenshtein distance over extended grapheme clusters of the raw text, compared code point by code point, divided by the reference's cluster count. WER: the same over UAX #29 words, dropping tokens made only of punctuation, symbols, separators, marks or control characters."
        case .nfc:
            "CER: Levenshtein distance over extended grapheme clusters after Unicode NFC, divided by the reference's cluster count (dinglehopper API). WER: the same over UAX #29 words, dropping tokens made only of punctuation, symbols, separators, marks or control characters."
        case .nfcLigatures:
            "As nfc, after dinglehopper's command-line text handling: each line stripped of surrounding whitespace, NFC, ligatures unjoined and its character equivalences applied, lines joined with \\n."
        case .isri:
            "ocreval (ISRI): CER over Unicode code points with no normalisation, after collapsing runs of blanks, trimming blanks at line ends and dropping blank lines; ISRI's 'insertions' are the characters missing from the output (here: deletions). WER: lowercased UAX #29 words; a reference word counts as an error only if the output misses it (extra output words are not errors)."
        case .jiwer:
            "jiwer 4 defaults: CER over code points after stripping whitespace at both ends; WER over words split on ' ' after collapsing runs of 2+ whitespace characters and stripping. With an empty reference the rate is the number of inserted units."
        case .casefold:
            "As nfc, after lowercasing both texts (Unicode default case mapping)."
        }
    }

    /// Profiles that count code points rather than grapheme clusters.
    var countsCodePoints: Bool { self == .isri || self == .jiwer }

    /// The text as this profile compares it at character level.
    func characterText(_ text: String) -> String {
        switch self {
        case .none:
            text
        case .nfc:
            text.nfc
        case .casefold:
            text.nfc.lowercased()
        case .nfcLigatures:
            splitLines(text).map { TextNormalizer.dinglehopperEquivalences($0.pythonStripped) }.joined(separator: "\n")
        case .isri:
            TextNormalizer.isriAccuracyText(text)
        case .jiwer:
            text.pythonStripped
        }
    }

    /// The words this profile compares, in order.
    func words(_ text: String) -> [String] {
        switch self {
        case .none:
            WordSegmenter().words(text).map(String.init)
        case .nfc, .casefold, .nfcLigatures:
            // `text` is already the character-level text of the same profile.
            WordSegmenter().words(text).map(String.init)
        case .isri:
            WordSegmenter().words(text.nfc).map { $0.lowercased() }
        case .jiwer:
            TextNormalizer.jiwerWords(text)
        }
    }

    /// Whether words are counted from the character-level text (true) or the raw text.
    var wordsFromCharacterText: Bool {
        switch self {
        case .none, .nfc, .casefold, .nfcLigatures: true
        case .isri, .jiwer: false
        }
    }
}

/// Lines split on \n, \r\n or \r (Python's universal newlines, as in dinglehopper's reader).
func splitLines(_ text: String) -> [Substring] {
    var lines: [Substring] = []
    var start = text.startIndex
    var i = text.startIndex
    while i < text.endIndex {
        let c = text[i]
        // "\r\n" is a single Character in Swift.
        if c == "\n" || c == "\r" || c == "\r\n" {
            lines.append(text[start..<i])
            i = text.index(after: i)
            start = i
        } else {
            i = text.index(after: i)
        }
    }
    // Python's readlines: no empty last line after a final newline; an empty text has no lines.
    if start < text.endIndex { lines.append(text[start...]) }
    return lines
}

enum TextNormalizer {
    // From dinglehopper 0.11.0 `unjoin_ligatures`, in its order (code points).
    static let ligatures: [([Unicode.Scalar], [Unicode.Scalar])] = table([
        ("\u{EBA6}", "\u{17F}\u{17F}"), ("\u{EBA7}", "\u{17F}\u{17F}i"), ("\u{F502}", "ch"), ("\u{EEC4}", "ck"),
        ("\u{F4F9}", "ll"), ("\u{EBA2}", "\u{17F}i"), ("\u{EADA}", "\u{17F}t"), ("\u{FB01}", "fi"),
        ("\u{FB00}", "ff"), ("\u{FB02}", "fl"), ("\u{FB03}", "ffi"), ("\u{EEC5}", "ct"), ("\u{EEDC}", "tz"),
        ("\u{F532}", "as"), ("\u{F533}", "is"), ("\u{F534}", "us"), ("\u{F535}", "Qu"), ("\u{133}", "ij"),
        ("\u{E8BF}", "q&"), ("\u{EBA5}", "\u{17F}p"), ("\u{FB06}", "st"),
    ])
    // From dinglehopper 0.11.0 `substitute_equivalences`, applied after the ligatures.
    static let equivalences: [([Unicode.Scalar], [Unicode.Scalar])] = table([
        ("\u{E72B}", "\u{FC}"), ("\u{E42C}", "\u{E4}"), ("==", "\u{2013}"), ("\u{2014}", "\u{2013}"),
        ("\u{E644}", "\u{F6}"), ("\u{2019}", "'"), ("\u{2E17}", "-"), ("a\u{364}", "\u{E4}"),
        ("o\u{364}", "\u{F6}"), ("u\u{364}", "\u{FC}"), ("\u{F50E}", "q\u{301}"),
    ])

    private static func table(_ pairs: [(String, String)]) -> [([Unicode.Scalar], [Unicode.Scalar])] {
        pairs.map { (Array($0.0.unicodeScalars), Array($0.1.unicodeScalars)) }
    }

    /// dinglehopper's NFC_SBB normalisation: NFC, unjoin ligatures, then its equivalences.
    static func dinglehopperEquivalences(_ line: String) -> String {
        var scalars = Array(line.nfc.unicodeScalars)
        for (from, to) in ligatures + equivalences { replace(&scalars, from, to) }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars)
        return String(result)
    }

    /// Python's `str.replace` on code points: left to right, non-overlapping.
    static func replace(_ scalars: inout [Unicode.Scalar], _ from: [Unicode.Scalar], _ to: [Unicode.Scalar]) {
        guard let first = from.first, scalars.contains(first) else { return }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var i = 0
        while i < scalars.count {
            if scalars[i] == first, i + from.count <= scalars.count,
               scalars[i..<(i + from.count)].elementsEqual(from)
            {
                out.append(contentsOf: to)
                i += from.count
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        scalars = out
    }

    /// ocreval's `accuracy` view of a text: blanks collapsed and trimmed per line, blank
    /// lines dropped, each kept line ending in \n unless it was the unterminated last line.
    static func isriAccuracyText(_ text: String) -> String {
        var result = ""
        let endsWithNewline = text.hasSuffix("\n") || text.hasSuffix("\r")
        let lines = splitLines(text)
        var kept: [String] = []
        for line in lines {
            var collapsed = ""
            var pendingBlank = false
            for scalar in line.unicodeScalars {
                if isBlank(scalar) {
                    pendingBlank = !collapsed.isEmpty
                } else {
                    if pendingBlank { collapsed.append(" ") }
                    pendingBlank = false
                    collapsed.unicodeScalars.append(scalar)
                }
            }
            if !collapsed.isEmpty { kept.append(collapsed) }
        }
        result = kept.joined(separator: "\n")
        if endsWithNewline && !kept.isEmpty { result.append("\n") }
        return result
    }

    /// Horizontal white space: what ISRI's tools call blanks.
    static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
    }

    /// jiwer 4's default word transform: `\s\s+` → " ", strip, split on " ", drop empties.
    static func jiwerWords(_ text: String) -> [String] {
        var collapsed = String.UnicodeScalarView()
        var run: [Unicode.Scalar] = []
        func flush() {
            if run.count >= 2 { collapsed.append(" ") } else { collapsed.append(contentsOf: run) }
            run.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            if scalar.isPythonSpace { run.append(scalar) } else {
                flush()
                collapsed.append(scalar)
            }
        }
        flush()
        return String(collapsed).pythonStripped.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
}

extension Unicode.Scalar {
    /// Code points that NFC leaves alone next to any other code point of this kind.
    var isInertForNFC: Bool {
        switch value {
        case 0..<0x300, 0x2010...0x2027, 0x2030...0x205E, 0x20A0...0x20C0, 0x2100...0x2125: true
        default: false
        }
    }

    /// Python's `str.isspace()` for one code point (White_Space plus the \x1c–\x1f separators).
    var isPythonSpace: Bool {
        properties.isWhitespace || (0x1C...0x1F).contains(value)
    }
}

extension StringProtocol {
    /// Python's `str.strip()`: whitespace removed from both ends.
    var pythonStripped: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.isPythonSpace }),
              let last = scalars.lastIndex(where: { !$0.isPythonSpace })
        else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[first...last])
        return String(view)
    }

    /// Unicode canonical composition (NFC).
    var nfc: String {
        // Fast path: ASCII is always NFC, and so is any text made only of code points below
        // U+0300 and the inert punctuation, currency and letterlike blocks below (no canonical
        // decomposition, combining class 0, never the second half of a composition; checked
        // with Python's unicodedata). Typical OCR text (Latin-1, dashes, quotes, €, ™) then
        // skips Foundation's normaliser and its CoreFoundation start-up.
        if utf8.allSatisfy({ $0 < 0x80 }) || unicodeScalars.allSatisfy(\.isInertForNFC) { return String(self) }
        return String(self).precomposedStringWithCanonicalMapping
    }
}
