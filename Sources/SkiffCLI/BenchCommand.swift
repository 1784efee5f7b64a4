import ArgumentParser
import Foundation
import Skiff

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Skiff's speed next to reference tools, in the same run.",
        subcommands: [OCRBench.self, PPOCRBench.self, JSONBench.self, GenerateBench.self, TokenizerBench.self, MaskBenchCommand.self,
                      VisionBench.self, ServeBench.self])
}

/// Decode, tiling and OCR timings per page, next to the `tesseract` CLI on the same pages.
struct OCRBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocr",
        abstract: "Decode ms/page (PNG, JPEG), tiling ms/page and OCR s/page, against `tesseract`.")

    @Argument(help: "Image files or folders (default: samples/).")
    var inputs: [String] = ["samples"]

    @Option(help: "Use at most this many pages.")
    var pages: Int = 20

    @Option(help: "Tesseract page segmentation mode.")
    var psm: Int = 4

    @Option(help: "Tesseract model: fast, standard, or a path.")
    var model: String = "fast"

    @Option(help: "Repetitions of the decode and tiling measurements.")
    var repeats: Int = 3

    @Flag(help: "Skip the tesseract CLI runs.")
    var skipCLI = false

    func run() async throws {
        let files = Array(InputFiles.collect(inputs).files.prefix(pages))
        guard !files.isEmpty else {
            printError("skiff bench: no images in \(inputs.joined(separator: " "))")
            throw ExitCode(1)
        }
        let loader = DocumentLoader()
        var images: [(InputFile, Data, PixelBuffer)] = []
        for file in files {
            let data = try Data(contentsOf: file.url)
            guard let page = try? loader.load(data, label: file.url.path, pathExtension: file.url.pathExtension).pages.first
            else { continue }
            images.append((file, data, page.image))
        }
        emit("skiff bench ocr: \(images.count) pages, psm \(psm), model \(model), \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // Decode: the file's own format, plus every page re-encoded as PNG so both codecs are measured.
        var jpegTimes: [Double] = [], pngTimes: [Double] = []
        for (file, data, image) in images {
            let format = ImageFormat.sniff(data.prefix(16))
            let png = try image.pngData()
            for _ in 0..<repeats {
                let t = try time { _ = try loader.load(data, label: file.url.path) }
                if format == .jpeg { jpegTimes.append(t) } else { pngTimes.append(t) }
                if format == .jpeg { pngTimes.append(try time { _ = try loader.load(png, label: "png") }) }
            }
        }
        // Tiling: InternVL2 plan (max 12), bicubic resize, crop, normalise to float tensors.
        let tiler = Tiler(configuration: .internVL2)
        var tileTimes: [Double] = [], tileCount = 0
        for (_, _, image) in images {
            for _ in 0..<repeats {
                tileTimes.append(time {
                    let tiles = tiler.tiles(of: image)
                    tileCount = tiles.count
                    for tile in tiles { _ = PixelNormalization.imageNet.tensor(from: tile.image) }
                })
            }
        }
        _ = tileCount
        emit(row("decode JPEG", median(jpegTimes) * 1000, "ms/page"))
        emit(row("decode PNG", median(pngTimes) * 1000, "ms/page"))
        emit(row("tile + normalise (max 12)", median(tileTimes) * 1000, "ms/page"))

        // OCR: one engine, one page at a time (model loaded once), file read + decode included.
        let configuration = TesseractConfiguration(model: TesseractModel(argument: model), pageSegmentationMode: psm)
        let engine = try TesseractEngine(configuration: configuration)
        var skiffTimes: [Double] = []
        for (file, _, _) in images {
            skiffTimes.append(try time {
                let document = try loader.load(contentsOf: file.url)
                _ = try engine.recognize(document.pages[0].image)
            })
        }
        let skiffPerPage = skiffTimes.reduce(0, +) / Double(skiffTimes.count)
        emit(row("skiff ocr (1 engine)", skiffPerPage, "s/page"))

        guard !skipCLI else { return }
        let tessdata: [String] = try {
            if case .fast = configuration.model { return [] }
            return ["--tessdata-dir", try configuration.model.locate(language: "eng").datapath]
        }()
        for (label, limit) in [("tesseract CLI (OMP default)", nil), ("tesseract CLI (OMP_THREAD_LIMIT=1)", "1")] as [(String, String?)] {
            var cliTimes: [Double] = []
            for (file, _, _) in images {
                cliTimes.append(try time { try runTesseract(tessdata + [file.url.path, "-", "--psm", String(psm)], threadLimit: limit) })
            }
            let perPage = cliTimes.reduce(0, +) / Double(cliTimes.count)
            emit(row(label, perPage, "s/page") + String(format: "   skiff/CLI time ratio %.2f", skiffPerPage / perPage))
        }
    }

    func runTesseract(_ arguments: [String], threadLimit: String?) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tesseract"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_THREAD_LIMIT"] = threadLimit
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("tesseract exited with \(process.terminationStatus); is it installed?")
        }
    }
}

private func time(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    let d = clock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

private func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

private func row(_ label: String, _ value: Double, _ unit: String) -> String {
    label.padding(toLength: 36, withPad: " ", startingAt: 0) + String(format: "%9.3f %@", value, unit)
}

/// Writes a line to standard output at once (print buffers when piped), so
/// each figure shows as soon as it is measured.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
