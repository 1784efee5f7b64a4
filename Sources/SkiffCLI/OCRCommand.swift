import ArgumentParser
import Foundation
import Skiff

struct OCRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocr",
        abstract: "Read the text of scanned pages with Tesseract, PP-OCRv5, or both.",
        discussion: """
            Folders are searched recursively for .png/.jpg/.jpeg files. Without --out, one input \
            prints its text (or JSON) to standard output; several inputs print JSON Lines, or \
            text under '==> FILE <==' headers. With --out, each input gets FILE.txt or FILE.json \
            in that folder, mirroring sub-folders. Exit status 1 if any input failed.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Image files or folders.")
    var inputs: [String]

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Option(help: "Write one output file per input into this folder.")
    var out: String?

    @Option(help: "Files processed at once (one Tesseract engine each).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "OCR engine: tesseract, ppocr (PP-OCRv5 on Skiff's runtime), or both (PP-OCR's reading, Tesseract's under 'alternatives').")
    var engine: OCREngineChoice = .tesseract

    @Option(help: "PP-OCR model folder (default: models/ppocrv5 or SKIFF_PPOCR_MODELS).")
    var ppocrModels: String?

    @Option(help: "PP-OCR output lines: boxes (each detected box its own line, in row order) or rows (boxes on one row joined, as extraction reads them).")
    var lines: PPOCRLineLayout = .boxes

    @Option(help: "PP-OCR threads per page (default: 1 when there are several files, read --jobs at a time; all cores for one file). Pages run --jobs at a time as far as the cores allow (jobs x threads <= cores).")
    var threads: Int?

    @Option(help: "PP-OCR recognition products: float32, or bfloat16 (CPUs with AVX512-BF16: faster, a few lines in a hundred read differently).")
    var precision: ProductPrecision = .float32

    @Option(help: "Tesseract page segmentation mode (3 automatic, 4 single column, 6 single block, ...).")
    var psm: Int = 3

    @Option(help: "Tesseract model: fast, standard, or a folder/.traineddata path.")
    var model: String = "fast"

    @Option(help: "Tesseract language(s), e.g. eng or eng+deu.")
    var lang: String = "eng"

    @Option(help: "Give up on a page after this many seconds.")
    var deadline: Double = 120

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard (threads ?? 1) >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard (0...13).contains(psm) else { throw ValidationError("--psm must be between 0 and 13") }
        guard deadline > 0 else { throw ValidationError("--deadline must be positive") }
    }

    func run() async throws {
        let (files, missing) = InputFiles.collect(inputs)
        for path in missing { printError("skiff: \(path): no such file or folder") }
        if files.isEmpty {
            printError("skiff: no input images found")
            throw ExitCode(1)
        }
        let configuration = TesseractConfiguration(model: TesseractModel(argument: model), language: lang,
                                                   pageSegmentationMode: psm, deadline: deadline)
        // Pages in parallel on one thread each beat one page on all cores for a batch: 20 receipts,
        // `skiff ocr --engine ppocr`, 2 cores: 20.7 s with 2 jobs x 1 thread against 25.2 s with
        // 1 x 2 (two runs each, the same output), since a page's small steps leave cores idle.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = self.threads ?? (files.count > 1 && jobs > 1 ? 1 : max(1, cores))
        var ppocrConfiguration = PPOCRConfiguration(modelDirectory: ppocrModels, threads: threads)
        ppocrConfiguration.rowLines = lines == .rows
        ppocrConfiguration.precision = precision
        // PP-OCR runs `threads` per page, as many pages at once as leave no core shared.
        let pageJobs = engine == .tesseract ? jobs : max(1, min(jobs, cores / max(threads, 1)))
        let batch = OCRBatch(configuration: configuration, jobs: pageJobs, engines: engine, ppocr: ppocrConfiguration)
        let progress = ProgressReporter(total: files.count, quiet: quiet)
        let sink = OutputSink(format: format, outDirectory: out.map { URL(fileURLWithPath: $0) },
                              count: files.count)
        let summary: OCRBatch.Summary
        do {
            summary = try await batch.run(files) { outcome in
                var failure: String?
                switch outcome.result {
                case .success(let document):
                    do {
                        try sink.accept(outcome.index, input: outcome.input, document: document)
                    } catch {
                        failure = "\(outcome.input.url.path): cannot write output: \(error.localizedDescription)"
                    }
                case .failure(let error):
                    failure = error.description
                    sink.skip(outcome.index)
                }
                progress.finished(outcome.input.relativePath, failure: failure)
            }
        } catch {
            progress.end()
            printError("skiff: \(error)")
            throw ExitCode(2)
        }
        progress.end()
        let failures = summary.failures.count + missing.count + sink.writeFailures
        if !quiet {
            printError(String(format: "skiff ocr: %d file(s), %d page(s) in %@, %.1f pages/min, %d failed",
                              summary.files, summary.pages, formatSeconds(summary.seconds),
                              summary.pagesPerMinute, failures))
            for failure in summary.failures { printError("  failed: \(failure)") }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// Puts results where the user asked: per-input files, or standard output in input order.
final class OutputSink: @unchecked Sendable {
    let format: OCRCommand.Format
    let outDirectory: URL?
    let count: Int
    private let lock = NSLock()
    private var pending: [Int: Data?] = [:]
    private var nextToPrint = 0
    private var usedNames = Set<String>()
    private(set) var writeFailures = 0

    init(format: OCRCommand.Format, outDirectory: URL?, count: Int) {
        self.format = format
        self.outDirectory = outDirectory
        self.count = count
    }

    func render(_ document: OCRDocument, input: InputFile, forFile: Bool) throws -> Data {
        switch format {
        case .text:
            if forFile || count == 1 { return Data(document.text.utf8) }
            return Data("==> \(input.url.path) <==\n\(document.text)".utf8)
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = forFile ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                                               : [.sortedKeys, .withoutEscapingSlashes]
            var data = try encoder.encode(document)
            data.append(0x0A)
            return data
        }
    }

    func accept(_ index: Int, input: InputFile, document: OCRDocument) throws {
        if let outDirectory {
            let data = try render(document, input: input, forFile: true)
            let ext = format == .json ? "json" : "txt"
            lock.lock()
            var name = input.relativePath + "." + ext
            var n = 2
            while !usedNames.insert(name).inserted {
                name = input.relativePath + "-\(n)." + ext
                n += 1
            }
            lock.unlock()
            do {
                try AtomicFile.write(data, to: outDirectory.appendingPathComponent(name))
            } catch {
                lock.lock()
                writeFailures += 1
                lock.unlock()
                throw error
            }
            return
        }
        let data = try render(document, input: input, forFile: false)
        lock.lock()
        defer { lock.unlock() }
        pending[index] = data
        flush()
    }

    func skip(_ index: Int) {
        guard outDirectory == nil else { return }
        lock.lock()
        defer { lock.unlock() }
        pending[index] = .some(nil)
        flush()
    }

    /// Prints finished results in input order, so output is the same for any --jobs.
    private func flush() {
        while let entry = pending[nextToPrint] {
            pending[nextToPrint] = nil
            if let data = entry { FileHandle.standardOutput.write(data) }
            nextToPrint += 1
        }
    }
}



/// How `skiff ocr --engine ppocr` lays out its lines.
enum PPOCRLineLayout: String, ExpressibleByArgument, CaseIterable {
    case rows, boxes
}
