import ArgumentParser
import Foundation
import Skiff

/// `skiff bench generate`: prompt and generation tokens/s of the decoder alone
/// (tools/bench_generate.py runs it next to llama-cpp-python and the bandwidth floor).
struct GenerateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Decoder prompt and generation tokens/s (greedy, stop tokens ignored).")

    @Option(help: "A .gguf file or a Hugging Face model folder.")
    var model: String = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "Prompt length in tokens (taken from a fixed invoice-like text).")
    var promptTokens: Int = 128

    @Option(help: "Tokens to generate.")
    var tokens: Int = 128

    @Option(help: "Kernel threads (default: all cores).")
    var threads: Int?

    @Option(help: "Repetitions; the best is reported.")
    var repeats: Int = 3

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let llm = try LlamaModel(path: model)
        guard let tokenizer = llm.tokenizer else { throw ValidationError("\(model) has no tokenizer") }
        var text = ""
        var ids: [Int] = []
        var line = 1
        while ids.count < promptTokens {
            text += "Item \(line): Widget model X-\(line * 37 % 1000), qty \(line % 7 + 1), unit price RM \(line * 13 % 100).50, total RM \(line * 91 % 1000).00\n"
            ids = tokenizer.encode(text)
            line += 1
        }
        ids = Array(ids.prefix(promptTokens))
        var bestPrompt = 0.0, bestGeneration = 0.0
        var threadsUsed = 0
        for _ in 0..<max(1, repeats) {
            let session = DecoderSession(model: llm, capacity: ids.count + tokens + 1, threads: threads)
            threadsUsed = session.threads
            let start = ContinuousClock.now
            var logits = try session.prefill([.tokens(ids)])
            let promptTime = ContinuousClock.now - start
            let genStart = ContinuousClock.now
            for _ in 0..<tokens {
                logits = try session.step(Sampler.argmax(logits) ?? 0)
            }
            let genTime = ContinuousClock.now - genStart
            bestPrompt = max(bestPrompt, Double(ids.count) / promptTime.seconds)
            bestGeneration = max(bestGeneration, Double(tokens) / genTime.seconds)
        }
        if json {
            let object: [String: Any] = [
                "prompt_tokens": ids.count, "generated_tokens": tokens, "threads": threadsUsed,
                "prompt_tok_s": bestPrompt, "generation_tok_s": bestGeneration,
                "weight_bytes_per_token": llm.weightBytesPerToken, "prompt": ids, "layouts": llm.productLayouts,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "skiff bench generate: %d prompt tokens %.1f tok/s; %d generated %.1f tok/s; %d threads; %.1f MB weights/token",
                         ids.count, bestPrompt, tokens, bestGeneration, threadsUsed, Double(llm.weightBytesPerToken) / 1e6)
                  + "; layouts \(llm.productLayouts)")
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
