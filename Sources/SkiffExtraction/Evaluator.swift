public import Foundation
import SkiffImage
import SkiffOCR
import SkiffJSON
public import SkiffScoring

/// Runs extraction over an evaluation set and scores it next to the regex baseline, both on
/// the OCR and on the ground-truth text (what OCR errors cost), with the OCR's own CER.
public struct Evaluator: Sendable {
    public let pipeline: ExtractionPipeline
    public let jobs: Int
    /// A folder keeping each document's OCR readings, so a rerun (after changing rules or
    /// schema) skips recognition; nil to always recognise.
    public let ocrCache: URL?
    /// Sets of readings scored on their own as well (`skiff eval --compare-ocr`: Tesseract's,
    /// PP-OCR's, both), from the same recognition of each page.
    public let comparisons: [Comparison]

    /// A named subset of the pipeline's OCR passes (`passNames`) to extract from.
    public struct Comparison: Sendable, Hashable {
        public var name: String
        public var passes: [String]
        public init(name: String, passes: [String]) {
            self.name = name
            self.passes = passes
        }
    }

    public init(pipeline: ExtractionPipeline, jobs: Int = 1, ocrCache: URL? = nil, comparisons: [Comparison] = []) {
        self.pipeline = pipeline
        self.jobs = max(1, jobs)
        self.ocrCache = ocrCache
        self.comparisons = comparisons
    }

    /// The readings of one document, from the cache when it holds all passes.
    func readings(_ item: EvaluationItem, document: Document) async throws(ExtractionError) -> [OCRPass] {
        let names = pipeline.passNames
        let files = names.map { name in
            ocrCache?.appendingPathComponent(item.name + "." + name.replacingOccurrences(of: " ", with: "_") + ".json")
        }
        let decoder = JSONDecoder()
        let cached = zip(names, files).compactMap { name, file -> OCRPass? in
            guard let file, let data = try? Data(contentsOf: file), let pages = try? decoder.decode([OCRPage].self, from: data)
            else { return nil }
            return OCRPass(name: name, pages: pages)
        }
        if cached.count == names.count { return cached }
        let fresh = try await pipeline.recognize(document)
        if ocrCache != nil {
            for (pass, file) in zip(fresh, files) {
                guard let file, let data = try? JSONEncoder().encode(pass.pages) else { continue }
                try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try? data.write(to: file, options: .atomic)
            }
        }
        return fresh
    }

    public struct DocumentResult: Sendable {
        public var name: String
        public var expected: [String: String]
        public var skiff: [String: String] = [:]
        public var baseline: [String: String] = [:]
        public var skiffOnTruth: [String: String]?
        public var baselineOnTruth: [String: String]?
        /// With a ranker: the fields as each ranking mode chose them, from the same OCR.
        public var modes: [RankingMode: [String: String]] = [:]
        /// How each mode chose each field (rule, model probability, warning), for the JSON report.
        public var modeNotes: [RankingMode: [String: String]] = [:]
        /// The fields extracted from each comparison's readings alone, by comparison name.
        public var comparisons: [String: [String: String]] = [:]
        /// The first OCR pass against the ground-truth lines (profile `casefold`).
        public var ocr: TextScore?
        public var warnings: [String] = []
        /// Seconds the language models took on the OCR reading, by model ("ranker", "generator").
        public var modelSeconds: [String: Double] = [:]
        public var error: String?
        public var seconds = 0.0
    }

    public struct Report: Sendable {
        public var documents: [DocumentResult]
        public var skiff = FieldTally(), baseline = FieldTally()
        public var skiffOnTruth = FieldTally(), baselineOnTruth = FieldTally()
        /// Per ranking mode (rules, lm, combined), when the engine has a ranker.
        public var modes: [RankingMode: FieldTally] = [:]
        /// Per comparison, in the order asked for.
        public var comparisons: [(name: String, tally: FieldTally)] = []
        public var ocr: ErrorCounts?
        /// Wall-clock time of the whole run and the number of documents per minute.
        public var seconds: Double
        public var documentsPerMinute: Double { seconds > 0 ? Double(documents.count) * 60 / seconds : 0 }
        public var hasTruthText: Bool { documents.contains { $0.skiffOnTruth != nil } }
    }

    public func run(_ items: [EvaluationItem], progress: @Sendable (DocumentResult) async -> Void) async -> Report {
        let clock = ContinuousClock()
        let start = clock.now
        var results: [DocumentResult?] = Array(repeating: nil, count: items.count)
        await forEachConcurrently(items.count, width: jobs, operation: { index in
            await evaluate(items[index], clock: clock)
        }, report: { index, result in
            results[index] = result
            await progress(result)
        })
        let documents = results.compactMap { $0 }
        var report = Report(documents: documents, seconds: (clock.now - start).seconds)
        var ocrCounts: [ErrorCounts] = []
        report.comparisons = comparisons.map { c in
            (c.name, documents.reduce(into: FieldTally()) { $0.add(expected: $1.expected, predicted: $1.comparisons[c.name] ?? [:]) })
        }
        for d in documents {
            report.skiff.add(expected: d.expected, predicted: d.skiff)
            report.baseline.add(expected: d.expected, predicted: d.baseline)
            if let t = d.skiffOnTruth { report.skiffOnTruth.add(expected: d.expected, predicted: t) }
            if let t = d.baselineOnTruth { report.baselineOnTruth.add(expected: d.expected, predicted: t) }
            for (mode, fields) in d.modes { report.modes[mode, default: FieldTally()].add(expected: d.expected, predicted: fields) }
            if let o = d.ocr { ocrCounts.append(o.characters) }
        }
        if !ocrCounts.isEmpty { report.ocr = ErrorCounts.sum(ocrCounts, profile: .casefold) }
        return report
    }

    private func evaluate(_ item: EvaluationItem, clock: ContinuousClock) async -> DocumentResult {
        let began = clock.now
        var result = DocumentResult(name: item.name, expected: item.expected)
        do {
            let document = try load(item)
            let readings = try await readings(item, document: document)
            let extraction: Extraction
            if let rules = pipeline.engine as? RuleEngine, rules.ranker != nil || rules.generator != nil {
                let timing = RuleEngine.Timing()
                let all = try rules.extractAll(ocr: readings, schema: pipeline.schema, modes: rules.availableModes, timing: timing)
                result.modelSeconds = timing.seconds
                for (mode, e) in all {
                    result.modes[mode] = Self.flatten(e.document)
                    var notes: [String: String] = [:]
                    for f in e.fields { notes[f.field.path.joined(separator: ".")] = [f.rule, f.warning].compactMap { $0 }.joined(separator: "; ") }
                    result.modeNotes[mode] = notes
                }
                // A mode whose document could not validate predicted nothing (all its fields miss).
                for mode in rules.availableModes where all[mode] == nil { result.modes[mode] = [:] }
                guard let chosen = all[rules.mode] else { throw ExtractionError.noValidOutput("no \(rules.mode.rawValue) result") }
                extraction = chosen
            } else {
                extraction = try pipeline.engine.extract(document, ocr: readings, schema: pipeline.schema)
            }
            result.skiff = Self.flatten(extraction.document)
            result.warnings = extraction.warnings
            for c in comparisons {
                let subset = readings.filter { c.passes.contains($0.name) }
                do {
                    guard !subset.isEmpty else { throw ExtractionError.engineUnavailable("no reading named \(c.passes)") }
                    result.comparisons[c.name] = Self.flatten(try pipeline.engine.extract(document, ocr: subset, schema: pipeline.schema).document)
                } catch {
                    result.warnings.append("\(c.name) readings: \(error)")
                }
            }
            if let first = readings.first { result.baseline = baselineFields(first) }
            if let truth = item.groundTruth {
                result.baselineOnTruth = baselineFields(truth)
                let onTruth = try? pipeline.engine.extract(document, ocr: [truth], schema: pipeline.schema)
                result.skiffOnTruth = onTruth.map { Self.flatten($0.document) } ?? [:]
                if let first = readings.first {
                    result.ocr = TextScorer(profile: .casefold).score(
                        reference: truth.pages.map(\.text).joined(separator: "\n"),
                        hypothesis: first.pages.map(\.text).joined(separator: "\n"))
                }
            }
        } catch {
            result.error = "\(error)"
        }
        result.seconds = (clock.now - began).seconds
        return result
    }

    /// The document of an item: the image itself, or a PDF's pages rendered at 300 DPI
    /// (into the OCR cache when there is one, so a rerun does not render again).
    func load(_ item: EvaluationItem) throws(ExtractionError) -> Document {
        guard item.image.pathExtension.lowercased() == "pdf" else { return try pipeline.load(item.image) }
        let folder = ocrCache?.appendingPathComponent("pages", isDirectory: true)
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("skiff-eval-pages", isDirectory: true)
        let files = try PDFPages.render(item.image, dpi: 300, into: folder)
        var pages: [Page] = []
        var first: Document?
        for file in files {
            let page = try pipeline.load(file)
            first = first ?? page
            pages += page.pages.map { Page(index: pages.count, image: $0.image) }
        }
        guard let first else { throw .input(file: item.image.path, reason: "no page") }
        return Document(source: item.image.path, format: first.format, details: first.details, pages: pages)
    }

    /// The regex baseline's receipt fields, written under the schema's own keys (the first
    /// field of each kind: `vendor.name` for company, `invoice_date` for date …).
    func baselineFields(_ reading: OCRPass) -> [String: String] {
        let found = RegexBaseline.receiptFields(reading)
        var out: [String: String] = [:]
        for (name, kind) in [("company", FieldKind.company), ("date", .date), ("address", .address), ("total", .total)] {
            guard let value = found[name],
                  let field = pipeline.schema.plan.fields.first(where: { $0.kind == kind }) else { continue }
            out[field.path.joined(separator: ".")] = value
        }
        return out
    }

    /// Leaf values by dotted path; strings as they are, other scalars as JSON text.
    static func flatten(_ value: JSONValue, prefix: String = "") -> [String: String] {
        switch value {
        case .object(let o):
            var out: [String: String] = [:]
            for (k, v) in o.members {
                out.merge(flatten(v, prefix: prefix.isEmpty ? k : prefix + "." + k)) { a, _ in a }
            }
            return out
        case .string(let s): return [prefix: s]
        case .null: return [:]
        default: return [prefix: JSONSerializer.compact.string(from: value)]
        }
    }
}
