import CSkiffKernels
import Foundation
public import SkiffConstraint
public import SkiffDecoder
public import SkiffImage
public import SkiffJSON
import SkiffModelFiles
public import SkiffTokenizer

/// A prompt ready for the decoder: its token ids (with `<IMG_CONTEXT>` placeholders) and
/// the inputs to prefill (runs of placeholders replaced by image embeddings).
public struct MultimodalPrompt: Sendable {
    public var text: String
    public var ids: [Int]
    public var inputs: [PromptInput]
    public var tiles: Int
}

/// What `generate` produced.
public struct VisionGeneration: Sendable {
    public var text: String
    public var tokens: [Int]
    /// The parsed document when a schema constrained the output.
    public var value: JSONValue?
    public var promptTokens: Int
    public var tiles: Int
    public var encodeSeconds: Double
    public var prefillSeconds: Double
    public var generationSeconds: Double
}

/// An InternVL2 / H2OVL-Mississippi checkpoint from its published folder: `config.json`
/// (`vision_config`, `llm_config`, template, tiling keys), sharded safetensors (BF16),
/// `tokenizer.json` (+ `tokenizer_config.json`), `generation_config.json`.
public final class VisionLanguageModel: Sendable {
    public let folder: String
    public let config: VisionConfig
    public let encoder: VisionEncoder
    public let decoder: LlamaModel
    public let tokenizer: BPETokenizer
    public let template: ConversationTemplate
    public let imageContextToken: Int
    /// The template's separator token, the generation config's eos ids and the tokenizer's stop tokens.
    public let stopTokens: Set<Int>
    public let loadSeconds: Double

    public static let imageStart = "<img>", imageEnd = "</img>", imageContext = "<IMG_CONTEXT>"

    /// Whether `path` looks like a vision-language model folder (config.json with a vision_config).
    public static func isModelFolder(_ path: String) -> Bool {
        (try? VisionConfig(configJSON: path + "/config.json")) != nil
    }

    public init(folder: String) throws(VisionError) {
        let clock = ContinuousClock(), started = clock.now
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notAModel(path: folder, reason: "no such folder")
        }
        self.folder = folder
        config = try VisionConfig(configJSON: folder + "/config.json")
        let decoder: LlamaModel
        do { decoder = try LlamaModel(safetensorsFolder: folder) } catch { throw .weights("language model: \(error)") }
        self.decoder = decoder
        guard let tokenizer = decoder.tokenizer else { throw .notAModel(path: folder, reason: "no tokenizer.json") }
        self.tokenizer = tokenizer
        guard let template = ConversationTemplate(named: config.template) else {
            throw .unsupported("conversation template '\(config.template)' (known: Hermes-2, internlm2-chat, h2ogpt2, phi3-chat)")
        }
        self.template = template
        for name in [Self.imageStart, Self.imageEnd, Self.imageContext] where tokenizer.specialTokens[name] == nil {
            throw .notAModel(path: folder, reason: "the tokenizer has no \(name) token")
        }
        imageContextToken = tokenizer.specialTokens[Self.imageContext] ?? 0
        let source: SafetensorsFolder
        do { source = try SafetensorsFolder(path: folder) } catch { throw .weights("\(error)") }
        encoder = try VisionEncoder(config: config, source: source, outputSize: decoder.config.hiddenSize)
        var stops = tokenizer.stopTokens
        if let sep = tokenizer.specialTokens[template.separator] ?? tokenizer.id(of: template.separator) { stops.insert(sep) }
        stops.formUnion(Self.generationStops(folder + "/generation_config.json"))
        stopTokens = stops
        loadSeconds = (clock.now - started).seconds
    }

    static func generationStops(_ path: String) -> Set<Int> {
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        if let one = json["eos_token_id"] as? Int { return [one] }
        return Set(json["eos_token_id"] as? [Int] ?? [])
    }

    // MARK: images

    /// The page's tiles in model order (the checkpoint's tile limits, thumbnail and MSAC).
    public func tiles(of page: PixelBuffer) -> [Tile] {
        Tiler(configuration: config.tiling).tiles(of: page)
    }

    /// Channels-first normalised floats of `tiles`, one after another.
    public static func pixels(of tiles: [Tile]) -> [Float] {
        var out: [Float] = []
        for tile in tiles { out += PixelNormalization.imageNet.tensor(from: tile.image) }
        return out
    }

    // MARK: prompts

    /// The prompt text `chat()` builds: the question with `<image>` (or `<image>\n` in front
    /// when it has none) in the template, each `<image>` replaced by `<img>` + 256 per tile
    /// `<IMG_CONTEXT>` + `</img>`.
    public func promptText(question: String, tileCounts: [Int]) -> String {
        var q = question
        if !tileCounts.isEmpty && !q.contains("<image>") {
            q = tileCounts.count == 1 ? "<image>\n" + q
                : tileCounts.indices.map { "Image-\($0 + 1): <image>\n" }.joined() + q
        }
        var text = template.render(question: q)
        for count in tileCounts {
            let tokens = Self.imageStart + String(repeating: Self.imageContext, count: count * config.tokensPerTile) + Self.imageEnd
            if let r = text.range(of: "<image>") { text.replaceSubrange(r, with: tokens) }
        }
        return text
    }

    /// Token ids of a prompt text, with the tokenizer's BOS when it adds one.
    public func tokenize(_ text: String) -> [Int] {
        tokenizer.encode(text, parseSpecial: true, addBOS: tokenizer.addsBOS)
    }

    /// Splits `ids` at runs of `<IMG_CONTEXT>`, which take the image embeddings in order.
    public func inputs(ids: [Int], embeddings: [Float]) throws(VisionError) -> [PromptInput] {
        let hidden = decoder.config.hiddenSize
        let placeholders = ids.reduce(0) { $0 + ($1 == imageContextToken ? 1 : 0) }
        guard placeholders * hidden == embeddings.count else {
            throw .prompt("\(placeholders) <IMG_CONTEXT> tokens but \(embeddings.count / max(1, hidden)) image embeddings")
        }
        var inputs: [PromptInput] = []
        var run: [Int] = []
        var used = 0, i = 0
        while i < ids.count {
            if ids[i] == imageContextToken {
                if !run.isEmpty { inputs.append(.tokens(run)); run.removeAll() }
                var j = i
                while j < ids.count && ids[j] == imageContextToken { j += 1 }
                inputs.append(.embeddings(Array(embeddings[used * hidden..<(used + j - i) * hidden]), count: j - i))
                used += j - i
                i = j
            } else {
                run.append(ids[i])
                i += 1
            }
        }
        if !run.isEmpty { inputs.append(.tokens(run)) }
        return inputs
    }

    /// Tiles, encodes and tokenizes: everything before the decoder runs.
    public func prompt(question: String, pages: [PixelBuffer], threads: Int = 1) throws(VisionError)
        -> (prompt: MultimodalPrompt, encodeSeconds: Double) {
        let clock = ContinuousClock(), started = clock.now
        var counts: [Int] = []
        var pixels: [Float] = []
        for page in pages {
            let tiles = self.tiles(of: page)
            counts.append(tiles.count)
            pixels += Self.pixels(of: tiles)
        }
        let total = counts.reduce(0, +)
        let embeddings = total > 0 ? try encoder.encode(pixels, tiles: total, threads: threads).embeddings : []
        let seconds = (clock.now - started).seconds
        let text = promptText(question: question, tileCounts: counts)
        let ids = tokenize(text)
        return (MultimodalPrompt(text: text, ids: ids, inputs: try inputs(ids: ids, embeddings: embeddings), tiles: total),
                seconds)
    }

    // MARK: generation

    /// Answers `question` about `pages`; with `grammar`, every token is masked so the answer is
    /// JSON that validates against the grammar's schema.
    public func generate(question: String, pages: [PixelBuffer], parameters: GenerationParameters,
                         grammar: Grammar? = nil, threads: Int? = nil) throws(VisionError) -> VisionGeneration {
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let (prompt, encodeSeconds) = try self.prompt(question: question, pages: pages, threads: threads)
        let session = DecoderSession(model: decoder, capacity: min(decoder.config.contextLength, prompt.ids.count + parameters.maxTokens + 1),
                                     threads: threads, batchSize: 256)
        let clock = ContinuousClock()
        if let grammar {
            let generator = ConstrainedGenerator(session: session, grammar: grammar, vocabulary: TokenVocabulary(tokenizer: tokenizer))
            let started = clock.now
            do {
                let out = try generator.generate(inputs: prompt.inputs, parameters: parameters)
                let total = (clock.now - started).seconds
                return VisionGeneration(text: out.text, tokens: out.tokens, value: out.value, promptTokens: prompt.ids.count,
                                        tiles: prompt.tiles, encodeSeconds: encodeSeconds,
                                        prefillSeconds: out.prefillSeconds, generationSeconds: total - out.prefillSeconds)
            } catch {
                throw .generation("\(error)")
            }
        }
        var parameters = parameters
        parameters.stopTokens.formUnion(stopTokens)
        do {
            var iterator = try TokenIterator(session: session, prompt: prompt.inputs, parameters: parameters)
            var tokens: [Int] = []
            while let t = try iterator.next() { tokens.append(t) }
            return VisionGeneration(text: tokenizer.decode(tokens, skipSpecial: true), tokens: tokens, value: nil,
                                    promptTokens: prompt.ids.count, tiles: prompt.tiles, encodeSeconds: encodeSeconds,
                                    prefillSeconds: iterator.promptSeconds, generationSeconds: iterator.generationSeconds)
        } catch {
            throw .generation("\(error)")
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
