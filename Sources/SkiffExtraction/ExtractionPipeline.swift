public import Foundation
public import SkiffImage
public import SkiffOCR

/// Which engine fills the schema.
public enum EngineChoice: String, Sendable, CaseIterable {
    /// The vision-language model when one is installed, else Tesseract.
    case auto
    /// The vision-language model only (an error when none is installed).
    case vision
    /// Tesseract and the rules, the baseline and fallback.
    case tesseract
    /// Tesseract and the rules, with a language model (SmolLM2) ranking the candidate spans of
    /// the fields the rules are weak at (company, address) or writing the values under the
    /// copy-from-page constraint (`RankingMode.generate`, `.hybrid`).
    case lm
}

/// Decode → OCR passes → engine → validated JSON, for one file at a time; safe to call
/// from many tasks at once (each OCR pass has its own pool of Tesseract engines).
public final class ExtractionPipeline: Sendable {
    public let schema: ExtractionSchema
    public let engine: any ExtractionEngine
    /// Runs when the engine (the vision-language model) gives no valid answer; nil when the engine is the rules.
    public let fallback: (any ExtractionEngine)?
    /// Why the engine asked for is not the one running (no model installed), for the provenance.
    public let fallbackReason: String?
    /// The OCR readings made of every page: several passes with different models read
    /// different words right, and the rules let them vote.
    public let passes: [TesseractConfiguration]
    /// Further engines read every page after the Tesseract passes (PP-OCR: `skiff eval --ocr ppocr`);
    /// their readings vote with the others.
    public let engines: [any OCREngine]
    /// Image steps run on every page before OCR (boxes are mapped back to the page's pixels).
    public let preprocessing: Set<PreprocessStep>
    private let pools: [TesseractEnginePool]
    private let loader: DocumentLoader

    /// The default OCR passes: Tesseract's fast and standard English models, single-column
    /// layout (psm 4), which together hold more of the true field values than either alone;
    /// 300 DPI assumed for scans that state no resolution (measured on SROIE: CER 0.279 → 0.263).
    public static let defaultPasses: [TesseractConfiguration] = [
        TesseractConfiguration(model: .fast, pageSegmentationMode: 4, assumedResolution: 300),
        TesseractConfiguration(model: .standard, pageSegmentationMode: 4, assumedResolution: 300),
    ]

    /// - Parameters:
    ///   - vision: the vision-language engine, when a model is installed (module `SkiffVision`
    ///     builds it from a model folder). `.vision` and `.auto` use it, with Tesseract and the
    ///     rules as the fallback; without it both run the rules (`.vision` says why in the provenance).
    public init(schema: ExtractionSchema, engine choice: EngineChoice = .auto, vision: (any ExtractionEngine)? = nil,
                ranker: (any CandidateRanker)? = nil, rankingMode: RankingMode = .combined,
                generator: (any SpanGenerator)? = nil,
                passes: [TesseractConfiguration] = ExtractionPipeline.defaultPasses,
                preprocessing: Set<PreprocessStep> = [], jobs: Int = 1,
                decoding: DecodingOptions = .default, engines: [any OCREngine] = []) throws(ExtractionError) {
        self.preprocessing = preprocessing
        self.engines = engines
        switch (choice, vision) {
        case (.lm, _):
            engine = RuleEngine(ranker: ranker, mode: rankingMode, generator: generator)
            fallback = nil
            fallbackReason = ranker == nil && generator == nil ? "no language model installed" : nil
        case (.vision, let vision?), (.auto, let vision?):
            engine = vision
            fallback = RuleEngine()
            fallbackReason = nil
        case (.vision, nil):
            engine = RuleEngine()
            fallback = nil
            fallbackReason = "no vision-language model installed"
        case (.auto, nil), (.tesseract, _):
            engine = RuleEngine()
            fallback = nil
            fallbackReason = nil
        }
        guard !passes.isEmpty || !engines.isEmpty else { throw .engineUnavailable("no OCR pass configured") }
        self.schema = schema
        self.passes = passes
        loader = DocumentLoader(options: decoding)
        pools = passes.map { TesseractEnginePool(configuration: $0, capacity: max(1, jobs)) }
        for (pool, pass) in zip(pools, passes) {
            do {
                try pool.warmUp()
            } catch {
                throw .engineUnavailable("Tesseract (\(Self.describe(pass))): \(error)")
            }
        }
    }

    public static func describe(_ pass: TesseractConfiguration) -> String {
        "tesseract \(pass.model) psm \(pass.pageSegmentationMode)"
    }

    /// Extracts one file. Decoding and OCR failures come back as `.input` errors naming the file.
    public func extract(contentsOf url: URL) async throws(ExtractionError) -> Extraction {
        try await extract(load(url))
    }

    public func extract(_ document: Document) async throws(ExtractionError) -> Extraction {
        try await extract(document, schema: schema)
    }

    /// Extracts one document into another schema than the pipeline's (the HTTP service takes one
    /// per request); `rulesOnly` skips the vision-language engine.
    public func extract(_ document: Document, schema: ExtractionSchema,
                        rulesOnly: Bool = false) async throws(ExtractionError) -> Extraction {
        if rulesOnly, fallback != nil {
            return try RuleEngine().extract(document, ocr: await recognize(document), schema: schema)
        }
        if let fallback {
            do {
                return try engine.extract(document, ocr: engine.needsOCR ? await recognize(document) : [], schema: schema)
            } catch {
                // Only an answer that fails validation falls back; unreadable input stays an error.
                guard case .noValidOutput(let why) = error else { throw error }
                var result = try fallback.extract(document, ocr: await recognize(document), schema: schema)
                result.engine += " (fallback: \(engine.name) gave no valid answer: \(why))"
                return result
            }
        }
        var result = try engine.extract(document, ocr: engine.needsOCR ? await recognize(document) : [], schema: schema)
        if let fallbackReason { result.engine += " (fallback: \(fallbackReason))" }
        return result
    }

    /// Reads every page with every OCR pass.
    public func recognize(_ document: Document) async throws(ExtractionError) -> [OCRPass] {
        var readings: [OCRPass] = []
        for (pool, pass) in zip(pools, passes) {
            var pages: [OCRPage] = []
            for page in document.pages {
                let (image, transform) = PagePreprocessor.apply(preprocessing, to: page.image, assumedDPI: pass.assumedResolution)
                do {
                    pages.append(Self.mapBack(try await pool.recognize(image, page: page.index), transform))
                } catch {
                    throw .input(file: document.source, reason: "OCR (\(Self.describe(pass))): \(error)")
                }
            }
            readings.append(OCRPass(name: passName(pass), pages: pages))
        }
        for engine in engines {
            var pages: [OCRPage] = []
            for page in document.pages {
                let (image, transform) = PagePreprocessor.apply(preprocessing, to: page.image, assumedDPI: nil)
                do {
                    pages.append(Self.mapBack(try engine.recognize(image, page: page.index), transform))
                } catch {
                    throw .input(file: document.source, reason: "OCR (\(engine.name)): \(error)")
                }
            }
            readings.append(OCRPass(name: engineName(engine), pages: pages))
        }
        return readings
    }

    /// Every pass's name, Tesseract's first.
    public var passNames: [String] { passes.map(passName) + engines.map(engineName) }

    func engineName(_ engine: any OCREngine) -> String {
        let steps = PreprocessStep.allCases.filter(preprocessing.contains).map(\.rawValue)
        return engine.name + (steps.isEmpty ? "" : " + " + steps.joined(separator: "+"))
    }

    /// The pass as named in provenance and OCR caches, with the preprocessing steps.
    public func passName(_ pass: TesseractConfiguration) -> String {
        let steps = PreprocessStep.allCases.filter(preprocessing.contains).map(\.rawValue)
        return Self.describe(pass) + (steps.isEmpty ? "" : " + " + steps.joined(separator: "+"))
    }

    /// Boxes read on a preprocessed image, in the original page's pixels.
    static func mapBack(_ page: OCRPage, _ t: PageTransform) -> OCRPage {
        guard !t.isIdentity else { return page }
        func box(_ b: BoundingBox) -> BoundingBox {
            let (x0, y0, x1, y1) = t.original(x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1)
            return BoundingBox(x0: x0, y0: y0, x1: x1, y1: y1)
        }
        var out = page
        out.width = t.originalWidth
        out.height = t.originalHeight
        if let dpi = page.dpi { out.dpi = dpi / t.scale }
        for i in out.words.indices { out.words[i].box = box(out.words[i].box) }
        for i in out.lines.indices { out.lines[i].box = box(out.lines[i].box) }
        for i in out.blocks.indices { out.blocks[i].box = box(out.blocks[i].box) }
        return out
    }

    /// Loads a file as a document, with decoding errors as `.input` errors naming the file.
    public func load(_ url: URL) throws(ExtractionError) -> Document {
        do {
            return try loader.load(contentsOf: url)
        } catch {
            throw .input(file: url.path, reason: error.description.dropPrefix(url.path + ": "))
        }
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

extension String {
    func dropPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
