/// Why a score could not be computed: every case names the file (and line or key) at fault.
public enum ScoringError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or folder does not exist or cannot be read.
    case unreadable(path: String, reason: String)
    /// The bytes are not valid UTF-8.
    case notUTF8(path: String)
    /// A file whose format Skiff cannot tell or does not read.
    case unsupportedFormat(path: String, reason: String)
    /// A malformed row or element; `location` is a line number or an element path.
    case malformed(path: String, location: String, reason: String)
    /// Two files in one folder map to the same stem, so matching would be ambiguous.
    case duplicateStem(stem: String, paths: [String])
    /// Ground truth and output are not the same kind (a file against a folder).
    case mismatchedInputs(String)
    /// An unknown profile or normaliser name.
    case unknownName(kind: String, name: String, known: [String])

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "\(path): cannot read: \(reason)"
        case .notUTF8(let path):
            "\(path): not valid UTF-8 text"
        case .unsupportedFormat(let path, let reason):
            "\(path): unsupported format: \(reason)"
        case .malformed(let path, let location, let reason):
            "\(path):\(location): \(reason)"
        case .duplicateStem(let stem, let paths):
            "files \(paths.joined(separator: ", ")) share the stem '\(stem)'; rename one so each ground-truth file has one output"
        case .mismatchedInputs(let why):
            why
        case .unknownName(let kind, let name, let known):
            "unknown \(kind) '\(name)'; known: \(known.joined(separator: ", "))"
        }
    }
}
