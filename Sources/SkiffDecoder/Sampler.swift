import Foundation

/// How tokens are chosen. `Sendable` so it can travel with a generation request.
public struct GenerationParameters: Sendable, Equatable {
    public var maxTokens: Int
    /// 0 (or `greedy`) picks the most likely token.
    public var temperature: Float
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p (1: all).
    public var topP: Float
    public var seed: UInt64
    /// Extra tokens that end generation, beside the tokenizer's stop tokens.
    public var stopTokens: Set<Int>

    public init(maxTokens: Int = 256, temperature: Float = 0.7, topK: Int = 40, topP: Float = 0.95,
                seed: UInt64 = 0, stopTokens: Set<Int> = []) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.stopTokens = stopTokens
    }

    public static func greedy(maxTokens: Int = 256) -> GenerationParameters {
        GenerationParameters(maxTokens: maxTokens, temperature: 0, topK: 1, topP: 1)
    }

    public var isGreedy: Bool { temperature <= 0 || topK == 1 }
}

/// A per-step hook on the logits before sampling. A constrained decoder sets the
/// logits of forbidden tokens to `-Float.infinity`.
public protocol LogitsProcessor {
    /// - Parameters:
    ///   - logits: one value per vocabulary entry; edit in place.
    ///   - tokens: the tokens generated so far (not the prompt).
    mutating func process(_ logits: inout [Float], generated tokens: [Int])
}

/// A `LogitsProcessor` from a closure.
public struct ClosureLogitsProcessor: LogitsProcessor {
    let body: (inout [Float], [Int]) -> Void
    public init(_ body: @escaping (inout [Float], [Int]) -> Void) { self.body = body }
    public mutating func process(_ logits: inout [Float], generated tokens: [Int]) { body(&logits, tokens) }
}

/// SplitMix64: a small, seedable generator so sampling is reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Greedy, temperature, top-k and top-p sampling.
public struct Sampler: Sendable {
    public let parameters: GenerationParameters
    private var rng: SeededGenerator

    public init(parameters: GenerationParameters) {
        self.parameters = parameters
        rng = SeededGenerator(seed: parameters.seed)
    }

    /// The index of the largest logit (the first on ties), or nil when every token is masked.
    public static func argmax(_ logits: [Float]) -> Int? {
        var best: Int?
        var bestValue = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestValue {
            best = i
            bestValue = v
        }
        return best
    }

    public mutating func sample(_ logits: [Float]) -> Int? {
        if parameters.isGreedy { return Self.argmax(logits) }
        var candidates: [(id: Int, logit: Float)] = []
        candidates.reserveCapacity(logits.count)
        for (i, v) in logits.enumerated() where v > -Float.infinity && !v.isNaN { candidates.append((i, v)) }
        guard !candidates.isEmpty else { return nil }
        candidates.sort { $0.logit > $1.logit }
        if parameters.topK > 0 && candidates.count > parameters.topK { candidates.removeLast(candidates.count - parameters.topK) }
        let maxLogit = candidates[0].logit
        var probs = candidates.map { Foundation.exp(Double(($0.logit - maxLogit) / parameters.temperature)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if parameters.topP < 1 {
            var cumulative = 0.0
            var keep = probs.count
            for (i, p) in probs.enumerated() {
                cumulative += p
                if cumulative >= Double(parameters.topP) {
                    keep = i + 1
                    break
                }
            }
            probs.removeLast(probs.count - keep)
            candidates.removeLast(candidates.count - keep)
        }
        let r = Double.random(in: 0..<probs.reduce(0, +), using: &rng)
        var acc = 0.0
        for (i, p) in probs.enumerated() {
            acc += p
            if r < acc { return candidates[i].id }
        }
        return candidates.last?.id
    }
}
