public import Foundation
public import SkiffImage
public import SkiffOCR
public import SkiffPPOCR
import SkiffExtraction

/// Which OCR engine(s) read the pages.
public enum OCREngineChoice: String, Sendable, CaseIterable, Codable {
    case tesseract, ppocr, both
}

/// The OCR result for one input file, as `skiff ocr --format json` writes it.
public struct OCRDocument: Sendable, Codable {
    public struct Engine: Sendable, Codable, Hashable {
        public var name: String
        public var version: String
        public var model: String
        public var language: String
        /// Tesseract's page segmentation mode (absent for PP-OCR).
        public var psm: Int?
    }

    /// A second engine's reading of the same pages (`--engine both`).
    public struct Reading: Sendable, Codable {
        public var engine: Engine
        public var pages: [OCRPage]
    }

    public var file: String
    public var engine: Engine
    public var pages: [OCRPage]
    /// Other engines' readings, for extraction to copy from whichever read a field.
    public var alternatives: [Reading]?

    public init(file: String, engine: Engine, pages: [OCRPage], alternatives: [Reading]? = nil) {
        self.file = file
        self.engine = engine
        self.pages = pages
        self.alternatives = alternatives
    }

    /// The pages' text joined the way the `tesseract` CLI joins them.
    public var text: String { pages.map(\.text).joined(separator: "\u{0C}") }
}

/// Why one input failed. The input itself is never modified.
public struct InputFailure: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var reason: String
    public var description: String { "\(file): \(reason)" }
}

/// Runs OCR over many files, several at a time, and reports each as it finishes.
public struct OCRBatch: Sendable {
    public var configuration: TesseractConfiguration
    public var decoding: DecodingOptions
    /// Files processed at the same time (one Tesseract engine each).
    public var jobs: Int
    public var engines: OCREngineChoice
    public var ppocr: PPOCRConfiguration

    public init(configuration: TesseractConfiguration, decoding: DecodingOptions = .default,
                jobs: Int = ProcessInfo.processInfo.activeProcessorCount, engines: OCREngineChoice = .tesseract,
                ppocr: PPOCRConfiguration = PPOCRConfiguration()) {
        self.configuration = configuration
        self.decoding = decoding
        self.jobs = max(1, jobs)
        self.engines = engines
        self.ppocr = ppocr
    }

    static func ppocrEngineInfo(_ engine: PPOCREngine) -> OCRDocument.Engine {
        OCRDocument.Engine(name: "ppocr", version: "PP-OCRv5 mobile",
                           model: URL(fileURLWithPath: engine.models.detection).deletingLastPathComponent().path,
                           language: "ch+en", psm: nil)
    }

    /// What happened to one input, in the order inputs finish.
    public struct Outcome: Sendable {
        public var index: Int
        public var input: InputFile
        public var result: Result<OCRDocument, InputFailure>
        public var seconds: Double
    }

    /// Totals for the summary line.
    public struct Summary: Sendable {
        public var files = 0
        public var pages = 0
        public var seconds = 0.0
        public var failures: [InputFailure] = []
        public var pagesPerMinute: Double { seconds > 0 ? Double(pages) * 60 / seconds : 0 }
    }

    /// Processes `inputs`; `report` is called once per input, serially.
    /// Throws only if no engine can be created at all (missing library or model).
    public func run(_ inputs: [InputFile], report: @Sendable (Outcome) async -> Void) async throws -> Summary {
        let pool = TesseractEnginePool(configuration: configuration, capacity: min(jobs, max(inputs.count, 1)))
        if engines != .ppocr { try pool.warmUp() }
        let pp: PPOCREngine? = engines == .tesseract ? nil : try PPOCREngine(configuration: ppocr)
        let choice = engines
        let engine = OCRDocument.Engine(
            name: "tesseract", version: (try? TesseractEngine.libraryVersion()) ?? "unknown",
            model: configuration.model.description, language: configuration.language,
            psm: configuration.pageSegmentationMode)
        let loader = DocumentLoader(options: decoding)
        let clock = ContinuousClock()
        let start = clock.now
        var summary = Summary()

        await forEachConcurrently(inputs.count, width: jobs, operation: { index in
            let input = inputs[index]
            let began = clock.now
            let result = await Self.process(input, loader: loader, pool: pool, engine: engine, ppocr: pp, choice: choice)
            return Outcome(index: index, input: input, result: result, seconds: (clock.now - began).seconds)
        }, report: { _, outcome in
            summary.files += 1
            switch outcome.result {
            case .success(let document): summary.pages += document.pages.count
            case .failure(let failure): summary.failures.append(failure)
            }
            await report(outcome)
        })
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    static func process(_ input: InputFile, loader: DocumentLoader, pool: TesseractEnginePool,
                        engine: OCRDocument.Engine, ppocr: PPOCREngine? = nil,
                        choice: OCREngineChoice = .tesseract) async -> Result<OCRDocument, InputFailure> {
        let path = input.url.path
        do {
            let document = try loader.load(contentsOf: input.url)
            var tesseractPages: [OCRPage] = [], ppocrPages: [OCRPage] = []
            for page in document.pages {
                if choice != .ppocr { tesseractPages.append(try await pool.recognize(page.image, page: page.index)) }
                if let ppocr { ppocrPages.append(try ppocr.recognize(page.image, page: page.index)) }
            }
            switch choice {
            case .tesseract:
                return .success(OCRDocument(file: path, engine: engine, pages: tesseractPages))
            case .ppocr:
                guard let ppocr else { break }
                return .success(OCRDocument(file: path, engine: ppocrEngineInfo(ppocr), pages: ppocrPages))
            case .both:
                guard let ppocr else { break }
                return .success(OCRDocument(file: path, engine: ppocrEngineInfo(ppocr), pages: ppocrPages,
                                            alternatives: [OCRDocument.Reading(engine: engine, pages: tesseractPages)]))
            }
            return .failure(InputFailure(file: path, reason: "no PP-OCR engine"))
        } catch let error as ImageError {
            return .failure(InputFailure(file: path, reason: error.description.dropPrefix(path + ": ")))
        } catch {
            return .failure(InputFailure(file: path, reason: String(describing: error)))
        }
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
