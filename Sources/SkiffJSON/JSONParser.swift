/// A byte-level JSON parser (RFC 8259) that keeps key order and exact number text.
///
/// Written by hand because Foundation's `JSONSerialization` loses both (numbers become
/// `NSNumber`/`Double`, objects become unordered dictionaries) and reports no line/column.
public struct JSONParser: Sendable {
    /// What to do when an object repeats a key.
    public enum DuplicateKeyPolicy: Sendable {
        /// Throw `JSONError.Kind.duplicateKey` (default: the document is ambiguous).
        case reject
        case keepFirst
        case keepLast
    }

    public var duplicateKeys: DuplicateKeyPolicy
    /// Deepest nesting of arrays and objects accepted.
    public var maxDepth: Int

    public init(duplicateKeys: DuplicateKeyPolicy = .reject, maxDepth: Int = 512) {
        self.duplicateKeys = duplicateKeys
        self.maxDepth = maxDepth
    }

    public func parse(_ text: String) throws(JSONError) -> JSONValue {
        var copy = text
        let result = copy.withUTF8 { buf in Result { () throws(JSONError) -> JSONValue in try parse(buf) } }
        return try result.get()
    }

    public func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buf) throws(JSONError) -> JSONValue in try parse(buf) }
    }

    public func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSONValue {
        var reader = Reader(bytes: buffer, policy: duplicateKeys, maxDepth: maxDepth)
        // A UTF-8 byte order mark is not JSON (RFC 8259 §8.1); it is rejected like any other byte.
        reader.skipWhitespace()
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        if reader.pos < buffer.count {
            throw reader.error(.trailingContent, "unexpected content after the JSON value")
        }
        return value
    }
}

private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    let policy: JSONParser.DuplicateKeyPolicy
    let maxDepth: Int
    var pos = 0
    var scratch: [UInt8] = []
    var stack: StackGuard? = nil

    init(bytes: UnsafeBufferPointer<UInt8>, policy: JSONParser.DuplicateKeyPolicy, maxDepth: Int) {
        self.bytes = bytes
        self.policy = policy
        self.maxDepth = maxDepth
    }

    func error(_ kind: JSONError.Kind, _ message: String, at offset: Int? = nil) -> JSONError {
        let off = min(offset ?? pos, bytes.count)
        var line = 1
        var column = 1
        for i in 0..<off {
            let b = bytes[i]
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONError(kind: kind, message: message, offset: off, line: line, column: column)
    }

    private func describe(_ b: UInt8) -> String {
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        guard pos < bytes.count else { throw error(.unexpectedEnd, "unexpected end of input, expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case let b: throw error(.unexpectedCharacter, "unexpected \(describe(b)), expected a value")
        }
    }

    mutating func expectWord(_ word: StaticString) throws(JSONError) {
        let start = pos
        let n = word.utf8CodeUnitCount
        let p = word.utf8Start
        for i in 0..<n {
            guard pos < bytes.count else { throw error(.unexpectedEnd, "unexpected end of input in '\(word)'") }
            guard bytes[pos] == p[i] else {
                throw error(.unexpectedCharacter, "invalid literal, expected '\(word)'", at: start)
            }
            pos += 1
        }
    }

    mutating func parseNumber() throws(JSONError) -> JSONNumber {
        let start = pos
        @inline(__always) func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] &- 0x30 < 10 }
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard isDigit(pos) else { throw error(.invalidNumber, "invalid number: expected a digit", at: pos) }
        if bytes[pos] == 0x30 {
            pos += 1
            if isDigit(pos) { throw error(.invalidNumber, "invalid number: leading zero", at: start) }
        } else {
            while isDigit(pos) { pos += 1 }
        }
        if pos < bytes.count && bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard isDigit(pos) else { throw error(.invalidNumber, "invalid number: expected a digit after '.'") }
            while isDigit(pos) { pos += 1 }
        }
        if pos < bytes.count && (bytes[pos] | 0x20) == UInt8(ascii: "e") {
            pos += 1
            if pos < bytes.count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard isDigit(pos) else { throw error(.invalidNumber, "invalid number: expected a digit in the exponent") }
            while isDigit(pos) { pos += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        return JSONNumber(uncheckedLiteral: text)
    }

    mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maxDepth { throw error(.tooDeep(limit: maxDepth), "nesting deeper than \(maxDepth) levels") }
        if depth > 64 && depth % 16 == 0 {
            if stack == nil { stack = StackGuard() }
            if stack?.isExhausted() == true {
                throw error(.tooDeep(limit: depth), "nesting of \(depth) levels exhausts this thread's stack")
            }
        }
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < bytes.count else { throw error(.unexpectedEnd, "unexpected end of input in an array, expected ',' or ']'") }
            let b = bytes[pos]
            pos += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "]") { return .array(items) }
            throw error(.unexpectedCharacter, "unexpected \(describe(b)) in an array, expected ',' or ']'", at: pos - 1)
        }
    }

    mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maxDepth { throw error(.tooDeep(limit: maxDepth), "nesting deeper than \(maxDepth) levels") }
        if depth > 64 && depth % 16 == 0 {
            if stack == nil { stack = StackGuard() }
            if stack?.isExhausted() == true {
                throw error(.tooDeep(limit: depth), "nesting of \(depth) levels exhausts this thread's stack")
            }
        }
        pos += 1
        var object = JSONObject()
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard pos < bytes.count else { throw error(.unexpectedEnd, "unexpected end of input in an object, expected a key") }
            guard bytes[pos] == UInt8(ascii: "\"") else {
                throw error(.unexpectedCharacter, "unexpected \(describe(bytes[pos])) in an object, expected a string key")
            }
            let keyStart = pos
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count else { throw error(.unexpectedEnd, "unexpected end of input, expected ':'") }
            guard bytes[pos] == UInt8(ascii: ":") else {
                throw error(.unexpectedCharacter, "unexpected \(describe(bytes[pos])) after an object key, expected ':'")
            }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            if let existing = object.position(of: key) {
                switch policy {
                case .reject: throw error(.duplicateKey(key), "duplicate key \"\(key)\"", at: keyStart)
                case .keepFirst: break
                case .keepLast: object.replaceValue(at: existing, with: value)
                }
            } else {
                object.append(key, value)
            }
            skipWhitespace()
            guard pos < bytes.count else { throw error(.unexpectedEnd, "unexpected end of input in an object, expected ',' or '}'") }
            let b = bytes[pos]
            pos += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "}") { return .object(object) }
            throw error(.unexpectedCharacter, "unexpected \(describe(b)) in an object, expected ',' or '}'", at: pos - 1)
        }
    }

    mutating func parseString() throws(JSONError) -> String {
        pos += 1
        let start = pos
        // Fast path: no escapes. UTF-8 is validated as we go.
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error(.controlCharacterInString, "unescaped control character \(describe(b)) in a string") }
            if b >= 0x80 { try skipUTF8Sequence() } else { pos += 1 }
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if b == UInt8(ascii: "\\") {
                try parseEscape()
            } else if b < 0x20 {
                throw error(.controlCharacterInString, "unescaped control character \(describe(b)) in a string")
            } else if b >= 0x80 {
                let s = pos
                try skipUTF8Sequence()
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[s..<pos]))
            } else {
                scratch.append(b)
                pos += 1
            }
        }
        throw error(.unexpectedEnd, "unterminated string")
    }

    mutating func parseEscape() throws(JSONError) {
        let escStart = pos
        pos += 1
        guard pos < bytes.count else { throw error(.unexpectedEnd, "unterminated escape sequence") }
        let c = bytes[pos]
        pos += 1
        switch c {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var code = try hex4()
            if code >= 0xD800 && code < 0xDC00 {
                guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw error(.loneSurrogate, "lone high surrogate \\u\(String(code, radix: 16, uppercase: true)) without a low surrogate", at: escStart)
                }
                pos += 2
                let low = try hex4()
                guard low >= 0xDC00 && low < 0xE000 else {
                    throw error(.loneSurrogate, "high surrogate \\u\(String(code, radix: 16, uppercase: true)) followed by a non-low-surrogate escape", at: escStart)
                }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if code >= 0xDC00 && code < 0xE000 {
                throw error(.loneSurrogate, "lone low surrogate \\u\(String(code, radix: 16, uppercase: true))", at: escStart)
            }
            guard let scalar = Unicode.Scalar(code) else {
                throw error(.invalidEscape, "invalid code point in escape", at: escStart)
            }
            let v = scalar.value
            switch v {
            case 0..<0x80: scratch.append(UInt8(v))
            case 0x80..<0x800:
                scratch.append(UInt8(0xC0 | v >> 6))
                scratch.append(UInt8(0x80 | v & 0x3F))
            case 0x800..<0x10000:
                scratch.append(UInt8(0xE0 | v >> 12))
                scratch.append(UInt8(0x80 | (v >> 6) & 0x3F))
                scratch.append(UInt8(0x80 | v & 0x3F))
            default:
                scratch.append(UInt8(0xF0 | v >> 18))
                scratch.append(UInt8(0x80 | (v >> 12) & 0x3F))
                scratch.append(UInt8(0x80 | (v >> 6) & 0x3F))
                scratch.append(UInt8(0x80 | v & 0x3F))
            }
        default:
            throw error(.invalidEscape, "invalid escape '\\\(Character(Unicode.Scalar(c)))'", at: escStart)
        }
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error(.unexpectedEnd, "unterminated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - 0x30
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - 0x61 + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - 0x41 + 10
            default: throw error(.invalidEscape, "invalid hex digit \(describe(b)) in \\u escape")
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    /// Validates one multi-byte UTF-8 sequence at `pos` (no overlongs, no surrogates, ≤ U+10FFFF).
    @inline(__always) mutating func skipUTF8Sequence() throws(JSONError) {
        let b0 = bytes[pos]
        let n: Int
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: throw error(.invalidUTF8, "invalid UTF-8 byte 0x\(String(b0, radix: 16, uppercase: true))")
        }
        guard pos + n <= bytes.count else { throw error(.invalidUTF8, "truncated UTF-8 sequence") }
        let b1 = bytes[pos + 1]
        guard b1 >= lo && b1 <= hi else { throw error(.invalidUTF8, "invalid UTF-8 sequence") }
        for k in 2..<max(n, 2) where k < n {
            guard bytes[pos + k] & 0xC0 == 0x80 else { throw error(.invalidUTF8, "invalid UTF-8 sequence") }
        }
        pos += n
    }
}
