public import SkiffModelFiles
public import SkiffTokenizer

/// Errors loading or running a decoder.
public enum DecoderError: Error, Sendable, CustomStringConvertible {
    case modelFile(ModelFileError)
    case tokenizer(TokenizerError)
    case unsupportedWeight(tensor: String, type: TensorType, reason: String)
    case contextFull(capacity: Int)
    case invalidInput(String)
    case noModel(path: String)

    public var description: String {
        switch self {
        case let .modelFile(e): e.description
        case let .tokenizer(e): e.description
        case let .unsupportedWeight(tensor, type, reason): "weight '\(tensor)' (\(type)) cannot be used: \(reason)"
        case let .contextFull(capacity): "the context is full (\(capacity) positions); start a new session or raise the context size"
        case let .invalidInput(what): "invalid input: \(what)"
        case let .noModel(path): "\(path) is neither a .gguf file nor a folder with config.json and safetensors weights"
        }
    }
}
