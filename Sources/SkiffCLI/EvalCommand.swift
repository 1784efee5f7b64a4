import ArgumentParser
import Foundation
import Skiff

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score extraction on a labelled set, next to the regex baseline.",
        discussion: """
            DATASET in the SROIE layout (img/, key/, box/), or an invoice2data or ZUGFeRD \
            folder (manifest.jsonl; PDFs are rendered at 300 DPI with pdftoppm). Prints per-field accuracy and F1 and \
            the micro F1 of Skiff and of the regex baseline (first date, largest amount on a TOTAL \
            line, first line as company), on the OCR and on the ground-truth text, the OCR's CER, \
            and seconds per document. Values compare as SROIE does: case and runs of spaces \
            ignored, dates as calendar dates, totals as 2-decimal amounts. With --compare-ocr, \
            also the F1 per field of extraction from Tesseract's readings alone, from PP-OCR's alone \
            and from both, side by side (each page is read once).
            """)

    @Argument(help: "The evaluation set folder.")
    var dataset: String

    @Option(help: "The JSON Schema to fill (default: schemas/receipt.json for SROIE, schemas/invoice.json for invoice sets).")
    var schema: String?

    @Option(help: "tesseract (OCR and rules) or lm (OCR, rules and SmolLM2 ranking company and address and writing values under the copy-from-page constraint; prints rules, lm, combined, generate and hybrid per field).")
    var engine: EngineChoice = .tesseract

    @OptionGroup var rankerOptions: RankerOptions

    @Option(help: "With --engine lm: the modes to compare, comma-separated (default: all; a model no mode needs is not loaded).")
    var modes: String?

    @Option(help: "Documents processed at once.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "OCR readings of each page, comma-separated: Tesseract models (fast, standard, a path) and ppocr (PP-OCRv5 on Skiff's runtime).")
    var ocr: String = "fast,standard"

    @Option(help: "Resolution (DPI) to assume for scans that state none; 0 lets Tesseract guess.")
    var dpi: Int = 300

    @Option(help: "Image steps before OCR, comma-separated: upscale, contrast, binarize, deskew (default: none).")
    var preprocess: String = ""

    @Option(help: "Only the first N documents.")
    var limit: Int?

    @Option(help: "Write report.json and report.html into this folder.")
    var report: String?

    @Option(help: "Keep OCR readings in this folder and reuse them on the next run.")
    var ocrCache: String?

    @Flag(help: "Also score Tesseract's readings alone, PP-OCR's alone and both together, side by side (adds ppocr to --ocr; each page is read once).")
    var compareOcr = false

    @Flag(help: "No progress output.")
    var quiet = false

    func run() async throws {
        let root = URL(fileURLWithPath: dataset)
        let items: [EvaluationItem]
        let pipeline: ExtractionPipeline
        do {
            let (layout, all) = try EvaluationSet.load(root)
            items = Array(all.prefix(limit ?? Int.max))
            let schema = try ExtractionSchema(contentsOf: schema ?? bundledSchema(layout.schemaName))
            // `ppocr` in the list adds PP-OCRv5 (Skiff's runtime) as one more reading.
            var readings = OCRReadings(ocr, dpi: dpi)
            if compareOcr {
                readings.ppocr = true
                guard !readings.passes.isEmpty else {
                    throw ValidationError("--compare-ocr needs a Tesseract model in --ocr (e.g. fast,standard) besides ppocr")
                }
            }
            guard !readings.isEmpty else { throw ValidationError("--ocr needs at least one model") }
            let passes = readings.passes
            let ocrEngines = try readings.engines()
            guard engine == .tesseract || engine == .lm else {
                throw ValidationError("skiff eval runs --engine tesseract or lm")
            }
            var wanted = RankingMode.allCases
            if let modes {
                wanted = try modes.split(separator: ",").map { name in
                    guard let m = RankingMode(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--modes: unknown mode \(name) (one of \(RankingMode.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    return m
                }
            }
            let needsRanker = wanted.contains(where: \.usesRanker) || rankerOptions.ranking.usesRanker
            let needsGenerator = wanted.contains(where: \.usesGenerator) || rankerOptions.ranking.usesGenerator
            pipeline = try ExtractionPipeline(schema: schema, engine: engine,
                                              ranker: needsRanker ? rankerOptions.ranker(engine: engine, jobs: jobs) : nil,
                                              rankingMode: rankerOptions.ranking,
                                              generator: needsGenerator ? rankerOptions.generator(engine: engine, jobs: jobs, always: true) : nil,
                                              passes: passes,
                                              preprocessing: try preprocessSteps(preprocess), jobs: jobs,
                                              engines: ocrEngines)
        } catch {
            printError("skiff eval: \(error)")
            throw ExitCode(2)
        }
        let progress = ProgressReporter(total: items.count, quiet: quiet)
        // Tesseract's passes come first in passNames, the other engines (PP-OCR) after them.
        var comparisons: [Evaluator.Comparison] = []
        if compareOcr {
            let all = pipeline.passNames, tesseract = Array(all.prefix(pipeline.passes.count))
            let others = Array(all.dropFirst(pipeline.passes.count))
            comparisons = [.init(name: "tesseract", passes: tesseract), .init(name: "ppocr", passes: others),
                           .init(name: "both", passes: all)]
        }
        let result = await Evaluator(pipeline: pipeline, jobs: jobs, ocrCache: ocrCache.map { URL(fileURLWithPath: $0) },
                                     comparisons: comparisons).run(items) { document in
            progress.finished(document.name, failure: document.error.map { "\(document.name): \($0)" })
        }
        progress.end()
        let text = EvaluationText.render(result, passes: pipeline.passNames.count, jobs: jobs)
        print(text, terminator: "")
        if let report {
            let folder = URL(fileURLWithPath: report)
            try AtomicFile.write(Data(EvaluationText.json(result).utf8), to: folder.appendingPathComponent("report.json"))
            try AtomicFile.write(Data(EvaluationText.html(result, summary: text).utf8),
                                 to: folder.appendingPathComponent("report.html"))
        }
    }
}

/// `upscale,contrast` → the steps; an unknown name is an error naming the choices.
func preprocessSteps(_ list: String) throws -> Set<PreprocessStep> {
    var steps: Set<PreprocessStep> = []
    for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
        guard let step = PreprocessStep(rawValue: name) else {
            throw ValidationError("unknown preprocessing step “\(name)” (choose from \(PreprocessStep.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        steps.insert(step)
    }
    return steps
}
