/// Errors building a tokenizer or applying a chat template.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingField(String, source: String)
    case unsupportedModel(String, source: String)
    case unsupportedPreTokenizer(String, source: String)
    case badMerge(index: Int, merge: String, source: String)
    case tokenOutOfRange(id: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case let .missingField(field, source): "\(source): tokenizer field '\(field)' is missing or has the wrong type"
        case let .unsupportedModel(model, source): "\(source): tokenizer model '\(model)' is not supported (byte-level or SentencePiece-style BPE)"
        case let .unsupportedPreTokenizer(pre, source): "\(source): pre-tokenizer '\(pre)' is not supported (smollm, gpt2, qwen2, llama-bpe)"
        case let .badMerge(index, merge, source): "\(source): merge #\(index) '\(merge)' does not name two vocabulary tokens"
        case let .tokenOutOfRange(id, size): "token id \(id) is outside the vocabulary (\(size) tokens)"
        }
    }
}
