public import ArgumentParser
import Foundation
import Skiff

extension EngineChoice: ExpressibleByArgument {}
extension OCREngineChoice: ExpressibleByArgument {}
extension RankingMode: ExpressibleByArgument {}
extension ProductPrecision: ExpressibleByArgument {}

/// The language-model options `skiff extract` and `skiff eval` share.
struct RankerOptions: ParsableArguments {
    @Option(name: .customLong("lm"), help: "The language model that ranks candidate spans with --engine lm (GGUF).")
    var languageModel: String = LanguageModelRanker.defaultModel

    @Option(help: "With --engine lm: how a field's value is chosen: rules, lm (the model's likelihood over the rules' candidates), combined, generate (the model writes each value under the copy-from-page constraint) or hybrid (the rules, generation where it measured better or the rules found nothing).")
    var ranking: RankingMode = .combined

    @Flag(help: "With --ranking generate|hybrid: all fields in one generation instead of one at a time.")
    var generateTogether = false

    @Flag(help: "With --ranking generate|hybrid: no one-shot example receipt in the prompt.")
    var noExample = false

    @Flag(help: "With --ranking generate|hybrid: a date or amount is decoded greedily token by token (default: the most likely whole answer among the page's spans of its shape).")
    var greedyChoices = false

    @Flag(help: "With --ranking generate|hybrid: copied values may be any run of words (default: a run of whole lines).")
    var copyWords = false

    @Option(help: "With --ranking generate|hybrid: whitespace allowed between JSON tokens (0: compact).")
    var maxWhitespace: Int = 0

    @Option(help: "With --ranking generate|hybrid: OCR lines of the page in the prompt.")
    var generateLines: Int = 64

    /// The generator for `--engine lm` (all modes: `skiff eval` prints them all); nil when the model is missing.
    func generator(engine: EngineChoice, jobs: Int, always: Bool) throws -> (any SpanGenerator)? {
        guard engine == .lm, always || ranking.usesGenerator, FileManager.default.fileExists(atPath: languageModel) else { return nil }
        var options = LanguageModelGenerator.Options()
        options.together = generateTogether
        options.wholeLines = !copyWords
        options.exactChoices = !greedyChoices
        options.example = !noExample
        options.maxWhitespace = max(0, maxWhitespace)
        options.maxLines = max(1, generateLines)
        return try LanguageModelGenerator(modelPath: languageModel, options: options,
                                          threads: max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, jobs)))
    }

    /// The ranker for `--engine lm`; nil (the pipeline then says so) when the model is missing.
    func ranker(engine: EngineChoice, jobs: Int, always: Bool = true) throws -> (any CandidateRanker)? {
        guard engine == .lm, always || ranking.usesRanker else { return nil }
        guard FileManager.default.fileExists(atPath: languageModel) else {
            printError("skiff: no language model at \(languageModel) (tools/setup.sh installs it); using the rules alone")
            return nil
        }
        return try LanguageModelRanker(modelPath: languageModel,
                                       threads: max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, jobs)))
    }
}
extension ExtractionOutputFormat: ExpressibleByArgument {}

/// Where the bundled schemas are: next to the executable's package when run from a
/// checkout (`.build/release/skiff`), or the current folder.
func bundledSchema(_ name: String) -> String {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var folder = executable.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = folder.appendingPathComponent("schemas").appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
        folder = folder.deletingLastPathComponent()
    }
    return "schemas/" + name
}

struct ExtractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract schema-valid JSON from scanned invoices and receipts.",
        discussion: """
            For each input, OUT/<stem>.json holds exactly the extracted document (it validates \
            against the schema) and OUT/<stem>.provenance.json where each field came from (page, \
            box, words, raw text, confidence, warnings). --format jsonl or csv writes one combined \
            OUT/extracted.jsonl or OUT/extracted.csv instead. An input whose output is newer than \
            it is skipped unless --force, so a stopped run resumes; every file is written under a \
            temporary name and renamed into place. A failing input gets OUT/<stem>.error.json and \
            the others go on; rerun, an unchanged failed input is reported from that entry, not redone. \
            Exit status 1 if any input failed.
            """)

    @Argument(help: "Image files or folders.")
    var inputs: [String]

    @Option(help: "The JSON Schema to fill (default: the bundled schemas/receipt.json).")
    var schema: String?

    @Option(help: "Output folder.")
    var out: String = "out"

    @Option(help: "json (a file per input), jsonl or csv (one combined file).")
    var format: ExtractionOutputFormat = .json

    @Option(help: "auto (the vision-language model when one is installed, else Tesseract), vision, tesseract (OCR and rules) or lm (OCR, rules and SmolLM2 ranking the company and address spans).")
    var engine: EngineChoice = .auto

    @OptionGroup var rankerOptions: RankerOptions

    @Option(help: "Vision-language model folder (InternVL2 / H2OVL layout; default: $SKIFF_VISION_MODEL or models/vision).")
    var model: String?

    @Option(help: "Files processed at once.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "OCR readings of each page, comma-separated: Tesseract models (fast, standard or a path) and ppocr (PP-OCRv5 on Skiff's runtime); their readings vote.")
    var ocr: String = "fast,standard"

    @Option(help: "Resolution (DPI) to assume for scans that state none; 0 lets Tesseract guess.")
    var dpi: Int = 300

    @Option(help: "Image steps before OCR, comma-separated: upscale, contrast, binarize, deskew (default: none).")
    var preprocess: String = ""

    @Flag(help: "Redo inputs whose output is up to date.")
    var force = false

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard !OCRReadings(ocr, dpi: dpi).isEmpty else { throw ValidationError("--ocr needs at least one model") }
    }

    /// The vision engine for `--engine vision|auto`, or nil (with a message for `vision`) when no
    /// model folder is installed or it does not load; the pipeline then runs Tesseract.
    func visionEngine() -> (any ExtractionEngine)? {
        guard engine != .tesseract, engine != .lm else { return nil }
        let folder = model ?? VisionModelLocation.defaultFolder()
        guard let folder, FileManager.default.fileExists(atPath: folder) else {
            if engine == .vision {
                printError("skiff extract: no vision-language model at \(model ?? VisionModelLocation.description); using tesseract")
            }
            return nil
        }
        do {
            return try VisionExtractionEngine(folder: folder)
        } catch {
            if engine == .vision || model != nil { printError("skiff extract: \(error); using tesseract") }
            return nil
        }
    }

    func run() async throws {
        let (files, missing) = InputFiles.collect(inputs)
        for path in missing { printError("skiff: \(path): no such file or folder") }
        if files.isEmpty {
            printError("skiff: no input images found")
            throw ExitCode(1)
        }
        let pipeline: ExtractionPipeline
        do {
            let schema = try ExtractionSchema(contentsOf: schema ?? bundledSchema("receipt.json"))
            let readings = OCRReadings(ocr, dpi: dpi)
            pipeline = try ExtractionPipeline(schema: schema, engine: engine, vision: visionEngine(),
                                              ranker: rankerOptions.ranker(engine: engine, jobs: jobs, always: false),
                                              rankingMode: rankerOptions.ranking,
                                              generator: rankerOptions.generator(engine: engine, jobs: jobs, always: false),
                                              passes: readings.passes,
                                              preprocessing: try preprocessSteps(preprocess), jobs: jobs,
                                              engines: try readings.engines())
        } catch {
            printError("skiff extract: \(error)")
            throw ExitCode(2)
        }
        let batch = ExtractionBatch(pipeline: pipeline, output: URL(fileURLWithPath: out), format: format,
                                    force: force, jobs: jobs)
        let progress = ProgressReporter(total: files.count, quiet: quiet)
        let summary: ExtractionBatch.Summary
        do {
            summary = try await batch.run(files) { outcome in
                var failure: String?
                if case .failed(let reason) = outcome.status { failure = "\(outcome.input.url.path): \(reason)" }
                progress.finished(outcome.input.relativePath, failure: failure)
            }
        } catch {
            progress.end()
            printError("skiff extract: \(error)")
            throw ExitCode(2)
        }
        progress.end()
        let failures = summary.failures.count + missing.count
        if !quiet {
            printError(String(format: "skiff extract: %d file(s): %d extracted, %d up to date, %d failed in %@ (%.1f files/min)",
                              summary.files, summary.extracted, summary.skipped, failures,
                              formatSeconds(summary.seconds), summary.filesPerMinute))
            for failure in summary.failures { printError("  failed: \(failure)") }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
