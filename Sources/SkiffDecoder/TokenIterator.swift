/// Synchronous generation: prefill the prompt, then each `next()` samples one token
/// and runs it through the model. Easy to test and benchmark; `TokenStream` wraps it
/// for async callers.
public struct TokenIterator {
    public let session: DecoderSession
    public private(set) var sampler: Sampler
    public var logitsProcessor: (any LogitsProcessor)?
    public private(set) var generated: [Int] = []
    public private(set) var finished = false
    /// Seconds spent on the prompt and on generated tokens.
    public private(set) var promptSeconds = 0.0
    public private(set) var generationSeconds = 0.0
    public private(set) var promptTokens = 0
    private var logits: [Float]
    private let stopTokens: Set<Int>

    /// Prefills `prompt` (continuing the session's sequence) and prepares to generate.
    public init(session: DecoderSession, prompt: [PromptInput], parameters: GenerationParameters,
                logitsProcessor: (any LogitsProcessor)? = nil) throws(DecoderError) {
        self.session = session
        sampler = Sampler(parameters: parameters)
        self.logitsProcessor = logitsProcessor
        stopTokens = parameters.stopTokens.union(session.model.tokenizer?.stopTokens ?? [])
        let start = ContinuousClock.now
        let before = session.position
        logits = try session.prefill(prompt)
        promptTokens = session.position - before
        promptSeconds = (ContinuousClock.now - start).seconds
        guard !logits.isEmpty else { throw .invalidInput("the prompt is empty") }
    }

    /// The next token, or nil when a stop token was sampled, `maxTokens` were produced,
    /// every token was masked, or the context is full.
    public mutating func next() throws(DecoderError) -> Int? {
        guard !finished, generated.count < sampler.parameters.maxTokens else {
            finished = true
            return nil
        }
        let start = ContinuousClock.now
        defer { generationSeconds += (ContinuousClock.now - start).seconds }
        if var processor = logitsProcessor {
            processor.process(&logits, generated: generated)
            logitsProcessor = processor
        }
        guard let token = sampler.sample(logits), !stopTokens.contains(token) else {
            finished = true
            return nil
        }
        generated.append(token)
        if generated.count < sampler.parameters.maxTokens {
            if session.position >= session.capacity {
                finished = true
            } else {
                logits = try session.step(token)
            }
        }
        return token
    }

    /// Generated tokens per second (tokens after the first need one forward pass each).
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(generated.count) / generationSeconds : 0
    }
    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// Generated tokens as an async sequence. Generation runs on its own task; ending the
/// iteration early (or cancelling the consuming task) stops it after the current token.
public struct TokenStream: AsyncSequence, Sendable {
    public typealias Element = Int
    private let stream: AsyncThrowingStream<Int, any Error>

    /// - Parameters:
    ///   - makeIterator: builds the `TokenIterator` on the generation task (the session is not `Sendable`).
    public init(bufferingLimit: Int = 64, _ makeIterator: @escaping @Sendable () throws -> TokenIterator) {
        stream = AsyncThrowingStream(bufferingPolicy: .bufferingOldest(bufferingLimit)) { continuation in
            let task = Task.detached {
                do {
                    var iterator = try makeIterator()
                    while !Task.isCancelled, let token = try iterator.next() {
                        continuation.yield(token)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<Int, any Error>.AsyncIterator { stream.makeAsyncIterator() }
}
