import SkiffJSON

/// Why a schema could not be compiled or an instance could not be checked (not "invalid":
/// an invalid instance is a `ValidationResult`, not an error).
public enum SchemaError: Error, Sendable, CustomStringConvertible {
    /// The schema itself is malformed: what is wrong and where (a JSON Pointer into the schema).
    case invalidSchema(String, location: String)
    /// A `$ref` (or `$dynamicRef`) names something no registered document contains.
    case unresolvedReference(String, location: String)
    /// `$ref`s that loop without consuming any of the instance.
    case referenceCycle(String)
    /// A guard rail tripped: nesting depth, enum size, regex budget.
    case limitExceeded(String)
    /// A document could not be read.
    case unreadableDocument(String, reason: String)

    public var description: String {
        switch self {
        case .invalidSchema(let m, let loc): "invalid schema at \(loc.isEmpty ? "(root)" : loc): \(m)"
        case .unresolvedReference(let r, let loc): "cannot resolve reference \"\(r)\" at \(loc.isEmpty ? "(root)" : loc)"
        case .referenceCycle(let m): "$ref cycle: \(m)"
        case .limitExceeded(let m): "limit exceeded: \(m)"
        case .unreadableDocument(let p, let r): "cannot read \(p): \(r)"
        }
    }
}
