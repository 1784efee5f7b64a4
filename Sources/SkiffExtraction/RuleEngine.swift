public import SkiffImage
import SkiffJSON

/// The Tesseract fallback without a language model: finds candidates for each field with
/// `CandidateFinder`, lets the OCR passes vote, and fills the schema with the best one.
/// Fields it has no finder for are left out (or null) with a warning, never guessed.
public struct RuleEngine: ExtractionEngine {
    public var name: String { "tesseract+rules" }
    public var needsOCR: Bool { true }
    /// Below this confidence a field carries a warning.
    public var warningThreshold: Double

    public init(warningThreshold: Double = 0.35) {
        self.warningThreshold = warningThreshold
    }

    public func extract(_ document: Document, ocr: [OCRPass], schema: ExtractionSchema) throws(ExtractionError) -> Extraction {
        let lines = ocr.enumerated().flatMap { pass, reading in reading.pages.flatMap { $0.sourceLines(pass: pass) } }
        let finder = CandidateFinder(lines: lines)
        var cache: [FieldKind: Candidate?] = [:]
        var results: [FieldResult] = []
        for field in schema.plan.fields {
            let best: Candidate?
            if let cached = cache[field.kind] {
                best = cached
            } else {
                best = Self.choose(finder.candidates(for: field.kind), passes: ocr.count)
                cache[field.kind] = best
            }
            results.append(fill(field, with: best))
        }
        return try DocumentBuilder.build(results, schema: schema, passes: ocr.map(\.name), engine: name)
    }

    /// The candidate with the highest strength, where a value read the same way by
    /// several OCR passes counts for more, and OCR confidence breaks ties.
    static func choose(_ candidates: [Candidate], passes: Int) -> Candidate? {
        guard !candidates.isEmpty else { return nil }
        var votes: [String: Set<Int>] = [:]
        for c in candidates { votes[c.normalized.uppercased(), default: []].insert(c.span.pass) }
        func score(_ c: Candidate) -> Double {
            let agreeing = Double((votes[c.normalized.uppercased()]?.count ?? 1) - 1)
            return c.strength + 0.1 * agreeing / Double(max(1, passes - 1)) + 0.05 * c.span.confidence
        }
        return candidates.max { score($0) < score($1) }
    }

    func fill(_ field: PlannedField, with candidate: Candidate?) -> FieldResult {
        guard let candidate else {
            return FieldResult(field: field, value: nil, raw: nil, source: nil, confidence: 0, rule: nil,
                               warning: field.kind == .other ? "no rule reads this field; needs a model engine" : "not found on the page")
        }
        let value: JSONValue?
        switch field.kind {
        case .total, .subtotal, .tax:
            if field.types.number || field.types.integer, let n = JSONNumber(literal: candidate.normalized) {
                value = .number(n)
            } else {
                value = field.types.string ? .string(candidate.raw.collapsingSpaces()) : nil
            }
        case .date, .dueDate:
            value = field.types.string ? .string(field.isoDate ? candidate.normalized : candidate.raw.collapsingSpaces()) : nil
        case .currency:
            value = field.types.string ? .string(candidate.normalized) : nil
        case .company, .address, .invoiceNumber, .other:
            value = field.types.string ? .string(candidate.raw.collapsingSpaces()) : nil
        }
        let confidence = candidate.strength * candidate.span.confidence
        return FieldResult(
            field: field, value: value, raw: candidate.raw, source: candidate.span, confidence: confidence,
            rule: candidate.rule,
            warning: value == nil ? "found “\(candidate.raw)” but the schema's type does not take it"
                : confidence < warningThreshold ? "low confidence" : nil)
    }
}

/// Turns field results into the output document and checks it against the schema.
enum DocumentBuilder {
    static func build(_ results: [FieldResult], schema: ExtractionSchema, passes: [String], engine: String) throws(ExtractionError) -> Extraction {
        var results = results
        // A field not found: null where the schema allows it, left out where it is optional,
        // an empty string (with its warning) where a string is required. Never a guess.
        for i in results.indices where results[i].value == nil {
            let f = results[i].field
            if f.types.null {
                results[i].value = .null
            } else if f.required && f.types.string {
                results[i].value = .string("")
            }
        }
        var document = JSONObject()
        for r in results {
            guard let value = r.value else { continue }
            insert(value, at: r.field.path[...], into: &document)
        }
        let output = JSONValue.object(document)
        let problems: [String]
        do {
            let result = try schema.validator.validate(output)
            problems = result.errors.map { "\($0.instanceLocation.isEmpty ? "/" : $0.instanceLocation): \($0.message)" }
        } catch {
            throw .noValidOutput("validating against \(schema.name): \(error)")
        }
        guard problems.isEmpty else {
            throw .noValidOutput("the fields found do not satisfy \(schema.name): " + problems.prefix(5).joined(separator: "; "))
        }
        return Extraction(document: output, fields: results, passes: passes, engine: engine)
    }

    private static func insert(_ value: JSONValue, at path: ArraySlice<String>, into object: inout JSONObject) {
        guard let key = path.first else { return }
        if path.count == 1 {
            object[key] = value
            return
        }
        var child = object[key]?.objectValue ?? JSONObject()
        insert(value, at: path.dropFirst(), into: &child)
        object[key] = .object(child)
    }
}
