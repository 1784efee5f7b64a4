import ArgumentParser
import Foundation
import Skiff

/// The extraction options `skiff watch` and `skiff serve` share: which schema, engine and OCR passes.
struct PipelineOptions: ParsableArguments {
    @Option(help: "The JSON Schema to fill (default: the bundled schemas/receipt.json).")
    var schema: String?

    @Option(help: "auto (the vision-language model when one is installed, else Tesseract), vision or tesseract.")
    var engine: EngineChoice = .auto

    @Option(help: "Vision-language model folder (InternVL2 / H2OVL layout; default: $SKIFF_VISION_MODEL or models/vision).")
    var model: String?

    @Option(help: "OCR readings of each page, comma-separated: Tesseract models (fast, standard or a path) and ppocr (PP-OCRv5 on Skiff's runtime; ppocr-bf16: with bfloat16 recognition products, faster on AVX512-BF16 CPUs); their readings vote.")
    var ocr: String = "fast,standard"

    @Option(help: "Resolution (DPI) to assume for scans that state none; 0 lets Tesseract guess.")
    var dpi: Int = 300

    func validate() throws {
        guard !OCRReadings(ocr, dpi: dpi).isEmpty else { throw ValidationError("--ocr needs at least one model") }
    }

    func loadSchema() throws -> ExtractionSchema {
        try ExtractionSchema(contentsOf: schema ?? bundledSchema("receipt.json"))
    }

    /// A pipeline with its own Tesseract engines (and its own vision model, when one is used).
    func makePipeline(schema: ExtractionSchema, command: String) throws -> ExtractionPipeline {
        let readings = OCRReadings(ocr, dpi: dpi)
        return try ExtractionPipeline(schema: schema, engine: engine, vision: visionEngine(command: command),
                                      passes: readings.passes, jobs: 1, engines: try readings.engines())
    }

    func visionEngine(command: String) -> (any ExtractionEngine)? {
        guard engine != .tesseract else { return nil }
        let folder = model ?? VisionModelLocation.defaultFolder()
        guard let folder, FileManager.default.fileExists(atPath: folder) else {
            if engine == .vision {
                printError("skiff \(command): no vision-language model at \(model ?? VisionModelLocation.description); using tesseract")
            }
            return nil
        }
        do {
            return try VisionExtractionEngine(folder: folder)
        } catch {
            if engine == .vision || model != nil { printError("skiff \(command): \(error); using tesseract") }
            return nil
        }
    }
}

/// An `--ocr` list: Tesseract models (fast, standard, a folder or .traineddata path), each one
/// reading at psm 4, and `ppocr` for PP-OCRv5 on Skiff's runtime (read after the Tesseract passes);
/// `ppocr-bf16` is PP-OCR with bfloat16 recognition products (`PPOCRConfiguration.precision`).
struct OCRReadings {
    var passes: [TesseractConfiguration]
    var ppocr: Bool
    var ppocrPrecision: ProductPrecision = .float32

    init(_ list: String, dpi: Int) {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let ppocrNames: Set<String> = ["ppocr", "ppocr-bf16"]
        passes = names.filter { !ppocrNames.contains($0) }.map {
            TesseractConfiguration(model: TesseractModel(argument: $0), pageSegmentationMode: 4,
                                   assumedResolution: dpi > 0 ? dpi : nil)
        }
        ppocr = names.contains { ppocrNames.contains($0) }
        if names.contains("ppocr-bf16") { ppocrPrecision = .bfloat16 }
    }

    var isEmpty: Bool { passes.isEmpty && !ppocr }

    /// Loads PP-OCR when it is asked for (an error names the folders searched when it is not installed).
    func engines() throws -> [any OCREngine] {
        guard ppocr else { return [] }
        // Extraction reads rows: a label and its amount on one line, as Tesseract gives them at psm 4.
        var configuration = PPOCRConfiguration()
        configuration.rowLines = true
        configuration.precision = ppocrPrecision
        return [try PPOCREngine(configuration: configuration)]
    }
}
