public import SkiffImage
import Foundation
import SkiffJSON
import SkiffScoring

/// The Tesseract fallback without a language model: finds candidates for each field with
/// `CandidateFinder`, lets the OCR passes vote, and fills the schema with the best one.
/// Fields it has no finder for are left out (or null) with a warning, never guessed.
public struct RuleEngine: ExtractionEngine {
    public var name: String {
        var parts = ["tesseract+rules"]
        if let ranker, mode.usesRanker { parts.append(ranker.name) }
        if let generator, mode.usesGenerator { parts.append(generator.name) }
        return mode == .rules ? "tesseract+rules" : parts.joined(separator: "+") + " (\(mode.rawValue))"
    }
    public var needsOCR: Bool { true }
    /// Below this confidence a field carries a warning.
    public var warningThreshold: Double
    /// A language model that ranks the candidates of the fields it knows (company, address).
    public var ranker: (any CandidateRanker)?
    /// A language model that writes the fields it knows under the copy-from-page constraint.
    public var generator: (any SpanGenerator)?
    public var mode: RankingMode
    /// Weight of the ranker's probability against the rule score in `.combined`.
    public var rankerWeight: Double
    /// In `.hybrid`: the kinds whose generated value replaces the rules' (where generation
    /// measured better); dates and amounts take the generated value when the rules found nothing.
    public var generatedKinds: Set<FieldKind>
    /// Generation copies the company from the first `companyLines` lines and the address from the first `addressLines`.
    public var companyLines = 8
    public var addressLines = 14

    /// Kinds where generation beat the rules on sroie-dev (see SkiffSpanRanker/README.md).
    public static let defaultGeneratedKinds: Set<FieldKind> = []

    public init(warningThreshold: Double = 0.35, ranker: (any CandidateRanker)? = nil, mode: RankingMode = .combined,
                rankerWeight: Double = 0.5, generator: (any SpanGenerator)? = nil,
                generatedKinds: Set<FieldKind> = RuleEngine.defaultGeneratedKinds) {
        self.warningThreshold = warningThreshold
        self.ranker = ranker
        self.generator = generator
        self.mode = ranker == nil && generator == nil ? .rules : mode
        self.rankerWeight = rankerWeight
        self.generatedKinds = generatedKinds
    }

    /// The modes this engine can tell apart (a mode whose model is missing would repeat the rules).
    public var availableModes: [RankingMode] {
        RankingMode.allCases.filter { m in
            m == .rules || (m.usesRanker && ranker != nil) || (m.usesGenerator && generator != nil)
        }
    }

    public func extract(_ document: Document, ocr: [OCRPass], schema: ExtractionSchema) throws(ExtractionError) -> Extraction {
        guard let result = try extractAll(ocr: ocr, schema: schema, modes: [mode])[mode] else {
            throw .noValidOutput("no result for \(mode.rawValue)")
        }
        return result
    }

    /// The document as each mode would choose it, from one OCR reading and one set of ranker
    /// scores (what `skiff eval` compares in one run). A mode whose model is missing chooses as
    /// the rules do.
    public func extractAll(ocr: [OCRPass], schema: ExtractionSchema, modes: [RankingMode]) throws(ExtractionError) -> [RankingMode: Extraction] {
        try extractAll(ocr: ocr, schema: schema, modes: modes, timing: nil)
    }

    /// Model seconds per document, by model ("ranker", "generator").
    public final class Timing: @unchecked Sendable {
        public var seconds: [String: Double] = [:]
        public init() {}
    }

    public func extractAll(ocr: [OCRPass], schema: ExtractionSchema, modes: [RankingMode],
                           timing: Timing?) throws(ExtractionError) -> [RankingMode: Extraction] {
        let clock = ContinuousClock()
        let lines = ocr.enumerated().flatMap { pass, reading in reading.pages.flatMap { $0.sourceLines(pass: pass) } }
        let finder = CandidateFinder(lines: lines)
        let needsRanker = ranker != nil && modes.contains { $0.usesRanker }
        let ranking: (any RankingSession)?
        let rankStart = clock.now
        if needsRanker, let ranker {
            ranking = try ranker.session(lines: lines.filter { $0.pass == 0 }.map(\.text))
        } else {
            ranking = nil
        }
        var chosen: [RankingMode: [FieldKind: Candidate?]] = [:]
        var notes: [RankingMode: [FieldKind: String]] = [:]
        var warnings: [RankingMode: [FieldKind: String]] = [:]
        var kinds: [FieldKind] = []
        for field in schema.plan.fields where !kinds.contains(field.kind) { kinds.append(field.kind) }
        var ruleChoice: [FieldKind: Candidate] = [:]
        for kind in kinds {
            let candidates = finder.candidates(for: kind)
            let rules = Self.choose(candidates, passes: ocr.count)
            ruleChoice[kind] = rules
            for m in modes where !m.usesRanker { chosen[m, default: [:]][kind] = .some(rules) }
            guard let ranker, let ranking, ranker.kinds.contains(kind), modes.contains(where: \.usesRanker) else {
                for m in modes where m.usesRanker { chosen[m, default: [:]][kind] = .some(rules) }
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
                for m in modes where m.usesRanker { chosen[m, default: [:]][kind] = .some(nil) }
                continue
            }
            for m in modes where m.usesRanker {
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
        if needsRanker { timing?.seconds["ranker", default: 0] += (clock.now - rankStart).seconds }
        if let generator, modes.contains(where: \.usesGenerator) {
            let wanted = kinds.filter(generator.kinds.contains)
            if !wanted.isEmpty {
                let generateStart = clock.now
                let generated = try generate(wanted, with: generator, lines: lines.filter { $0.pass == 0 }, finder: finder)
                timing?.seconds["generator", default: 0] += (clock.now - generateStart).seconds
                for (kind, outcome) in generated {
                    for m in modes where m.usesGenerator {
                        let rules = ruleChoice[kind] ?? nil
                        // Gaps are filled only with values the format constraint shaped (dates,
                        // amounts): copied names and addresses came with high probabilities when
                        // wrong, so the model's confidence cannot vouch for them.
                        let shaped = [.date, .dueDate, .total, .subtotal, .tax].contains(kind)
                        let useGenerated = m == .generate || generatedKinds.contains(kind) || (rules == nil && shaped)
                        guard useGenerated else { continue }
                        switch outcome {
                        case .value(let c):
                            chosen[m, default: [:]][kind] = .some(c)
                            notes[m, default: [:]][kind] = c.rule
                        case .declined(let p):
                            chosen[m, default: [:]][kind] = .some(nil)
                            warnings[m, default: [:]][kind] = "\(generator.name) found no value on the page (null, p=\(String(format: "%.2f", p)))"
                        case .failed(let why):
                            if m == .generate || rules == nil {
                                chosen[m, default: [:]][kind] = .some(nil)
                                warnings[m, default: [:]][kind] = "\(generator.name) gave no answer: \(why)"
                            }
                        }
                    }
                }
            }
        }
        var out: [RankingMode: Extraction] = [:]
        for m in modes {
            let results = schema.plan.fields.map { field -> FieldResult in
                var r = fill(field, with: chosen[m]?[field.kind] ?? nil)
                if let note = notes[m]?[field.kind], r.source != nil { r.rule = note }
                if let warning = warnings[m]?[field.kind], r.source == nil { r.warning = warning }
                return r
            }
            var engine = self
            engine.mode = m
            do {
                out[m] = try DocumentBuilder.build(results, schema: schema, passes: ocr.map(\.name), engine: engine.name)
            } catch {
                // Another mode's document that cannot validate (generation declined a required
                // total) scores as nothing; it must not fail this engine's own answer.
                if m == mode { throw error }
            }
        }
        return out
    }

    /// A generated field: a candidate (span, normalised value, probability as strength) or why there is none.
    enum Generated {
        case value(Candidate)
        case declined(Double)
        case failed(String)
    }

    /// Asks the generator for `kinds` over the first pass's lines. Strings are copied from the
    /// words the model read; dates and amounts are chosen among the page's date- and amount-shaped
    /// spans (the format constraint), each mapped back to its words for provenance.
    func generate(_ kinds: [FieldKind], with generator: any SpanGenerator, lines: [SourceLine],
                  finder: CandidateFinder) throws(ExtractionError) -> [(FieldKind, Generated)] {
        guard !lines.isEmpty else { return kinds.map { ($0, .failed("no OCR words")) } }
        let session = try generator.session(lines: lines.map { $0.words.map(\.text) })
        // Flat word index (over the lines given) → line and word within it.
        var wordLine: [(line: Int, word: Int)] = []
        for (i, line) in lines.enumerated() { for w in line.words.indices { wordLine.append((i, w)) } }
        var requests: [FieldRequest] = []
        var choiceSpans: [Int: [String: Candidate]] = [:]
        for (index, kind) in kinds.enumerated() {
            switch kind {
            case .date, .dueDate, .total, .subtotal, .tax:
                let isDate = kind == .date || kind == .dueDate
                // Rules' candidates first, so a value printed twice points at its cued line.
                var spans: [String: Candidate] = [:]
                var order: [String] = []
                for c in finder.candidates(for: kind) where c.span.pass == 0 && spans[c.raw] == nil {
                    spans[c.raw] = c
                    order.append(c.raw)
                }
                for line in lines {
                    let matches = isDate ? CandidateFinder.dateMatches(in: line.text) : CandidateFinder.amountMatches(in: line.text)
                    for m in matches where spans[m.raw] == nil {
                        spans[m.raw] = Candidate(kind: kind, raw: m.raw, normalized: m.value, span: line.span(characters: m.range),
                                                 strength: 0, rule: "")
                        order.append(m.raw)
                    }
                }
                choiceSpans[index] = spans
                // Page order, so the choices read as the page does.
                let ranked = order.sorted { a, b in
                    let x = spans[a]?.span.words.lowerBound ?? 0, y = spans[b]?.span.words.lowerBound ?? 0
                    return x < y
                }
                requests.append(FieldRequest(kind: kind, choices: ranked))
            case .company, .address:
                // The issuer heads the page: its name and address are copied from the top lines.
                requests.append(FieldRequest(kind: kind, lines: 0..<(kind == .company ? companyLines : addressLines)))
            default:
                requests.append(FieldRequest(kind: kind))
            }
        }
        let outcomes = try session.generate(requests)
        var out: [(FieldKind, Generated)] = []
        for (index, (request, outcome)) in zip(requests, outcomes).enumerated() {
            let kind = request.kind
            switch outcome {
            case .declined(let p):
                out.append((kind, .declined(p)))
            case .failed(let why):
                out.append((kind, .failed(why)))
            case .value(let v):
                let how = request.choices == nil ? "copy-from-page" : "one of \(request.choices?.count ?? 0) page spans of its shape"
                let rule = "generated by \(generator.name) (\(how), p=\(String(format: "%.2f", v.probability)))"
                if var c = choiceSpans[index]?[v.text] {
                    c.strength = v.probability
                    c.rule = rule
                    out.append((kind, .value(c)))
                } else if let words = v.words, words.upperBound <= wordLine.count, !words.isEmpty {
                    // The words may run over several lines (an address): one span per line, joined.
                    var span: SourceSpan?
                    var w = words.lowerBound
                    while w < words.upperBound {
                        let (li, start) = wordLine[w]
                        var end = start + 1
                        while w + (end - start) < words.upperBound, wordLine[w + (end - start)].line == li { end += 1 }
                        let part = lines[li].span(words: start..<end)
                        span = span.map { $0.joined(with: part) } ?? part
                        w += end - start
                    }
                    guard let span else { continue }
                    let normalized: String
                    switch kind {
                    case .date, .dueDate: normalized = DateParser.iso(v.text.replacingSpaces()) ?? v.text
                    case .total, .subtotal, .tax: normalized = AmountParser.decimal(v.text.replacingSpaces()) ?? v.text
                    default: normalized = v.text.collapsingSpaces()
                    }
                    out.append((kind, .value(Candidate(kind: kind, raw: span.text, normalized: normalized, span: span,
                                                        strength: v.probability, rule: rule))))
                } else {
                    out.append((kind, .failed("“\(v.text)” is not a span of the page")))
                }
            }
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
