/// Splits text into words by Unicode UAX #29 word boundaries.
///
/// Written by hand because Foundation's `enumerateSubstrings(options: .byWords)` is
/// unavailable on Linux. The property table (`WordBreakTable.swift`) is generated from
/// uniseg, the library dinglehopper uses, so segmentation matches it exactly; rules
/// WB1–WB999 of UAX #29 (Unicode 16.0). Private-use characters count as letters, as in
/// dinglehopper (historical ligatures live there).
public struct WordSegmenter: Sendable {
    public init() {}

    /// Every segment between two boundaries, spaces and punctuation included.
    public func segments(_ text: String) -> [Substring] {
        let scalars = Array(text.unicodeScalars)
        guard !scalars.isEmpty else { return [] }
        let ascii = Self.asciiProperties
        let props = scalars.map { $0.value < 128 ? ascii[Int($0.value)] : Self.property(of: $0) }
        var result: [Substring] = []
        var indices: [String.Index] = []
        indices.reserveCapacity(scalars.count + 1)
        var i = text.unicodeScalars.startIndex
        while i != text.unicodeScalars.endIndex {
            indices.append(i)
            i = text.unicodeScalars.index(after: i)
        }
        indices.append(text.endIndex)
        var start = 0
        for position in 1..<scalars.count where Self.isBoundary(before: position, props) {
            result.append(text[indices[start]..<indices[position]])
            start = position
        }
        result.append(text[indices[start]..<indices[scalars.count]])
        return result
    }

    /// The words: segments that hold at least one character other than punctuation,
    /// symbols, separators, marks and control or format characters (dinglehopper's rule).
    public func words(_ text: String) -> [Substring] {
        let ascii = Self.asciiUnwanted
        return segments(text).filter { segment in
            segment.unicodeScalars.contains { $0.value < 128 ? !ascii[Int($0.value)] : !Self.isUnwanted($0) }
        }
    }

    /// `property(of:)` and `isUnwanted` for ASCII, computed once from the same functions.
    static let asciiProperties: [Property] = (0..<128).map { property(of: Unicode.Scalar(UInt8($0))) }
    static let asciiUnwanted: [Bool] = (0..<128).map { isUnwanted(Unicode.Scalar(UInt8($0))) }

    static func isUnwanted(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .spaceSeparator, .lineSeparator, .paragraphSeparator,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
             .control, .format:
            true
        default:
            false
        }
    }

    // Word_Break values, as numbered by the generator.
    enum WB: UInt8 {
        case other = 0, cr, lf, newline, extend, zwj, regionalIndicator, format, katakana, hebrewLetter,
             aLetter, singleQuote, doubleQuote, midNumLet, midLetter, midNum, numeric, extendNumLet, wSegSpace
    }

    struct Property {
        var wb: WB
        var pictographic: Bool
    }

    static func property(of scalar: Unicode.Scalar) -> Property {
        let v = scalar.value
        if (0xE000...0xF8FF).contains(v) { return Property(wb: .aLetter, pictographic: false) }
        // Binary search over (first, last, value) triples.
        var lo = 0
        var hi = wordBreakRanges.count / 3 - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let first = wordBreakRanges[mid * 3]
            let last = wordBreakRanges[mid * 3 + 1]
            if v < first {
                hi = mid - 1
            } else if v > last {
                lo = mid + 1
            } else {
                let code = wordBreakRanges[mid * 3 + 2]
                return Property(wb: WB(rawValue: UInt8(code & 0x7F)) ?? .other, pictographic: code & 0x80 != 0)
            }
        }
        return Property(wb: .other, pictographic: false)
    }

    private static func isIgnorable(_ wb: WB) -> Bool { wb == .extend || wb == .format || wb == .zwj }
    private static func isAHLetter(_ wb: WB) -> Bool { wb == .aLetter || wb == .hebrewLetter }
    private static func isMidNumLetQ(_ wb: WB) -> Bool { wb == .midNumLet || wb == .singleQuote }
    private static func isNewlineLike(_ wb: WB) -> Bool { wb == .newline || wb == .cr || wb == .lf }

    /// Whether UAX #29 puts a word boundary between scalars `position - 1` and `position`.
    static func isBoundary(before position: Int, _ p: [Property]) -> Bool {
        let left = p[position - 1].wb
        let right = p[position].wb
        if left == .cr && right == .lf { return false }                         // WB3
        if isNewlineLike(left) || isNewlineLike(right) { return true }          // WB3a, WB3b
        if left == .zwj && p[position].pictographic { return false }            // WB3c
        if left == .wSegSpace && right == .wSegSpace { return false }           // WB3d
        if isIgnorable(right) { return false }                                  // WB4
        // WB4: look through Extend/Format/ZWJ to the previous real character.
        var l = position - 1
        while l > 0 && isIgnorable(p[l].wb) { l -= 1 }
        let a = p[l].wb
        if isIgnorable(a) || isNewlineLike(a) {
            // Only ignorables back to the start, or after a newline: no character to attach to.
            if l == position - 1 { return true }
        }
        // The character before `a`, again skipping ignorables.
        func previous(_ index: Int) -> WB? {
            var k = index - 1
            while k >= 0 && isIgnorable(p[k].wb) { k -= 1 }
            return k >= 0 ? p[k].wb : nil
        }
        // The character after `right`, skipping ignorables.
        func next(_ index: Int) -> WB? {
            var k = index + 1
            while k < p.count && isIgnorable(p[k].wb) { k += 1 }
            return k < p.count ? p[k].wb : nil
        }
        let b = right
        if isAHLetter(a) && isAHLetter(b) { return false }                      // WB5
        if isAHLetter(a) && (b == .midLetter || isMidNumLetQ(b)),
           let c = next(position), isAHLetter(c) { return false }               // WB6
        if (a == .midLetter || isMidNumLetQ(a)) && isAHLetter(b),
           let z = previous(l), isAHLetter(z) { return false }                  // WB7
        if a == .hebrewLetter && b == .singleQuote { return false }             // WB7a
        if a == .hebrewLetter && b == .doubleQuote,
           let c = next(position), c == .hebrewLetter { return false }          // WB7b
        if a == .doubleQuote && b == .hebrewLetter,
           let z = previous(l), z == .hebrewLetter { return false }             // WB7c
        if a == .numeric && b == .numeric { return false }                      // WB8
        if isAHLetter(a) && b == .numeric { return false }                      // WB9
        if a == .numeric && isAHLetter(b) { return false }                      // WB10
        if (a == .midNum || isMidNumLetQ(a)) && b == .numeric,
           let z = previous(l), z == .numeric { return false }                  // WB11
        if a == .numeric && (b == .midNum || isMidNumLetQ(b)),
           let c = next(position), c == .numeric { return false }               // WB12
        if a == .katakana && b == .katakana { return false }                    // WB13
        if (isAHLetter(a) || a == .numeric || a == .katakana || a == .extendNumLet)
            && b == .extendNumLet { return false }                              // WB13a
        if a == .extendNumLet && (isAHLetter(b) || b == .numeric || b == .katakana) { return false } // WB13b
        if a == .regionalIndicator && b == .regionalIndicator {                 // WB15, WB16
            // Break only after an even number of RIs (ignorables skipped).
            var count = 0
            var k = l
            while k >= 0 {
                if isIgnorable(p[k].wb) { k -= 1; continue }
                guard p[k].wb == .regionalIndicator else { break }
                count += 1
                k -= 1
            }
            return count % 2 == 0
        }
        return true                                                             // WB999
    }
}
