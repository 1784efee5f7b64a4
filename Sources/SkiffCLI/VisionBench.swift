import ArgumentParser
import Foundation
import Skiff

/// `skiff bench vision`: InternViT-300M + a 0.5B decoder with random weights (the published
/// shapes and FLOPs), seconds per tile next to the same products run alone, prefill and generation.
struct VisionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vision",
        abstract: "Seconds per 448 tile (InternViT-300M) against the sgemm bound in the same run; prefill and generation tokens/s.",
        discussion: """
            Without --model, writes a model with random BF16 weights and InternVL2-1B's shapes (InternViT-300M-448px + \
            Qwen2-0.5B) in the published layout to a temporary folder (about 1.3 GB), loads it with the normal \
            loader, times it and deletes it. OpenBLAS picks its kernels from OPENBLAS_CORETYPE (SkylakeX uses AVX-512).
            """)

    @Option(help: "An existing model folder to time instead of a random one.")
    var model: String?

    @Option(help: "Tiles per encoder call (also 256 image tokens each for the prefill).")
    var tiles: Int = 2

    @Option(help: "Thread counts to measure, comma-separated.")
    var threads: String = "1,2"

    @Option(help: "Tokens to generate after the prefill.")
    var generate: Int = 32

    @Option(help: "Keep the random model in this folder (and reuse it when it exists).")
    var keep: String?

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }), tiles >= 1 else {
            throw ValidationError("--threads needs positive counts and --tiles at least 1")
        }
        func load() -> String {
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        }
        printError("skiff bench vision: load average \(load()) at start")
        var folder = model ?? keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("skiff-vision-bench-\(UUID().uuidString)").path
        let temporary = model == nil && keep == nil
        if model == nil && !FileManager.default.fileExists(atPath: folder + "/config.json") {
            let started = ContinuousClock.now
            printError("writing a random model with \(VisionModelShape.internVL2_1B.name) to \(folder)")
            do { try VisionBenchmark.writeRandomModel(.internVL2_1B, to: folder) } catch {
                printError("skiff bench vision: \(error)")
                throw ExitCode(1)
            }
            printError(String(format: "  written in %.1f s", (ContinuousClock.now - started).seconds))
        }
        defer { if temporary { try? FileManager.default.removeItem(atPath: folder) } }
        folder = (folder as NSString).standardizingPath
        let figures: [VisionBenchmark.Figure]
        do {
            figures = try VisionBenchmark.run(folder: folder, tiles: tiles, threadCounts: counts, generate: generate) { printError($0) }
        } catch {
            printError("skiff bench vision: \(error)")
            throw ExitCode(1)
        }
        printError("skiff bench vision: load average \(load()) at the end")
        if json {
            let rows = figures.map { ["name": $0.name, "value": $0.value, "unit": $0.unit] as [String: Any] }
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for f in figures { print(String(format: "%-52@ %10.3f %@", f.name as NSString, f.value, f.unit)) }
        }
    }
}
