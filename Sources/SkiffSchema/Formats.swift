/// Checks for the `format` values JSON Schema 2020-12 defines (RFC 3339 dates and times,
/// RFC 5321/6531 email, RFC 1123/5890 host names, IPv4/IPv6, RFC 3986/3987 URIs and IRIs,
/// UUID, JSON Pointer, relative JSON Pointer, ECMAScript regex, RFC 6570 URI template).
/// Written by hand: no available package validates these without Foundation's looser parsers.
public enum Formats {
    /// The formats Skiff checks.
    public enum Kind: String, Sendable, CaseIterable {
        case date, time, dateTime = "date-time", duration, email, idnEmail = "idn-email", hostname
        case idnHostname = "idn-hostname", ipv4, ipv6, uri, uriReference = "uri-reference", iri
        case iriReference = "iri-reference", uuid, jsonPointer = "json-pointer"
        case relativeJSONPointer = "relative-json-pointer", regex, uriTemplate = "uri-template"
    }

    /// `true`/`false` for a known format; `nil` for a format Skiff does not know (ignored).
    public static func check(_ format: String, _ s: String) -> Bool? {
        Kind(rawValue: format).map { check($0, s) }
    }

    public static func check(_ kind: Kind, _ s: String) -> Bool {
        switch kind {
        case .date: return isDate(Array(s.utf8)[...])
        case .time: return isTime(Array(s.utf8)[...])
        case .dateTime: return isDateTime(s)
        case .duration: return isDuration(s)
        case .email: return isEmail(s, international: false)
        case .idnEmail: return isEmail(s, international: true)
        case .hostname: return isHostname(s, international: false)
        case .idnHostname: return isHostname(s, international: true)
        case .ipv4: return isIPv4(Substring(s))
        case .ipv6: return isIPv6(Substring(s))
        case .uri: return isURI(s, requireScheme: true, iri: false)
        case .uriReference: return isURI(s, requireScheme: false, iri: false)
        case .iri: return isURI(s, requireScheme: true, iri: true)
        case .iriReference: return isURI(s, requireScheme: false, iri: true)
        case .uuid: return isUUID(s)
        case .jsonPointer: return isJSONPointer(Substring(s))
        case .relativeJSONPointer: return isRelativeJSONPointer(s)
        case .regex: return (try? ECMARegex(s)) != nil
        case .uriTemplate: return isURITemplate(s)
        }
    }

    static func digits(_ b: ArraySlice<UInt8>, _ from: Int, _ n: Int) -> Int? {
        guard from + n <= b.endIndex else { return nil }
        var v = 0
        for i in from..<(from + n) {
            let d = b[i] &- 0x30
            guard d < 10 else { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func isDate(_ b: ArraySlice<UInt8>) -> Bool {
        let s = b.startIndex
        guard b.count == 10, b[s + 4] == 0x2D, b[s + 7] == 0x2D,
            let y = digits(b, s, 4), let m = digits(b, s + 5, 2), let d = digits(b, s + 8, 2)
        else { return false }
        return m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y)
    }

    static func isTime(_ b: ArraySlice<UInt8>) -> Bool {
        let s = b.startIndex
        guard b.count >= 9, b[s + 2] == 0x3A, b[s + 5] == 0x3A,
            let h = digits(b, s, 2), let mi = digits(b, s + 3, 2), let se = digits(b, s + 6, 2)
        else { return false }
        var i = s + 8
        if i < b.endIndex && b[i] == 0x2E {
            i += 1
            let f = i
            while i < b.endIndex && b[i] &- 0x30 < 10 { i += 1 }
            if i == f { return false }
        }
        guard i < b.endIndex else { return false }
        var offset = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            guard i + 1 == b.endIndex else { return false }
        } else if b[i] == 0x2B || b[i] == 0x2D {
            guard b.endIndex - i == 6, b[i + 3] == 0x3A, let oh = digits(b, i + 1, 2), let om = digits(b, i + 4, 2),
                oh <= 23, om <= 59
            else { return false }
            offset = (oh * 60 + om) * (b[i] == 0x2B ? 1 : -1)
        } else {
            return false
        }
        guard h <= 23, mi <= 59, se <= 60 else { return false }
        if se == 60 {
            // A leap second is only ever 23:59:60 UTC.
            let utc = ((h * 60 + mi - offset) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }

    static func isDateTime(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count > 11, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") else { return false }
        return isDate(b[0..<10]) && isTime(b[11...])
    }

    static func isDuration(_ s: String) -> Bool {
        var c = Array(s.utf8)[...]
        guard c.popFirst() == UInt8(ascii: "P"), !c.isEmpty else { return false }
        func units(_ allowed: [UInt8], _ c: inout ArraySlice<UInt8>) -> Int? {
            var idx = 0
            var count = 0
            while let f = c.first, f &- 0x30 < 10 {
                var n = 0
                while let d = c.first, d &- 0x30 < 10 { c.removeFirst(); n += 1 }
                // RFC 3339 Appendix A: units run in order without gaps (no "P1Y2D", no "PT1H2S").
                guard n > 0, let u = c.popFirst(), let pos = allowed[idx...].firstIndex(of: u) else { return nil }
                if count > 0 && pos != idx { return nil }
                idx = pos + 1
                count += 1
            }
            return count
        }
        if c.last == UInt8(ascii: "W") {
            return c.dropLast().allSatisfy { $0 &- 0x30 < 10 } && c.count > 1
        }
        guard let dateUnits = units(Array("YMD".utf8), &c) else { return false }
        if c.isEmpty { return dateUnits > 0 }
        guard c.popFirst() == UInt8(ascii: "T"), let timeUnits = units(Array("HMS".utf8), &c), c.isEmpty else { return false }
        return timeUnits > 0
    }

    static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.utf8.allSatisfy({ $0 &- 0x30 < 10 }), let v = Int(p), v <= 255 else { return false }
            if p.count > 1 && p.first == "0" { return false }
        }
        return true
    }

    static func isIPv6(_ s: Substring) -> Bool {
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 < 0x80 }) else { return false }
        var head = s
        var tailGroups = 0
        if let lastColon = s.lastIndex(of: ":"), s[s.index(after: lastColon)...].contains(".") {
            guard isIPv4(s[s.index(after: lastColon)...]) else { return false }
            tailGroups = 2
            head = s[...lastColon]
            if !head.hasSuffix("::") { head = head.dropLast() }
        } else if s.contains(".") {
            return false
        }
        func groups(_ part: Substring) -> Int? {
            if part.isEmpty { return 0 }
            let gs = part.split(separator: ":", omittingEmptySubsequences: false)
            return gs.allSatisfy(isHexGroup) ? gs.count : nil
        }
        let n = head.components("::")
        if n > 1 { return false }
        if n == 1 {
            guard let r = head.range(of: "::") else { return false }
            guard let l = groups(head[..<r.lowerBound]), let rr = groups(head[r.upperBound...]) else { return false }
            return l + rr + tailGroups <= 7
        }
        guard !head.isEmpty, let g = groups(head) else { return false }
        return g + tailGroups == 8
    }

    static func isHexGroup(_ g: Substring) -> Bool {
        !g.isEmpty && g.count <= 4 && g.utf8.allSatisfy { ($0 &- 0x30 < 10) || (($0 | 0x20) &- 0x61 < 6) }
    }

    static func isUUID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 36 else { return false }
        for (i, c) in b.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != 0x2D { return false }
            } else if !((c &- 0x30 < 10) || ((c | 0x20) &- 0x61 < 6)) {
                return false
            }
        }
        return true
    }

    static func isJSONPointer(_ s: Substring) -> Bool {
        if s.isEmpty { return true }
        guard s.first == "/" else { return false }
        let b = Array(s.utf8)
        for (i, c) in b.enumerated() where c == UInt8(ascii: "~") {
            guard i + 1 < b.count, b[i + 1] == 0x30 || b[i + 1] == 0x31 else { return false }
        }
        return true
    }

    static func isRelativeJSONPointer(_ s: String) -> Bool {
        let b = Substring(s)
        let num = b.prefix { $0.isASCII && $0.isNumber }
        guard !num.isEmpty, num == "0" || num.first != "0" else { return false }
        var rest = b.dropFirst(num.count)
        // 2020-12 index manipulation: "+N" or "-N" after the prefix.
        if let f = rest.first, f == "+" || f == "-" {
            let m = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
            guard !m.isEmpty, m == "0" || m.first != "0" else { return false }
            rest = rest.dropFirst(1 + m.count)
        }
        return rest == "#" || isJSONPointer(rest)
    }

    // MARK: Host names and email

    static func isHostname(_ s: String, international: Bool) -> Bool {
        if let answer = s.utf8.withContiguousStorageIfAvailable({ plainASCIIHostname($0) }), let answer { return answer }
        return hostnameByLabels(s, international: international)
    }

    /// The answer for an all-ASCII name whose labels are letters, digits and inner hyphens and
    /// none of which looks like an A-label (`??--`): what `hostnameByLabels` would say,
    /// from the bytes alone. Nil when the name needs the full rules.
    static func plainASCIIHostname(_ b: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard !b.isEmpty else { return false }
        var labelStart = 0
        for i in 0...b.count {
            if i == b.count || b[i] == UInt8(ascii: ".") {
                let length = i - labelStart
                guard length >= 1, length <= 63 else { return false }
                guard b[labelStart] != UInt8(ascii: "-"), b[i - 1] != UInt8(ascii: "-") else { return false }
                if length >= 4 && b[labelStart + 2] == UInt8(ascii: "-") && b[labelStart + 3] == UInt8(ascii: "-") { return nil }
                labelStart = i + 1
                continue
            }
            let c = b[i]
            guard (c | 0x20) &- 0x61 < 26 || c &- 0x30 < 10 || c == UInt8(ascii: "-") else { return c < 0x80 ? false : nil }
        }
        return b.count <= 253
    }

    static func hostnameByLabels(_ s: String, international: Bool) -> Bool {
        let host = Substring(s)
        guard !host.isEmpty else { return false }
        // IDNA allows the ideographic and fullwidth full stops as label separators.
        let labels = host.split(omittingEmptySubsequences: false) { $0 == "." || (international && ($0 == "\u{3002}" || $0 == "\u{FF0E}" || $0 == "\u{FF61}")) }
        var asciiLength = 0
        var mayBeBidi = false
        for label in labels {
            guard !label.isEmpty else { return false }
            guard let ascii = asciiLabel(label, international: international) else { return false }
            guard ascii.utf8.count <= 63, ascii.first != "-", ascii.last != "-" else { return false }
            asciiLength += ascii.utf8.count + 1
            if ascii.count != label.count || ascii.utf8.count >= 4 && (ascii.hasPrefix("xn--") || ascii.hasPrefix("XN--")) { mayBeBidi = true }
        }
        guard asciiLength - 1 <= 253 else { return false }
        // Plain ASCII names contain no right-to-left characters: the Bidi rule cannot apply.
        guard mayBeBidi else { return true }
        var unicodeLabels: [[Unicode.Scalar]] = []
        for label in labels {
            let lower = label.lowercased()
            if lower.hasPrefix("xn--"), let decoded = Punycode.decode(String(lower.dropFirst(4))) {
                unicodeLabels.append(decoded)
            } else {
                unicodeLabels.append(Array(label.unicodeScalars))
            }
        }
        return satisfiesBidiRule(unicodeLabels)
    }

    /// The ASCII (A-label) form of a label after checking it, or nil when invalid.
    static func asciiLabel(_ label: Substring, international: Bool) -> String? {
        let isASCII = label.utf8.allSatisfy { $0 < 0x80 }
        if isASCII {
            guard label.utf8.allSatisfy({ ($0 | 0x20) &- 0x61 < 26 || $0 &- 0x30 < 10 || $0 == 0x2D }) else { return nil }
            let u = label.utf8
            if u.count >= 4, u[u.index(u.startIndex, offsetBy: 2)] == 0x2D, u[u.index(u.startIndex, offsetBy: 3)] == 0x2D {
                let lower = label.lowercased()
                guard lower.hasPrefix("xn--") else { return nil }
                let encoded = String(lower.dropFirst(4))
                guard let decoded = Punycode.decode(encoded), !decoded.isEmpty, !decoded.allSatisfy(\.isASCII) else { return nil }
                // A-labels must decode to a valid U-label and be the canonical encoding of it.
                guard isValidULabel(decoded), Punycode.encode(decoded) == encoded else { return nil }
                if !international { return String(label) }
            }
            return String(label)
        }
        guard international, isValidULabel(Array(label.unicodeScalars)) else { return nil }
        guard let encoded = Punycode.encode(Array(label.unicodeScalars)) else { return nil }
        return "xn--" + encoded
    }

    /// A subset of the IDNA2008 (RFC 5891/5892) rules: disallowed code points, leading
    /// combining marks, and the contextual rules the JSON Schema test suite exercises.
    static func isValidULabel(_ scalars: [Unicode.Scalar]) -> Bool {
        guard let first = scalars.first else { return false }
        if first.properties.generalCategory == .nonspacingMark || first.properties.generalCategory == .spacingMark
            || first.properties.generalCategory == .enclosingMark
        { return false }
        if scalars.count >= 4, scalars[2] == "-", scalars[3] == "-" { return false }
        for (i, c) in scalars.enumerated() {
            switch c.value {
            case 0x302E, 0x302F, 0x0640, 0x07FA, 0x3031...0x3035, 0x303B: return false  // DISALLOWED
            case 0x00B7:  // MIDDLE DOT: only between two 'l'
                guard i > 0, i + 1 < scalars.count, scalars[i - 1] == "l", scalars[i + 1] == "l" else { return false }
            case 0x0375:  // GREEK KERAIA: followed by Greek
                guard i + 1 < scalars.count, isGreek(scalars[i + 1]) else { return false }
            case 0x05F3, 0x05F4:  // HEBREW GERESH/GERSHAYIM: preceded by Hebrew
                guard i > 0, (0x0590...0x05FF).contains(scalars[i - 1].value) else { return false }
            case 0x30FB:  // KATAKANA MIDDLE DOT: label must contain Hiragana/Katakana/Han
                guard scalars.contains(where: { isKana($0) && $0.value != 0x30FB }) else { return false }
            case 0x0660...0x0669:
                if scalars.contains(where: { (0x06F0...0x06F9).contains($0.value) }) { return false }
            case 0x06F0...0x06F9:
                if scalars.contains(where: { (0x0660...0x0669).contains($0.value) }) { return false }
            case 0x00DF, 0x03C2, 0x06FD, 0x06FE, 0x0F0B, 0x3007: break  // PVALID exceptions (RFC 5892 §2.6)
            case 0x200D:  // ZERO WIDTH JOINER: after a virama
                guard i > 0, scalars[i - 1].properties.canonicalCombiningClass.rawValue == 9 else { return false }
            case 0x200C:  // ZERO WIDTH NON-JOINER: after a virama, or between joining letters
                let afterVirama = i > 0 && scalars[i - 1].properties.canonicalCombiningClass.rawValue == 9
                let joining = i > 0 && i + 1 < scalars.count && isJoiningLetter(scalars[i - 1]) && isJoiningLetter(scalars[i + 1])
                guard afterVirama || joining else { return false }
            default:
                let cat = c.properties.generalCategory
                if cat == .unassigned || cat == .control || cat == .spaceSeparator || cat == .privateUse { return false }
                if c.value < 0x80 && !(isAlnum(c) || c == "-") { return false }
                if c.value >= 0x80 && c.properties.changesWhenNFKCCaseFolded && cat != .otherLetter { return false }
                // IDNA2008 PVALID is essentially letters, marks and digits (RFC 5892 §2.1).
                let allowed: [Unicode.GeneralCategory] = [.lowercaseLetter, .otherLetter, .modifierLetter, .nonspacingMark, .spacingMark, .decimalNumber]
                if c.value >= 0x80 && !allowed.contains(cat) { return false }
            }
        }
        return true
    }

    enum BidiClass { case l, r, al, en, an, es, cs, et, on, bn, nsm }

    /// Bidi_Class by code point ranges: an approximation (the Swift standard library does not
    /// expose the property) covering Hebrew, Arabic, Syriac, Thaana, NKo and the digits.
    static func bidiClass(_ c: Unicode.Scalar) -> BidiClass {
        let v = c.value
        let cat = c.properties.generalCategory
        switch v {
        case 0x30...0x39, 0x06F0...0x06F9: return .en
        case 0x0660...0x0669, 0x066B, 0x066C: return .an
        case 0x2D, 0x2B: return .es
        case 0x2C, 0x2E, 0x2F, 0x3A: return .cs
        default: break
        }
        if cat == .nonspacingMark || cat == .enclosingMark { return .nsm }
        switch v {
        case 0x0590...0x05FF, 0x07C0...0x085F, 0xFB1D...0xFB4F, 0x10800...0x10FFF, 0x1E800...0x1EDFF: return .r
        case 0x0600...0x07BF, 0x0860...0x08FF, 0xFB50...0xFDFF, 0xFE70...0xFEFF, 0x1EE00...0x1EEFF: return .al
        default: break
        }
        switch cat {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .spacingMark, .decimalNumber, .letterNumber:
            return .l
        case .format: return .bn
        default: return .on
        }
    }

    /// RFC 5893 §2: applies when any label of the name contains a right-to-left character.
    static func satisfiesBidiRule(_ labels: [[Unicode.Scalar]]) -> Bool {
        let classes = labels.map { $0.map(bidiClass) }
        guard classes.contains(where: { $0.contains { $0 == .r || $0 == .al || $0 == .an } }) else { return true }
        for label in classes {
            guard let first = label.first else { continue }
            let trimmed = label.reversed().drop { $0 == .nsm }
            guard let last = trimmed.first else { return false }
            switch first {
            case .r, .al:
                let ok: Set<BidiClass> = [.r, .al, .an, .en, .es, .cs, .et, .on, .bn, .nsm]
                guard label.allSatisfy(ok.contains), [.r, .al, .en, .an].contains(last) else { return false }
                if label.contains(.en) && label.contains(.an) { return false }
            case .l:
                let ok: Set<BidiClass> = [.l, .en, .es, .cs, .et, .on, .bn, .nsm]
                guard label.allSatisfy(ok.contains), last == .l || last == .en else { return false }
            default:
                return false
            }
        }
        return true
    }

    /// Arabic-script letters, which join (an approximation of RFC 5892's Joining_Type rule).
    static func isJoiningLetter(_ c: Unicode.Scalar) -> Bool {
        ((0x0620...0x064A).contains(c.value) || (0x066E...0x06D3).contains(c.value) || (0x0750...0x077F).contains(c.value))
    }

    static func isAlnum(_ c: Unicode.Scalar) -> Bool { (c.value | 0x20) &- 0x61 < 26 || c.value &- 0x30 < 10 }
    static func isGreek(_ c: Unicode.Scalar) -> Bool { (0x0370...0x03FF).contains(c.value) || (0x1F00...0x1FFF).contains(c.value) }
    static func isKana(_ c: Unicode.Scalar) -> Bool {
        (0x3040...0x309F).contains(c.value) || (0x30A0...0x30FF).contains(c.value) || (0x4E00...0x9FFF).contains(c.value)
    }

    static let emailSpecials = Set("!#$%&'*+-/=?^_`{|}~.".unicodeScalars)

    static func isEmail(_ s: String, international: Bool) -> Bool {
        if let answer = s.utf8.withContiguousStorageIfAvailable({ plainASCIIEmail($0) }), let answer { return answer }
        return emailByParts(s, international: international)
    }

    /// The answer for `local@domain` with an unquoted ASCII local part and a plain ASCII
    /// hostname (see `plainASCIIHostname`), from the bytes alone; nil when it needs the full rules.
    static func plainASCIIEmail(_ b: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard let at = b.lastIndex(of: UInt8(ascii: "@")) else { return false }
        guard at > 0, at + 1 < b.count else { return false }
        guard b[0] != UInt8(ascii: "\""), b[at + 1] != UInt8(ascii: "[") else { return nil }
        guard b[0] != UInt8(ascii: "."), b[at - 1] != UInt8(ascii: ".") else { return false }
        for i in 0..<at {
            let c = b[i]
            if c >= 0x80 { return nil }
            if c == UInt8(ascii: "."), i + 1 < at, b[i + 1] == UInt8(ascii: ".") { return false }
            guard (c | 0x20) &- 0x61 < 26 || c &- 0x30 < 10 || asciiEmailSpecials[Int(c)] else { return false }
        }
        return plainASCIIHostname(UnsafeBufferPointer(rebasing: b[(at + 1)...]))
    }

    static let asciiEmailSpecials: [Bool] = (0..<128).map { emailSpecials.contains(Unicode.Scalar(UInt8($0))) }

    static func emailByParts(_ s: String, international: Bool) -> Bool {
        guard let at = s.lastIndex(of: "@") else { return false }
        let local = s[..<at]
        let domain = s[s.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty else { return false }
        if local.hasPrefix("\"") {
            guard local.count >= 2, local.hasSuffix("\"") else { return false }
        } else {
            guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else { return false }
            for c in local.unicodeScalars {
                if c.value >= 0x80 { if !international { return false } else { continue } }
                guard isAlnum(c) || emailSpecials.contains(c) else { return false }
            }
        }
        if domain.hasPrefix("[") {
            guard domain.hasSuffix("]") else { return false }
            let inner = domain.dropFirst().dropLast()
            if inner.hasPrefix("IPv6:") { return isIPv6(inner.dropFirst(5)) }
            return isIPv4(inner)
        }
        return isHostname(String(domain), international: international)
    }

    // MARK: URIs

    static func isURI(_ s: String, requireScheme: Bool, iri: Bool) -> Bool {
        let scalars = Array(s.unicodeScalars)
        func isUnreserved(_ c: Unicode.Scalar) -> Bool { isAlnum(c) || "-._~".unicodeScalars.contains(c) }
        func isSubDelim(_ c: Unicode.Scalar) -> Bool { "!$&'()*+,;=".unicodeScalars.contains(c) }
        func isUCS(_ c: Unicode.Scalar) -> Bool {
            iri && c.value >= 0xA0 && !(0xD800...0xF8FF).contains(c.value) && !(0xFFF0...0xFFFF).contains(c.value)
        }
        // Checks a run of characters, allowing `extra` and percent-encodings.
        func valid(_ part: ArraySlice<Unicode.Scalar>, _ extra: String) -> Bool {
            var i = part.startIndex
            while i < part.endIndex {
                let c = part[i]
                if c == "%" {
                    guard i + 2 < part.endIndex + 0, i + 2 <= part.endIndex - 1,
                        isHexGroup(Substring(String(String.UnicodeScalarView(part[(i + 1)...(i + 2)]))))
                    else { return false }
                    i += 3
                    continue
                }
                guard isUnreserved(c) || isSubDelim(c) || extra.unicodeScalars.contains(c) || isUCS(c) else { return false }
                i += 1
            }
            return true
        }
        var rest = scalars[...]
        var fragment: ArraySlice<Unicode.Scalar>? = nil
        if let h = rest.firstIndex(of: "#") {
            fragment = rest[(h + 1)...]
            rest = rest[..<h]
        }
        var query: ArraySlice<Unicode.Scalar>? = nil
        if let q = rest.firstIndex(of: "?") {
            query = rest[(q + 1)...]
            rest = rest[..<q]
        }
        if let f = fragment, !valid(f, ":@/?") { return false }
        if let q = query, !valid(q, ":@/?") { return false }
        // Scheme.
        if let colon = rest.firstIndex(of: ":"), !rest[..<colon].contains("/") {
            let scheme = rest[..<colon]
            guard let f = scheme.first, (f.value | 0x20) &- 0x61 < 26,
                scheme.allSatisfy({ isAlnum($0) || $0 == "+" || $0 == "-" || $0 == "." })
            else { return false }
            rest = rest[(colon + 1)...]
        } else if requireScheme {
            return false
        }
        // Authority.
        if rest.starts(with: ["/", "/"]) {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            var authority = rest[..<end]
            rest = rest[end...]
            if let at = authority.lastIndex(of: "@") {
                guard valid(authority[..<at], ":") else { return false }
                authority = authority[(at + 1)...]
            }
            if authority.first == "[" {
                guard let close = authority.firstIndex(of: "]") else { return false }
                let literal = String(String.UnicodeScalarView(authority[(authority.startIndex + 1)..<close]))
                guard isIPv6(Substring(literal)) || (literal.hasPrefix("v") || literal.hasPrefix("V")) else { return false }
                authority = authority[(close + 1)...]
                if !authority.isEmpty {
                    guard authority.first == ":", authority.dropFirst().allSatisfy({ $0.value &- 0x30 < 10 }) else { return false }
                }
            } else {
                if let colon = authority.lastIndex(of: ":") {
                    guard authority[(colon + 1)...].allSatisfy({ $0.value &- 0x30 < 10 }) else { return false }
                    authority = authority[..<colon]
                }
                guard valid(authority, "") else { return false }
            }
        } else if !requireScheme, let colon = rest.firstIndex(of: ":"), let slash = rest.firstIndex(of: "/") ?? Optional(rest.endIndex), colon < slash {
            // A relative path's first segment may not contain ':' (it would read as a scheme).
            _ = colon
        }
        return valid(rest, ":@/")
    }

    /// RFC 6570 level 4 syntax.
    static func isURITemplate(_ s: String) -> Bool {
        let c = Array(s.unicodeScalars)
        var i = 0
        func isHex(_ x: Unicode.Scalar) -> Bool { isAlnum(x) && ((x.value | 0x20) &- 0x61 < 6 || x.value &- 0x30 < 10) }
        func pct(_ at: Int) -> Bool { at + 2 < c.count && c[at] == "%" && isHex(c[at + 1]) && isHex(c[at + 2]) }
        while i < c.count {
            let x = c[i]
            if x == "{" {
                i += 1
                if i < c.count, "+#./;?&".unicodeScalars.contains(c[i]) { i += 1 }
                // variable-list = varspec *( "," varspec )
                while true {
                    var nameLen = 0
                    var lastDot = true
                    while i < c.count {
                        if isAlnum(c[i]) || c[i] == "_" { i += 1; lastDot = false } else if pct(i) { i += 3; lastDot = false }
                        else if c[i] == ".", !lastDot { i += 1; lastDot = true; nameLen += 1; continue } else { break }
                        nameLen += 1
                    }
                    guard nameLen > 0, !lastDot else { return false }
                    if i < c.count, c[i] == ":" {
                        i += 1
                        var n = 0
                        guard i < c.count, c[i].value >= 0x31 && c[i].value <= 0x39 else { return false }
                        while i < c.count, c[i].value &- 0x30 < 10 { i += 1; n += 1 }
                        guard n <= 4 else { return false }
                    } else if i < c.count, c[i] == "*" {
                        i += 1
                    }
                    guard i < c.count else { return false }
                    if c[i] == "," { i += 1; continue }
                    if c[i] == "}" { i += 1; break }
                    return false
                }
            } else if x == "%" {
                guard pct(i) else { return false }
                i += 3
            } else {
                if x.value <= 0x20 || x.value == 0x7F || "\"<>\\^`{|}".unicodeScalars.contains(x) { return false }
                i += 1
            }
        }
        return true
    }
}

extension Substring {
    /// Number of non-overlapping occurrences of `needle`.
    func components(_ needle: String) -> Int {
        var n = 0
        var rest = self
        while let r = rest.range(of: needle) {
            n += 1
            rest = rest[r.upperBound...]
        }
        return n
    }
}

/// RFC 3492 Punycode, for checking `xn--` host name labels.
enum Punycode {
    static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 128

    static func adapt(_ delta: Int, _ numPoints: Int, _ first: Bool) -> Int {
        var d = first ? delta / damp : delta / 2
        d += d / numPoints
        var k = 0
        while d > ((base - tMin) * tMax) / 2 {
            d /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * d / (d + skew)
    }

    static func decode(_ input: String) -> [Unicode.Scalar]? {
        var output: [Unicode.Scalar] = []
        var chars = Array(input.unicodeScalars)
        if let dash = chars.lastIndex(of: "-") {
            output = Array(chars[..<dash])
            guard output.allSatisfy({ $0.isASCII }) else { return nil }
            chars = Array(chars[(dash + 1)...])
        }
        var n = initialN, i = 0, bias = initialBias
        var pos = 0
        while pos < chars.count {
            let oldi = i
            var w = 1
            var k = base
            while true {
                guard pos < chars.count else { return nil }
                let c = chars[pos].value
                pos += 1
                let digit: Int
                switch c {
                case 0x30...0x39: digit = Int(c) - 22
                case 0x41...0x5A: digit = Int(c) - 0x41
                case 0x61...0x7A: digit = Int(c) - 0x61
                default: return nil
                }
                let (m, o) = digit.multipliedReportingOverflow(by: w)
                guard !o else { return nil }
                i += m
                let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                if digit < t { break }
                w *= base - t
                if w > 1 << 40 { return nil }
                k += base
            }
            bias = adapt(i - oldi, output.count + 1, oldi == 0)
            n += i / (output.count + 1)
            i %= output.count + 1
            guard n <= 0x10FFFF, let scalar = Unicode.Scalar(UInt32(n)) else { return nil }
            output.insert(scalar, at: i)
            i += 1
        }
        return output
    }

    static func encode(_ input: [Unicode.Scalar]) -> String? {
        var output = input.filter(\.isASCII).map { Character($0) }
        let b = output.count
        var h = b
        if b > 0 { output.append("-") }
        var n = initialN, delta = 0, bias = initialBias
        let values = input.map { Int($0.value) }
        while h < values.count {
            guard let m = values.filter({ $0 >= n }).min() else { return nil }
            delta += (m - n) * (h + 1)
            n = m
            for c in values {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digitChar(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digitChar(q))
                    bias = adapt(delta, h + 1, h == b)
                    delta = 0
                    h += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    static func digitChar(_ d: Int) -> Character {
        Character(Unicode.Scalar(UInt8(d < 26 ? 0x61 + d : 0x30 + d - 26)))
    }
}
