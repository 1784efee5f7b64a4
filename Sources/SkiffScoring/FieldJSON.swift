public import SkiffJSON

extension JSONValue {
    /// Parses a fields file the way `json.loads` reads it for Donut's evaluator (a repeated
    /// key keeps its last value), with errors that name the file, line and column.
    public static func parse(_ bytes: [UInt8], path: String) throws(ScoringError) -> JSONValue {
        do {
            return try JSONParser(duplicateKeys: .keepLast).parse(bytes)
        } catch {
            throw .malformed(path: path, location: "\(error.line):\(error.column)", reason: "invalid JSON: \(error.message)")
        }
    }

    /// Python truthiness after `json.loads`.
    var isFalsy: Bool {
        switch self {
        case .null: true
        case .bool(let b): !b
        case .number(let n): n.decimal.isZero
        case .string(let s): s.isEmpty
        case .array(let a): a.isEmpty
        case .object(let o): o.isEmpty
        }
    }

    /// Python's `str()` of the loaded value (scalars only are used): integers as written
    /// (`-0` as `0`), other numbers as Python prints a float — the shortest repr, which is
    /// the form Swift's `description` uses too.
    var pythonString: String {
        switch self {
        case .string(let s): s
        case .number(let n): n.pythonString
        case .bool(let b): b ? "True" : "False"
        case .null: "None"
        case .array, .object: ""
        }
    }
}

extension JSONNumber {
    var pythonString: String {
        let text = literal
        guard text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            let digits = text.drop { $0 == "-" }.drop { $0 == "0" }
            if digits.isEmpty { return "0" }
            return (text.hasPrefix("-") ? "-" : "") + digits
        }
        guard let d = Double(text) else { return text }
        return d.isInfinite ? (d > 0 ? "inf" : "-inf") : d.description
    }
}
