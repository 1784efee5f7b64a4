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

    @Option(help: "Tesseract models to read each page with, comma-separated (fast, standard or a path); their readings vote.")
    var ocr: String = "fast,standard"

    @Option(help: "Resolution (DPI) to assume for scans that state none; 0 lets Tesseract guess.")
    var dpi: Int = 300

    func validate() throws {
        guard !ocrPasses.isEmpty else { throw ValidationError("--ocr needs at least one model") }
    }

    var ocrPasses: [TesseractConfiguration] {
        ocr.split(separator: ",").map {
            TesseractConfiguration(model: TesseractModel(argument: String($0).trimmingCharacters(in: .whitespaces)),
                                   pageSegmentationMode: 4, assumedResolution: dpi > 0 ? dpi : nil)
        }
    }

    func loadSchema() throws -> ExtractionSchema {
        try ExtractionSchema(contentsOf: schema ?? bundledSchema("receipt.json"))
    }

    /// A pipeline with its own Tesseract engines (and its own vision model, when one is used).
    func makePipeline(schema: ExtractionSchema, command: String) throws -> ExtractionPipeline {
        try ExtractionPipeline(schema: schema, engine: engine, vision: visionEngine(command: command), passes: ocrPasses, jobs: 1)
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
