import ArgumentParser
import Foundation
import Skiff

/// `skiff bench tokenizer`: BPE encoding speed in MB/s on a text file, line by line
/// (tools/bench_generate.py runs it next to Hugging Face `tokenizers`).
struct TokenizerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokenizer encode MB/s on the lines of a text file.")

    @Option(help: "A .gguf file with tokenizer metadata.")
    var model: String = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Argument(help: "Text file; each line is encoded separately.")
    var file: String

    @Option(help: "Repetitions; the best is reported.")
    var repeats: Int = 3

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let tokenizer = try BPETokenizer(gguf: GGUFFile(path: model))
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        var best = 0.0
        var count = 0
        for _ in 0..<max(1, repeats) {
            let start = ContinuousClock.now
            count = 0
            for line in lines { count += tokenizer.encode(line).count }
            best = max(best, Double(bytes) / 1e6 / (ContinuousClock.now - start).seconds)
        }
        if json {
            print(#"{"bytes": \#(bytes), "lines": \#(lines.count), "tokens": \#(count), "mb_s": \#(best)}"#)
        } else {
            print(String(format: "skiff bench tokenizer: %d lines, %.2f MB, %d tokens, %.2f MB/s", lines.count, Double(bytes) / 1e6, count, best))
        }
    }
}
