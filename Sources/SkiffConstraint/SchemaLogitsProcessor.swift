public import SkiffDecoder

/// The constraint as a plain `LogitsProcessor`, for `TokenIterator`/`TokenStream` users:
/// masks forbidden tokens to -infinity. `ConstrainedGenerator` is the better loop (forced
/// tokens skip sampling and are counted, output validated at the end); this one cannot skip
/// sampling, and the caller checks `matcher.isAccepting` when generation stops.
public struct SchemaLogitsProcessor: LogitsProcessor {
    public let matcher: ConstraintMatcher
    private var mask: TokenMask

    public init(matcher: ConstraintMatcher) {
        self.matcher = matcher
        mask = TokenMask(count: matcher.vocabulary.size)
    }

    public mutating func process(_ logits: inout [Float], generated tokens: [Int]) {
        // Catch up with tokens sampled since the last call (the iterator appends them).
        for t in tokens.dropFirst(matcher.tokenCount) where !matcher.consume(token: t) {
            break
        }
        matcher.fillMask(&mask)
        for i in logits.indices where !mask.contains(i) { logits[i] = -.infinity }
    }
}
