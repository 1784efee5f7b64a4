import ArgumentParser
import Foundation
import Skiff

/// `skiff generate`: run a decoder on a prompt or a chat message.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with a GGUF or safetensors decoder (SmolLM2, Qwen2, Danube), or about an image with a vision-language model.",
        discussion: """
            With --image, --model is an InternVL2 / H2OVL-Mississippi folder and --prompt (or --chat) is the \
            question: it is wrapped in the model's conversation template and the image's tiles go where \
            <image> stands in it, or before it followed by a newline when it has none (as the models' chat() does).
            """)

    @Option(help: "A .gguf file or a Hugging Face model folder (default: the SmolLM2 GGUF that tools/setup.sh installs).")
    var model: String = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "Raw prompt text (special tokens such as <|im_start|> are recognised); with --image, the question.")
    var prompt: String?

    @Option(help: "A page image (PNG/JPEG) for a vision-language model folder given with --model.")
    var image: String?

    @Option(help: "A user message, wrapped in the model's chat template.")
    var chat: String?

    @Option(help: "Most tokens to generate.")
    var maxTokens: Int = 128

    @Flag(help: "Always pick the most likely token.")
    var greedy = false

    @Option(help: "Sampling temperature.")
    var temperature: Float = 0.7

    @Option(help: "Top-k cut-off (0: none).")
    var topK: Int = 40

    @Option(help: "Top-p cut-off (1: none).")
    var topP: Float = 0.95

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Option(help: "Kernel threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print {\"text\", \"tokens\"} as JSON instead of streaming text.")
    var json = false

    @Option(help: "A JSON Schema file: every token is masked so the output is JSON that validates.")
    var schema: String?

    @Flag(help: "With --schema: enforce what can be enforced and check the rest with the validator afterwards (instead of refusing the schema).")
    var lenient = false

    @Option(help: "With --schema: key order, schema | required-first | any.")
    var propertyOrder: String = "schema"

    @Flag(help: "With --schema: try the sampled token first; compute the full mask only when it is rejected.")
    var trySampledFirst = false

    @Option(help: "With --schema: allow up to N whitespace bytes in a row between tokens (0: compact).")
    var whitespace = 0

    @Option(help: "With --schema: most characters in a number (small models loop on digits; 0: unbounded).")
    var maxNumberLength = 16

    @Option(help: "With --schema: most code points in a string (0: unbounded).")
    var maxStringLength = 120

    func validate() throws {
        guard (prompt == nil) != (chat == nil) else { throw ValidationError("give exactly one of --prompt and --chat") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard PropertyOrder(rawValue: propertyOrder) != nil else {
            throw ValidationError("--property-order must be one of: \(PropertyOrder.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        if let image {
            try runVision(image: image)
            return
        }
        let llm: LlamaModel
        do { llm = try LlamaModel(path: model) } catch {
            printError("skiff generate: \(error)")
            throw ExitCode(1)
        }
        guard let tokenizer = llm.tokenizer else {
            printError("skiff generate: \(model) has no tokenizer")
            throw ExitCode(1)
        }
        let text: String
        if let chat {
            text = ChatTemplate(jinja: tokenizer.chatTemplateSource).render([ChatMessage(role: .user, content: chat)])
        } else {
            text = prompt ?? ""
        }
        let promptIDs = tokenizer.encode(text)
        var parameters = greedy ? GenerationParameters.greedy(maxTokens: maxTokens)
            : GenerationParameters(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed)
        parameters.maxTokens = maxTokens
        let session = DecoderSession(model: llm, capacity: min(llm.config.contextLength, promptIDs.count + maxTokens), threads: threads)
        if let schema {
            try runConstrained(schema: schema, tokenizer: tokenizer, session: session, prompt: promptIDs, parameters: parameters)
            return
        }
        var iterator = try TokenIterator(session: session, prompt: [.tokens(promptIDs)], parameters: parameters)
        var tokens: [Int] = []
        var pending: [UInt8] = []
        while let token = try iterator.next() {
            tokens.append(token)
            if !json {
                // Print whole UTF-8 characters only: a character may span tokens.
                pending += tokenizer.bytes(of: token)
                if let s = String(validating: pending, as: UTF8.self) {
                    FileHandle.standardOutput.write(Data(s.utf8))
                    pending.removeAll()
                }
            }
        }
        if json {
            let object: [String: Any] = ["text": tokenizer.decode(tokens), "tokens": tokens]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            if !pending.isEmpty { print(String(decoding: pending, as: UTF8.self), terminator: "") }
            print()
        }
        printError(String(format: "skiff generate: prompt %d tokens, %.1f tok/s; generated %d tokens, %.1f tok/s (%d threads)",
                          iterator.promptTokens, iterator.promptTokensPerSecond, tokens.count,
                          iterator.generationTokensPerSecond, session.threads))
    }

    func constraintOptions() -> ConstraintOptions {
        var options = ConstraintOptions()
        options.lenient = lenient
        options.propertyOrder = PropertyOrder(rawValue: propertyOrder) ?? .schema
        options.maxWhitespace = whitespace
        options.maxNumberLength = maxNumberLength > 0 ? maxNumberLength : nil
        options.maxStringLength = maxStringLength > 0 ? maxStringLength : nil
        return options
    }

    /// `--image`: tiles → InternViT → projector → the decoder, optionally under `--schema`.
    func runVision(image: String) throws {
        let vlm: VisionLanguageModel
        let page: PixelBuffer
        do {
            vlm = try VisionLanguageModel(folder: model)
            guard let first = try DocumentLoader().load(contentsOf: URL(fileURLWithPath: image)).pages.first else {
                throw VisionError.prompt("\(image) has no page")
            }
            page = first.image
        } catch {
            printError("skiff generate: \(error)")
            throw ExitCode(1)
        }
        var grammar: Grammar?
        if let schema {
            do {
                let value = try JSONParser().parse(Array(try Data(contentsOf: URL(fileURLWithPath: schema))))
                grammar = try Grammar(schema: value, options: constraintOptions())
            } catch {
                printError("skiff generate: \(schema): \(error)")
                throw ExitCode(1)
            }
        }
        let parameters = greedy ? GenerationParameters.greedy(maxTokens: maxTokens)
            : GenerationParameters(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed)
        let out: VisionGeneration
        do {
            out = try vlm.generate(question: prompt ?? chat ?? "", pages: [page], parameters: parameters, grammar: grammar,
                                   threads: threads)
        } catch {
            printError("skiff generate: \(error)")
            throw ExitCode(1)
        }
        if json {
            let object: [String: Any] = ["text": out.text, "tokens": out.tokens]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(out.text)
        }
        let generated = out.tokens.count
        printError(String(format: "skiff generate: %d tiles encoded in %.2f s; prompt %d tokens in %.2f s (%.1f tok/s); generated %d tokens, %.1f tok/s",
                          out.tiles, out.encodeSeconds, out.promptTokens, out.prefillSeconds,
                          out.prefillSeconds > 0 ? Double(out.promptTokens) / out.prefillSeconds : 0, generated,
                          out.generationSeconds > 0 ? Double(generated) / out.generationSeconds : 0))
    }

    func runConstrained(schema path: String, tokenizer: BPETokenizer, session: DecoderSession, prompt: [Int],
                        parameters: GenerationParameters) throws {
        var options = ConstraintOptions()
        options.lenient = lenient
        options.propertyOrder = PropertyOrder(rawValue: propertyOrder) ?? .schema
        options.maxWhitespace = whitespace
        options.maxNumberLength = maxNumberLength > 0 ? maxNumberLength : nil
        options.maxStringLength = maxStringLength > 0 ? maxStringLength : nil
        let grammar: Grammar
        do {
            let value = try JSONParser().parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            grammar = try Grammar(schema: value, options: options)
        } catch {
            printError("skiff generate: \(path): \(error)")
            throw ExitCode(1)
        }
        var generator = ConstrainedGenerator(session: session, grammar: grammar, vocabulary: TokenVocabulary(tokenizer: tokenizer))
        generator.trySampledFirst = trySampledFirst
        let out: ConstrainedOutput
        do { out = try generator.generate(prompt: prompt, parameters: parameters) } catch {
            printError("skiff generate: \(error)")
            throw ExitCode(1)
        }
        if json {
            let object: [String: Any] = ["text": out.text, "tokens": out.tokens, "forced_tokens": out.forcedTokens]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(out.text)
        }
        printError(String(format: "skiff generate: %d tokens (%d forced, %d sampled-first hits) in %.2f s, %.1f ms in the constraint",
                          out.tokens.count, out.forcedTokens, out.sampledFirstHits, out.generationSeconds, out.constraintSeconds * 1000))
    }
}
