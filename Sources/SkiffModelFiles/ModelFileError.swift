/// Everything that can go wrong reading a model file. Messages name the file and,
/// where there is one, the tensor or key.
public enum ModelFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notGGUF(path: String)
    case unsupportedVersion(path: String, version: UInt32)
    case truncated(path: String, offset: Int, what: String)
    case malformed(path: String, what: String)
    case tensorOutOfBounds(path: String, tensor: String, start: Int, end: Int, fileSize: Int)
    case unsupportedTensorType(path: String, tensor: String, type: String)
    case tensorNotFound(name: String)
    case wrongShape(tensor: String, expected: [Int], actual: [Int])
    case missingKey(key: String, source: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "cannot open \(path): \(reason)"
        case let .notGGUF(path): "\(path) is not a GGUF file (bad magic)"
        case let .unsupportedVersion(path, version): "\(path): GGUF version \(version) is not supported (2 or 3)"
        case let .truncated(path, offset, what): "\(path) is truncated: \(what) runs past the end at byte \(offset)"
        case let .malformed(path, what): "\(path) is malformed: \(what)"
        case let .tensorOutOfBounds(path, tensor, start, end, size):
            "\(path): tensor '\(tensor)' data [\(start), \(end)) lies outside the file (\(size) bytes)"
        case let .unsupportedTensorType(path, tensor, type): "\(path): tensor '\(tensor)' has unsupported type \(type)"
        case let .tensorNotFound(name): "tensor '\(name)' not found in the model"
        case let .wrongShape(tensor, expected, actual): "tensor '\(tensor)' has shape \(actual), expected \(expected)"
        case let .missingKey(key, source): "\(source): missing hyper-parameter '\(key)'"
        }
    }
}
