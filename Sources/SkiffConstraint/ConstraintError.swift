/// Why a schema cannot be compiled into a constraint, or why constrained decoding stopped.
public enum ConstraintError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A keyword the engine cannot enforce exactly (and `lenient` is off).
    case unsupported(keyword: String, location: String, reason: String)
    /// A guard rail against hostile schemas (alternatives, enum size, depth).
    case limitExceeded(String)
    /// The schema itself could not be compiled by the validator.
    case schema(String)
    /// Lenient mode only: the finished output fails the validator.
    case invalidOutput(String)
    /// No token can continue the output (a prefix the automaton accepted cannot be completed).
    case deadEnd(String)
    /// Generation ended (token limit, context) before the document was complete.
    case incomplete(String)

    public var description: String {
        switch self {
        case .unsupported(let k, let loc, let why): "cannot enforce `\(k)` at \(loc): \(why) (use lenient mode to check it after generation)"
        case .limitExceeded(let m): "limit exceeded: \(m)"
        case .schema(let m): "schema error: \(m)"
        case .invalidOutput(let m): "output violates the schema: \(m)"
        case .deadEnd(let m): "no token can continue the output: \(m)"
        case .incomplete(let m): "output incomplete: \(m)"
        }
    }
}
