/// Why the inbox cannot run or could not do something. Each message says what and where.
public enum InboxError: Error, Sendable, CustomStringConvertible {
    /// A folder the inbox needs is missing or cannot be created.
    case folder(path: String, reason: String)
    /// The journal could not be opened or written.
    case journal(path: String, reason: String)
    /// Another `skiff watch` holds the journal's lock.
    case locked(path: String)
    /// A file could not be moved or written durably.
    case file(path: String, reason: String)
    /// The configuration does not make sense (a done folder inside the output, …).
    case configuration(String)

    public var description: String {
        switch self {
        case .folder(let path, let reason): "\(path): \(reason)"
        case .journal(let path, let reason): "journal \(path): \(reason)"
        case .locked(let path): "\(path): another skiff watch is running on this journal (its lock is held)"
        case .file(let path, let reason): "\(path): \(reason)"
        case .configuration(let reason): "configuration: \(reason)"
        }
    }
}
