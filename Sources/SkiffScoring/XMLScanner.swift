/// A small non-validating XML reader, enough for ALTO and PAGE files: elements with their
/// attributes, character data, the five predefined entities and character references.
///
/// Written by hand so the scorer does not link FoundationXML, whose libxml2 and ICU
/// libraries cost about 2 ms of dynamic loading at every `skiff` start (measured; the rest
/// of scoring a 3,000-character page takes about as long). It reports what Foundation's
/// `XMLParser` reported to `XMLTextExtractor` with namespace processing on: local element
/// names (prefix dropped), attributes by their written names (namespace declarations
/// left out), character data with line ends normalised to \n, CDATA sections, comments,
/// processing instructions and the document type declaration skipped. Attribute values
/// have \t, \n and \r turned into spaces, as XML's attribute-value normalisation requires.
/// Malformed input (unbalanced tags, bad references, unquoted values, nothing but text)
/// is an error with its line and column.
struct XMLScanner {
    struct Failure: Error {
        var line: Int
        var column: Int
        var message: String
    }

    protocol Handler: AnyObject {
        func start(_ name: String, attributes: [String: String])
        func characters(_ text: String)
        func end(_ name: String)
    }

    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
    }

    /// 1-based line and column (in bytes) of byte offset `at`.
    private func location(_ at: Int) -> (Int, Int) {
        var line = 1
        var lineStart = 0
        var k = 0
        while k < min(at, bytes.count) {
            if bytes[k] == 0x0A {
                line += 1
                lineStart = k + 1
            }
            k += 1
        }
        return (line, at - lineStart + 1)
    }

    private func fail(_ message: String, at: Int? = nil) -> Failure {
        let (line, column) = location(at ?? i)
        return Failure(line: line, column: column, message: message)
    }

    private func starts(with literal: String, at position: Int) -> Bool {
        var k = position
        for b in literal.utf8 {
            guard k < bytes.count, bytes[k] == b else { return false }
            k += 1
        }
        return true
    }

    /// Moves past the next `terminator`, or fails.
    private mutating func skip(past terminator: String, what: String) throws(Failure) {
        let start = i
        while i < bytes.count {
            if starts(with: terminator, at: i) {
                i += terminator.utf8.count
                return
            }
            i += 1
        }
        throw fail("unterminated \(what)", at: start)
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    private static func isNameByte(_ b: UInt8) -> Bool {
        // Letters, digits, '_', ':', '-', '.', and any non-ASCII byte (names may be Unicode).
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x3A
            || b == 0x2D || b == 0x2E || b >= 0x80
    }

    private mutating func name() throws(Failure) -> String {
        let start = i
        while i < bytes.count && Self.isNameByte(bytes[i]) { i += 1 }
        guard i > start, !(bytes[start] >= 0x30 && bytes[start] <= 0x39), bytes[start] != 0x2D, bytes[start] != 0x2E
        else { throw fail("expected a name") }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private mutating func skipSpaces() {
        while i < bytes.count && Self.isSpace(bytes[i]) { i += 1 }
    }

    /// Decodes references and line ends in bytes[from..<to]; `attribute` also turns \t \n \r into spaces.
    private func decode(_ from: Int, _ to: Int, attribute: Bool) throws(Failure) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(to - from)
        var k = from
        while k < to {
            let b = bytes[k]
            if b == 0x26 {  // &
                var end = k + 1
                while end < to && bytes[end] != 0x3B { end += 1 }
                guard end < to else { throw fail("unterminated entity reference", at: k) }
                let entity = String(decoding: bytes[(k + 1)..<end], as: UTF8.self)
                switch entity {
                case "lt": out.append(0x3C)
                case "gt": out.append(0x3E)
                case "amp": out.append(0x26)
                case "quot": out.append(0x22)
                case "apos": out.append(0x27)
                default:
                    var value: UInt32?
                    if entity.hasPrefix("#x") {
                        value = UInt32(entity.dropFirst(2), radix: 16)
                    } else if entity.hasPrefix("#") {
                        value = UInt32(entity.dropFirst(1), radix: 10)
                    }
                    guard let v = value, let scalar = Unicode.Scalar(v), v != 0 else {
                        throw fail("undefined entity '&\(entity);'", at: k)
                    }
                    out.append(contentsOf: String(Character(scalar)).utf8)
                }
                k = end + 1
            } else if b == 0x0D {
                // \r\n and lone \r become \n (XML end-of-line handling).
                out.append(attribute ? 0x20 : 0x0A)
                k += (k + 1 < to && bytes[k + 1] == 0x0A) ? 2 : 1
            } else if attribute && (b == 0x0A || b == 0x09) {
                out.append(0x20)
                k += 1
            } else if b == 0x3C && attribute {
                throw fail("'<' in an attribute value", at: k)
            } else {
                out.append(b)
                k += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw fail("not UTF-8", at: from) }
        return text
    }

    private static func localName(_ qualified: String) -> String {
        guard let colon = qualified.lastIndex(of: ":") else { return qualified }
        return String(qualified[qualified.index(after: colon)...])
    }

    mutating func parse(_ handler: some Handler) throws(Failure) {
        var open: [String] = []
        var sawRoot = false
        while i < bytes.count {
            if bytes[i] != 0x3C {
                let start = i
                while i < bytes.count && bytes[i] != 0x3C { i += 1 }
                if open.isEmpty {
                    guard bytes[start..<i].allSatisfy(Self.isSpace) else {
                        throw fail(sawRoot ? "extra content at the end of the document" : "content before the root element", at: start)
                    }
                    continue
                }
                handler.characters(try decode(start, i, attribute: false))
                continue
            }
            if starts(with: "<?", at: i) {
                try skip(past: "?>", what: "processing instruction")
            } else if starts(with: "<!--", at: i) {
                try skip(past: "-->", what: "comment")
            } else if starts(with: "<![CDATA[", at: i) {
                guard !open.isEmpty else { throw fail("CDATA outside the root element") }
                try skip(past: "]]>", what: "CDATA section")
            } else if starts(with: "<!DOCTYPE", at: i) {
                let start = i
                var depth = 0
                while i < bytes.count {
                    let b = bytes[i]
                    i += 1
                    if b == 0x5B { depth += 1 } else if b == 0x5D { depth -= 1 } else if b == 0x3E && depth <= 0 { break }
                }
                guard i <= bytes.count, bytes[i - 1] == 0x3E else { throw fail("unterminated DOCTYPE", at: start) }
            } else if starts(with: "</", at: i) {
                let tagStart = i
                i += 2
                let qualified = try name()
                skipSpaces()
                guard i < bytes.count, bytes[i] == 0x3E else { throw fail("expected '>'") }
                i += 1
                guard let top = open.last, top == qualified else {
                    throw fail("opening and ending tag mismatch: \(open.last ?? "(none)") and \(qualified)", at: tagStart)
                }
                open.removeLast()
                handler.end(Self.localName(qualified))
            } else {
                guard !(open.isEmpty && sawRoot) else { throw fail("extra content at the end of the document") }
                i += 1
                let qualified = try name()
                var attributes: [String: String] = [:]
                var selfClosing = false
                while true {
                    let hadSpace = i < bytes.count && Self.isSpace(bytes[i])
                    skipSpaces()
                    guard i < bytes.count else { throw fail("unterminated start tag '\(qualified)'") }
                    if bytes[i] == 0x3E {
                        i += 1
                        break
                    }
                    if bytes[i] == 0x2F {
                        guard i + 1 < bytes.count, bytes[i + 1] == 0x3E else { throw fail("expected '/>'") }
                        i += 2
                        selfClosing = true
                        break
                    }
                    guard hadSpace else { throw fail("attributes must be separated by white space") }
                    let attribute = try name()
                    skipSpaces()
                    guard i < bytes.count, bytes[i] == 0x3D else { throw fail("expected '=' after attribute '\(attribute)'") }
                    i += 1
                    skipSpaces()
                    guard i < bytes.count, bytes[i] == 0x22 || bytes[i] == 0x27 else {
                        throw fail("attribute value of '\(attribute)' must be quoted")
                    }
                    let quote = bytes[i]
                    i += 1
                    let valueStart = i
                    while i < bytes.count && bytes[i] != quote { i += 1 }
                    guard i < bytes.count else { throw fail("unterminated attribute value", at: valueStart) }
                    let value = try decode(valueStart, i, attribute: true)
                    i += 1
                    // Namespace declarations are not attributes once namespaces are processed.
                    if attribute == "xmlns" || attribute.hasPrefix("xmlns:") { continue }
                    if attributes[attribute] == nil { attributes[attribute] = value }
                }
                sawRoot = true
                let local = Self.localName(qualified)
                handler.start(local, attributes: attributes)
                if selfClosing {
                    handler.end(local)
                } else {
                    open.append(qualified)
                }
            }
        }
        guard sawRoot else { throw fail("no root element") }
        guard open.isEmpty else { throw fail("premature end of data: '\(open.last ?? "")' is not closed") }
    }
}
