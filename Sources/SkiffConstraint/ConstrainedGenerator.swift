public import SkiffDecoder
public import SkiffJSON
import SkiffSchema

/// What one constrained generation produced.
public struct ConstrainedOutput: Sendable {
    public let text: String
    public let value: JSONValue
    public let tokens: [Int]
    /// Tokens appended without sampling because the mask allowed only one.
    public let forcedTokens: Int
    /// Tokens where the sampled token was allowed and no full mask was computed (`trySampledFirst`).
    public let sampledFirstHits: Int
    /// Seconds spent computing masks and advancing the matcher.
    public let constraintSeconds: Double
    /// All of it, prefill included.
    public let generationSeconds: Double
    /// Seconds the prompt took (part of `generationSeconds`).
    public var prefillSeconds: Double = 0
}

/// Generation loop with the schema constraint inside it (rather than a plain `LogitsProcessor`)
/// so a forced token skips sampling and is counted, and "try the sampled token first" can
/// skip the mask.
public struct ConstrainedGenerator {
    public let session: DecoderSession
    public let grammar: Grammar
    public let vocabulary: TokenVocabulary
    /// Sample from the unmasked logits first and build the full mask only when the token is rejected.
    public var trySampledFirst = false

    public init(session: DecoderSession, grammar: Grammar, vocabulary: TokenVocabulary) {
        self.session = session
        self.grammar = grammar
        self.vocabulary = vocabulary
    }

    public func generate(prompt: [Int], parameters: GenerationParameters) throws -> ConstrainedOutput {
        try generate(inputs: [.tokens(prompt)], parameters: parameters)
    }

    /// The same for a prompt of token ids and embeddings (image tokens of a vision-language model).
    public func generate(inputs: [PromptInput], parameters: GenerationParameters) throws -> ConstrainedOutput {
        let clock = ContinuousClock()
        let started = clock.now
        var constraintTime = Duration.zero
        var logits = try session.prefill(inputs)
        let prefilled = clock.now - started
        let matcher = try ConstraintMatcher(grammar: grammar, vocabulary: vocabulary)
        var sampler = Sampler(parameters: parameters)
        var mask = TokenMask(count: vocabulary.size)
        var tokens: [Int] = []
        var forced = 0, hits = 0
        while tokens.count < parameters.maxTokens && !matcher.isFinished {
            var chosen: Int?
            if trySampledFirst, let t = sampler.sample(logits) {
                let s = clock.now
                if matcher.allows(t) {
                    chosen = t
                    hits += 1
                }
                constraintTime += clock.now - s
            }
            if chosen == nil {
                let s = clock.now
                matcher.fillMask(&mask)
                constraintTime += clock.now - s
                if let f = matcher.failure { throw f }
                switch mask.population {
                case 0:
                    throw ConstraintError.deadEnd("after \(String(decoding: matcher.output, as: UTF8.self).suffix(80).debugDescription)")
                case 1:
                    chosen = mask.ids[0]
                    forced += 1
                default:
                    for i in logits.indices where i >= mask.count || !mask.contains(i) { logits[i] = -.infinity }
                    chosen = sampler.sample(logits)
                }
            }
            guard let token = chosen else { throw ConstraintError.deadEnd("every allowed token has zero probability") }
            if token == vocabulary.eos { break }
            let s = clock.now
            guard matcher.consume(token: token) else { throw ConstraintError.deadEnd("token \(token) was allowed but not accepted") }
            constraintTime += clock.now - s
            tokens.append(token)
            if matcher.isFinished || tokens.count >= parameters.maxTokens || session.position >= session.capacity { break }
            logits = try session.step(token)
        }
        let text = String(decoding: matcher.output, as: UTF8.self)
        guard matcher.isAccepting else {
            throw ConstraintError.incomplete("stopped after \(tokens.count) tokens: \(text.suffix(80).debugDescription)")
        }
        let value: JSONValue
        do { value = try JSONParser().parse(matcher.output) } catch { throw ConstraintError.invalidOutput("\(error)") }
        // The final validator pass: the guarantee in lenient mode, a cheap assertion otherwise.
        let result = try grammar.schema.validate(value)
        if !result.isValid {
            throw ConstraintError.invalidOutput(result.errors.map(\.description).joined(separator: "; "))
        }
        var output = ConstrainedOutput(text: text, value: value, tokens: tokens, forcedTokens: forced, sampledFirstHits: hits,
                                 constraintSeconds: Double(constraintTime.components.seconds) + Double(constraintTime.components.attoseconds) * 1e-18,
                                 generationSeconds: Double((clock.now - started).components.seconds) + Double((clock.now - started).components.attoseconds) * 1e-18)
        output.prefillSeconds = Double(prefilled.components.seconds) + Double(prefilled.components.attoseconds) * 1e-18
        return output
    }
}
