public import SkiffImage
public import SkiffJSON
public import SkiffOCR
public import SkiffSchema

/// Why a document could not be extracted. Each message names what and where.
public enum ExtractionError: Error, Sendable, CustomStringConvertible {
    /// The schema is not one an engine can fill (for example not an object).
    case unsupportedSchema(String)
    /// The schema file could not be read or compiled.
    case schema(path: String, reason: String)
    /// The engine asked for cannot run here (no model installed, library missing).
    case engineUnavailable(String)
    /// No output that validates could be made: a required field was not found.
    case noValidOutput(String)
    /// The input could not be decoded or recognised.
    case input(file: String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedSchema(let reason): "unsupported schema: \(reason)"
        case .schema(let path, let reason): "\(path): \(reason)"
        case .engineUnavailable(let reason): "engine unavailable: \(reason)"
        case .noValidOutput(let reason): "no valid output: \(reason)"
        case .input(let file, let reason): "\(file): \(reason)"
        }
    }
}

/// The schema an extraction fills: the JSON Schema itself (to validate every output)
/// and the plan of fields read from it.
public struct ExtractionSchema: Sendable {
    public let value: JSONValue
    public let validator: JSONSchema
    public let plan: FieldPlan
    /// Where it came from, for messages.
    public let name: String

    public init(_ value: JSONValue, name: String) throws(ExtractionError) {
        self.value = value
        self.name = name
        do {
            validator = try JSONSchema(value)
        } catch {
            throw .schema(path: name, reason: "\(error)")
        }
        plan = try FieldPlan(schema: value)
    }

    /// Reads and compiles a schema file.
    public init(contentsOf path: String) throws(ExtractionError) {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            throw .schema(path: path, reason: "cannot read: \(error)")
        }
        let value: JSONValue
        do {
            value = try JSONParser().parse(bytes)
        } catch {
            throw .schema(path: path, reason: "not JSON: \(error)")
        }
        try self.init(value, name: path)
    }
}

/// One OCR reading of a document: its pages as one engine configuration read them.
public struct OCRPass: Sendable {
    /// For provenance, e.g. `tesseract fast psm 4`.
    public var name: String
    public var pages: [OCRPage]

    public init(name: String, pages: [OCRPage]) {
        self.name = name
        self.pages = pages
    }
}

/// How one field was filled.
public struct FieldResult: Sendable {
    public var field: PlannedField
    /// The value written into the document; nil when the field was left out.
    public var value: JSONValue?
    /// The text as printed, when it came from the page.
    public var raw: String?
    public var source: SourceSpan?
    /// 0–1: the rule's strength times the OCR confidence of the words.
    public var confidence: Double
    public var rule: String?
    public var warning: String?

    public init(field: PlannedField, value: JSONValue?, raw: String?, source: SourceSpan?, confidence: Double,
                rule: String?, warning: String?) {
        self.field = field
        self.value = value
        self.raw = raw
        self.source = source
        self.confidence = confidence
        self.rule = rule
        self.warning = warning
    }
}

/// The result for one input: the document (valid against the schema) and where each value came from.
public struct Extraction: Sendable {
    public var document: JSONValue
    public var fields: [FieldResult]
    /// The OCR passes the sources point into.
    public var passes: [String]
    public var engine: String

    public init(document: JSONValue, fields: [FieldResult], passes: [String], engine: String) {
        self.document = document
        self.fields = fields
        self.passes = passes
        self.engine = engine
    }

    public var warnings: [String] { fields.compactMap { f in f.warning.map { "\(f.field.pointer): \($0)" } } }

    /// The per-field provenance, as written to `<stem>.provenance.json`.
    public func provenance(file: String) -> JSONValue {
        var fieldsJSON: [JSONValue] = []
        for f in fields {
            var o = JSONObject()
            o["pointer"] = .string(f.field.pointer)
            o["kind"] = .string(f.field.kind.rawValue)
            o["value"] = f.value ?? .null
            o["raw"] = f.raw.map(JSONValue.string) ?? .null
            if let s = f.source {
                o["page"] = .number(JSONNumber(s.page))
                o["box"] = .array([s.box.x0, s.box.y0, s.box.x1, s.box.y1].map { .number(JSONNumber($0)) })
                o["words"] = .array([.number(JSONNumber(s.words.lowerBound)), .number(JSONNumber(s.words.upperBound))])
                o["ocr"] = .string(passes.indices.contains(s.pass) ? passes[s.pass] : "pass \(s.pass)")
                o["ocr_confidence"] = .number(rounded(s.confidence))
            } else {
                o["page"] = .null
                o["box"] = .null
            }
            o["confidence"] = .number(rounded(f.confidence))
            o["rule"] = f.rule.map(JSONValue.string) ?? .null
            if let w = f.warning { o["warning"] = .string(w) }
            fieldsJSON.append(.object(o))
        }
        var root = JSONObject()
        root["file"] = .string(file)
        root["engine"] = .string(engine)
        root["fields"] = .array(fieldsJSON)
        root["warnings"] = .array(warnings.map(JSONValue.string))
        return .object(root)
    }
}

private func rounded(_ value: Double) -> JSONNumber {
    JSONNumber(literal: String(Double(Int((value * 1000).rounded())) / 1000)) ?? JSONNumber(0)
}

/// An engine that turns a decoded document into schema-valid JSON. The Tesseract rule
/// engine is the baseline and fallback; the vision-language engine plugs in here too.
public protocol ExtractionEngine: Sendable {
    var name: String { get }
    /// Whether `extract` reads OCR passes (the pipeline runs them only for engines that do).
    var needsOCR: Bool { get }
    func extract(_ document: Document, ocr: [OCRPass], schema: ExtractionSchema) throws(ExtractionError) -> Extraction
}
