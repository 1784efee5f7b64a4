public import SkiffJSON

/// One compiled (sub)schema: where it is, which dialect it was read in, and its keywords in
/// evaluation order (`unevaluated*` last). References are resolved to other nodes, so the
/// graph may be cyclic; it is immutable once `JSONSchema` is built.
public final class SchemaNode: @unchecked Sendable {
    // Evaluation reads these four for every node it visits: declared first so that they share
    // the object's first cache line (the rest is for reporting and inspection).
    private(set) var kinds: [Keyword] = []
    /// Set when `type` is the only keyword to evaluate (the commonest leaf): checked inline.
    private(set) var onlyType: Keyword.TypeSet?
    /// `true`/`false` for boolean schemas.
    public internal(set) var boolean: Bool?
    var hasUnevaluated = false
    /// Index of `resourceURI` in the schema's resource table (cheap dynamic-scope bookkeeping).
    let resourceID: Int
    private(set) var keywordNames: [String] = []

    /// Absolute location: the schema resource's URI and a JSON Pointer inside it.
    public let absoluteLocation: String
    /// URI of the enclosing schema resource (its `$id`, or the document's URI).
    public let resourceURI: String
    public let dialect: Dialect
    /// Keywords in evaluation order (`unevaluated*` last).
    public internal(set) var keywords: [CompiledKeyword] = [] {
        didSet {
            kinds = keywords.map(\.kind)
            keywordNames = keywords.map(\.name)
            onlyType = nil
            if kinds.count == 1, case .type(let set, _) = kinds[0] { onlyType = set }
        }
    }
    /// Keywords present that no vocabulary in this dialect defines (kept as annotations).
    public internal(set) var unknownKeywords: [String] = []
    /// The `$dynamicAnchor` this schema declares (2020-12), if any.
    public internal(set) var dynamicAnchor: String?
    /// `$recursiveAnchor: true` (2019-09).
    public internal(set) var recursiveAnchor = false

    init(absoluteLocation: String, resourceURI: String, resourceID: Int, dialect: Dialect) {
        self.resourceID = resourceID
        self.absoluteLocation = absoluteLocation
        self.resourceURI = resourceURI
        self.dialect = dialect
    }
}

/// A keyword with its compiled argument. `name` is the keyword as written (its schema
/// location is the node's `absoluteLocation` + "/" + `name`).
public struct CompiledKeyword: @unchecked Sendable {
    public let name: String
    public let kind: Keyword
}

/// The keywords, compiled. Subschemas are `SchemaNode`s.
public indirect enum Keyword {
    public struct TypeSet: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let null = TypeSet(rawValue: 1)
        public static let boolean = TypeSet(rawValue: 2)
        public static let object = TypeSet(rawValue: 4)
        public static let array = TypeSet(rawValue: 8)
        public static let number = TypeSet(rawValue: 16)
        public static let string = TypeSet(rawValue: 32)
        public static let integer = TypeSet(rawValue: 64)
    }

    case type(TypeSet, names: [String])
    case enumeration([JSONValue], lookup: Set<JSONValue>?)
    case const(JSONValue)
    case multipleOf(JSONNumber)
    case maximum(JSONNumber, exclusive: Bool)
    case minimum(JSONNumber, exclusive: Bool)
    case maxLength(Int)
    case minLength(Int)
    case pattern(ECMARegex)
    case maxItems(Int)
    case minItems(Int)
    case uniqueItems
    case contains(SchemaNode, min: Int, max: Int?)
    case maxProperties(Int)
    case minProperties(Int)
    case required([String])
    case dependentRequired([(String, [String])])
    case properties(PropertyTable<SchemaNode>)
    case patternProperties([(ECMARegex, SchemaNode)])
    case additionalProperties(SchemaNode, known: PropertyTable<SchemaNode>, patterns: [ECMARegex])
    case propertyNames(SchemaNode)
    case prefixItems([SchemaNode])
    /// Items from index `from` on (2020-12 `items`, `additionalItems`, object-form `items`).
    case items(SchemaNode, from: Int)
    case allOf([SchemaNode])
    case anyOf([SchemaNode])
    case oneOf([SchemaNode])
    case not(SchemaNode)
    case conditional(if: SchemaNode, then: SchemaNode?, else: SchemaNode?)
    case dependentSchemas([(String, SchemaNode)])
    case ref(SchemaNode)
    /// `$dynamicRef`: the statically resolved target and, when the fragment is a plain name, that name.
    case dynamicRef(SchemaNode, anchor: String?)
    case recursiveRef(SchemaNode)
    /// `kind` is nil for formats Skiff does not know (never asserted).
    case format(String, kind: Formats.Kind?, assert: Bool)
    /// Draft 7 `contentEncoding` (base64) / `contentMediaType` (application/json), asserted.
    case content(encoding: String?, mediaType: String?)
    case unevaluatedProperties(SchemaNode)
    case unevaluatedItems(SchemaNode)
}

/// Property names mapped to values, in schema order; names compare code point by code point
/// (JSON does not equate canonically equivalent strings). Small tables are searched linearly:
/// comparing short Swift strings is far cheaper than hashing them, and most schemas list
/// only a few properties per object.
public final class PropertyTable<Value>: @unchecked Sendable {
    public let names: [String]
    public let values: [Value]
    private let index: [String: Int]?

    public init(_ pairs: [(String, Value)]) {
        var names: [String] = []
        var values: [Value] = []
        for (k, v) in pairs where !names.contains(k) {
            names.append(k)
            values.append(v)
        }
        self.names = names
        self.values = values
        if names.count > 16 {
            var built: [String: Int] = [:]
            for (i, k) in names.enumerated() { built[k] = i }
            index = built
        } else {
            index = nil
        }
    }

    public var count: Int { names.count }

    @inline(__always) public func position(of name: String) -> Int? {
        if let index { return index[name] }
        let n = name.utf8.count
        for i in names.indices where names[i].utf8.count == n && JSONValue.sameCodePoints(names[i], name) { return i }
        return nil
    }

    public subscript(name: String) -> Value? { position(of: name).map { values[$0] } }
    public func contains(_ name: String) -> Bool { position(of: name) != nil }
}
