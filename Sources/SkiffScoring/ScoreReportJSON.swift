/// The score reports as JSON text, written directly: the same bytes `ScoreReport.encode`
/// (Foundation's JSONEncoder: pretty printed, sorted keys, slashes unescaped, non-finite
/// numbers as strings) gives for `Document` and `Folder`, checked by tests, without
/// JSONEncoder's runtime reflection over Codable types, which costs about as much at
/// start-up as scoring a small page.
extension ScoreReport {
    public static func json(_ document: Document) -> String {
        var w = PrettyJSONWriter()
        w.write(document)
        return w.text
    }

    public static func json(_ folder: Folder) -> String {
        var w = PrettyJSONWriter()
        w.beginObject()
        w.key("cer"); w.number(folder.cer)
        w.key("characters"); w.write(folder.characters)
        w.key("definition"); w.string(folder.definition)
        w.key("documents")
        w.beginArray()
        for d in folder.documents {
            w.element()
            w.write(d)
        }
        w.endArray()
        w.key("extra"); w.strings(folder.extra)
        w.key("macro"); w.write(folder.macro)
        w.key("micro"); w.write(folder.micro)
        w.key("missing"); w.strings(folder.missing)
        w.key("orderInsensitive"); w.bool(folder.orderInsensitive)
        w.key("profile"); w.string(folder.profile)
        w.key("wer"); w.number(folder.wer)
        w.key("words"); w.write(folder.words)
        w.endObject()
        return w.text
    }
}

/// JSONEncoder's `.prettyPrinted` layout: two-space indent, `"key" : value`, an empty
/// array or object as an opening line, an empty line and the closing bracket.
struct PrettyJSONWriter {
    private(set) var text = ""
    private var depth = 0
    private var empty: [Bool] = []

    init() {
        text.reserveCapacity(4096)
    }

    private mutating func newline() {
        text.append("\n")
        for _ in 0..<depth { text.append("  ") }
    }

    mutating func beginObject() { open("{") }
    mutating func endObject() { close("}") }
    mutating func beginArray() { open("[") }
    mutating func endArray() { close("]") }

    private mutating func open(_ bracket: String) {
        text.append(bracket)
        depth += 1
        empty.append(true)
    }

    private mutating func close(_ bracket: String) {
        depth -= 1
        if empty.removeLast() { text.append("\n") }
        newline()
        text.append(bracket)
    }

    /// Starts the next member of the current object.
    mutating func key(_ name: String) {
        element()
        string(name)
        text.append(" : ")
    }

    /// Starts the next element of the current array.
    mutating func element() {
        if empty[empty.count - 1] { empty[empty.count - 1] = false } else { text.append(",") }
        newline()
    }

    mutating func bool(_ value: Bool) { text.append(value ? "true" : "false") }
    mutating func int(_ value: Int) { text.append(String(value)) }

    mutating func number(_ value: Double) {
        if value.isNaN { return string("NaN") }
        if value.isInfinite { return string(value < 0 ? "-Infinity" : "Infinity") }
        var s = value.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        text.append(s)
    }

    mutating func string(_ value: String) {
        text.append("\"")
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            text.append(value)
            text.append("\"")
            return
        }
        var start = value.unicodeScalars.startIndex
        var i = start
        let scalars = value.unicodeScalars
        while i != scalars.endIndex {
            let v = scalars[i].value
            if v == 0x22 || v == 0x5C || v < 0x20 {
                text.unicodeScalars.append(contentsOf: scalars[start..<i])
                switch v {
                case 0x22: text.append("\\\"")
                case 0x5C: text.append("\\\\")
                case 0x08: text.append("\\b")
                case 0x0C: text.append("\\f")
                case 0x0A: text.append("\\n")
                case 0x0D: text.append("\\r")
                case 0x09: text.append("\\t")
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    text.append("\\u00")
                    text.unicodeScalars.append(Unicode.Scalar(hex[Int(v >> 4)]))
                    text.unicodeScalars.append(Unicode.Scalar(hex[Int(v & 15)]))
                }
                start = scalars.index(after: i)
            }
            i = scalars.index(after: i)
        }
        text.unicodeScalars.append(contentsOf: scalars[start..<scalars.endIndex])
        text.append("\"")
    }

    mutating func strings(_ values: [String]) {
        beginArray()
        for v in values {
            element()
            string(v)
        }
        endArray()
    }

    mutating func write(_ c: ScoreReport.Counts) {
        beginObject()
        key("deletions"); int(c.deletions)
        key("errors"); int(c.errors)
        key("hits"); int(c.hits)
        key("hypothesis"); int(c.hypothesis)
        key("insertions"); int(c.insertions)
        key("rate"); number(c.rate)
        key("reference"); int(c.reference)
        key("substitutions"); int(c.substitutions)
        endObject()
    }

    mutating func write(_ a: ScoreReport.Average) {
        beginObject()
        key("cer"); number(a.cer)
        key("wer"); number(a.wer)
        endObject()
    }

    mutating func write(_ d: ScoreReport.Document) {
        beginObject()
        key("cer"); number(d.cer)
        key("characters"); write(d.characters)
        if let confusions = d.confusions {
            key("confusions")
            beginArray()
            for c in confusions {
                element()
                beginObject()
                key("errors"); int(c.errors)
                key("key"); string(c.key)
                endObject()
            }
            endArray()
        }
        key("definition"); string(d.definition)
        if let g = d.groundTruth { key("groundTruth"); string(g) }
        key("name"); string(d.name)
        key("orderInsensitive"); bool(d.orderInsensitive)
        if let o = d.output { key("output"); string(o) }
        key("profile"); string(d.profile)
        key("wer"); number(d.wer)
        key("words"); write(d.words)
        endObject()
    }
}
