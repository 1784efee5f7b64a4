public import SkiffImage
import Foundation
import SkiffJSON

/// The Tesseract fallback without a language model: finds candidates for each field with
/// `CandidateFinder`, lets the OCR passes vote, and fills the schema with the best one.
/// Fields it has no finder for are left out (or null) with a warning, never guessed.
public struct RuleEngine: ExtractionEngine {
    public var name: String { ranker.map { "tesseract+rules+\($0.name) (\(mode.rawValue))" } ?? "tesseract+rules" }
    public var needsOCR: Bool { true }
    /// Below this confidence a field carries a warning.
    public var warningThreshold: Double
    /// A language model that ranks the candidates of the fields it knows (company, address).
    public var ranker: (any CandidateRanker)?
    public var mode: RankingMode
    /// Weight of the ranker's probability against the rule score in `.combined`.
    public var rankerWeight: Double

    public init(warningThreshold: Double = 0.35, ranker: (any CandidateRanker)? = nil, mode: RankingMode = .combined,
                rankerWeight: Double = 0.5) {
        self.warningThreshold = warningThreshold
        self.ranker = ranker
        self.mode = ranker == nil ? .rules : mode
        self.rankerWeight = rankerWeight
    }

    public func extract(_ document: Document, ocr: [OCRPass], schema: ExtractionSchema) throws(ExtractionError) -> Extraction {
        guard let result = try extractAll(ocr: ocr, schema: schema, modes: [mode])[mode] else {
            throw .noValidOutput("no result for \(mode.rawValue)")
        }
        return result
    }

    /// The document as each mode would choose it, from one OCR reading and one set of ranker
    /// scores (what `skiff eval` compares in one run).
    public func extractAll(ocr: [OCRPass], schema: ExtractionSchema, modes: [RankingMode]) throws(ExtractionError) -> [RankingMode: Extraction] {
        let lines = ocr.enumerated().flatMap { pass, reading in reading.pages.flatMap { $0.sourceLines(pass: pass) } }
        let finder = CandidateFinder(lines: lines)
        let needsRanker = ranker != nil && modes.contains { $0 != .rules }
        let ranking: (any RankingSession)?
        if needsRanker, let ranker {
            ranking = try ranker.session(lines: lines.filter { $0.pass == 0 }.map(\.text))
        } else {
            ranking = nil
        }
        var chosen: [RankingMode: [FieldKind: Candidate?]] = [:]
        var notes: [RankingMode: [FieldKind: String]] = [:]
        for field in schema.plan.fields {
            let kind = field.kind
            guard chosen[modes[0]]?[kind] == nil else { continue }
            let candidates = finder.candidates(for: kind)
            let rules = Self.choose(candidates, passes: ocr.count)
            guard let ranker, let ranking, ranker.kinds.contains(kind), modes.contains(where: { $0 != .rules }) else {
                for m in modes { chosen[m, default: [:]][kind] = .some(rules) }
                continue
            }
            // The rules' candidates first, then the page's other plausible spans, once each.
            var pool: [Candidate] = []
            var seen: [String: Int] = [:]
            for c in candidates + finder.alternatives(for: kind) {
                let key = c.normalized.uppercased()
                if let i = seen[key] {
                    if c.strength > pool[i].strength { pool[i] = c }
                    continue
                }
                seen[key] = pool.count
                pool.append(c)
            }
            guard !pool.isEmpty else {
                for m in modes { chosen[m, default: [:]][kind] = .some(nil) }
                continue
            }
            for m in modes {
                if m == .rules { chosen[m, default: [:]][kind] = .some(rules); continue }
                let context = [FieldKind.company].compactMap { k -> (FieldKind, String)? in
                    guard k != kind, let c = chosen[m]?[k] ?? nil else { return nil }
                    return (k, c.normalized)
                }
                let scores = try ranking.logLikelihoods(of: pool.map(\.normalized), kind: kind, context: context)
                let top = scores.max() ?? 0
                let weights = scores.map { exp(3 * ($0 - top)) }
                let sum = weights.reduce(0, +)
                let probability = weights.map { $0 / sum }
                // The page's other spans count with their own (weak) strength.
                let ruleScores = pool.map { c in candidates.contains(c) ? Self.score(c, among: candidates, passes: ocr.count) : c.strength }
                let pick = pool.indices.max { a, b in
                    m == .lm ? scores[a] < scores[b]
                        : ruleScores[a] + rankerWeight * probability[a] < ruleScores[b] + rankerWeight * probability[b]
                } ?? 0
                var c = pool[pick]
                c.strength = m == .lm ? probability[pick] : min(1, max(c.strength, probability[pick]))
                chosen[m, default: [:]][kind] = .some(c)
                notes[m, default: [:]][kind] = "\(c.rule); ranked by \(ranker.name) (\(m.rawValue), p=\(String(format: "%.2f", probability[pick])) among \(pool.count))"
            }
        }
        var out: [RankingMode: Extraction] = [:]
        for m in modes {
            let results = schema.plan.fields.map { field -> FieldResult in
                var r = fill(field, with: chosen[m]?[field.kind] ?? nil)
                if let note = notes[m]?[field.kind], r.source != nil { r.rule = note }
                return r
            }
            var engine = RuleEngine(warningThreshold: warningThreshold, ranker: ranker, mode: m, rankerWeight: rankerWeight)
            if m == .rules { engine.ranker = nil }
            out[m] = try DocumentBuilder.build(results, schema: schema, passes: ocr.map(\.name), engine: engine.name)
        }
        return out
    }

    /// The candidate with the highest strength, where a value read the same way by
    /// several OCR passes counts for more, and OCR confidence breaks ties.
    static func choose(_ candidates: [Candidate], passes: Int) -> Candidate? {
        guard !candidates.isEmpty else { return nil }
        return candidates.max { score($0, among: candidates, passes: passes) < score($1, among: candidates, passes: passes) }
    }

    static func score(_ c: Candidate, among candidates: [Candidate], passes: Int) -> Double {
        let key = c.normalized.uppercased()
        let agreeing = Double(Set(candidates.filter { $0.normalized.uppercased() == key }.map(\.span.pass)).count - 1)
        return c.strength + 0.1 * agreeing / Double(max(1, passes - 1)) + 0.05 * c.span.confidence
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
        case .currency, .taxId:
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
