public import SkiffJSON

/// Settings for compiling and validating.
public struct SchemaOptions: Sendable {
    /// Dialect for schemas without `$schema`.
    public var defaultDialect: Dialect = .draft2020_12
    /// Check `format` (by default it is an annotation only, as the 2019-09/2020-12 specs say).
    public var formatAssertion = false
    /// Keep non-asserting `format` keywords in the compiled model (for inspection).
    public var collectFormatAnnotations = true
    /// Deepest nesting of (schema, instance) evaluation before `SchemaError.limitExceeded`.
    public var maxDepth = 512
    /// Largest `enum` accepted.
    public var maxEnumSize = 1_000_000
    /// Steps one regex match may take before `SchemaError.limitExceeded`.
    public var regexStepLimit = 1_000_000

    public init() {}
}

/// A compiled JSON Schema, ready to validate instances. Immutable and `Sendable`.
public struct JSONSchema: Sendable {
    /// The root of the compiled schema graph.
    public let root: SchemaNode
    /// Owns every node; `$ref` cycles make the node graph cyclic, so it is torn down when the
    /// last copy of this schema goes away (nodes are meant to be used while it is alive).
    let arena: NodeArena
    public let options: SchemaOptions
    let dynamicTargets: [String: SchemaNode]
    let recursiveTargets: [String: SchemaNode]
    let dynamicAnchorNames: [String: Set<String>]
    let resourceURIs: [String]
    let usesDynamicScope: Bool
    /// The flattened form `isValid` runs (nil for schemas that need `Validator`'s annotations
    /// or dynamic scope).
    let program: ValidationProgram?

    /// Compiles `schema`. `uri` is its retrieval URI (relative `$ref`s resolve against it);
    /// `registry` supplies documents that references name.
    public init(
        _ schema: JSONValue, uri: String = "urn:skiff:schema", registry: SchemaRegistry = .standard,
        options: SchemaOptions = SchemaOptions()
    ) throws(SchemaError) {
        let c = SchemaCompiler(registry: registry, options: options)
        try c.addDocument(schema, uri: uri)
        let docKey = URIReference(uri).withoutFragment
        root = try c.node(at: SchemaCompiler.Location(doc: docKey, pointer: ""), from: "")
        try c.drain()
        // Compile every dynamic/recursive anchor target, since which one applies is only known
        // during evaluation. Loaded documents may add more, so repeat until nothing is new.
        var dyn: [String: SchemaNode] = [:]
        var rec: [String: SchemaNode] = [:]
        var changed = true
        while changed {
            changed = false
            for (uri, names) in c.dynamicAnchorNames {
                for name in names where dyn[uri + "#" + name] == nil {
                    if let loc = c.anchors[uri + "#" + name] {
                        dyn[uri + "#" + name] = try c.node(at: loc, from: "")
                        changed = true
                    }
                }
            }
            for uri in c.recursiveAnchorResources where rec[uri] == nil {
                if let loc = c.resources[uri] {
                    rec[uri] = try c.node(at: loc, from: "")
                    changed = true
                }
            }
            try c.drain()
        }
        dynamicTargets = dyn
        recursiveTargets = rec
        dynamicAnchorNames = c.dynamicAnchorNames
        resourceURIs = c.resourceURIs
        usesDynamicScope = c.usesDynamicScope
        self.options = options
        arena = NodeArena(Array(c.nodes.values))
        try Self.checkRefCycles(root)
        program = ValidationProgram(root: root, options: options, usesDynamicScope: c.usesDynamicScope)
    }

    /// Parses and compiles schema text.
    public init(
        text: String, uri: String = "urn:skiff:schema", registry: SchemaRegistry = .standard,
        options: SchemaOptions = SchemaOptions()
    ) throws(SchemaError) {
        let value: JSONValue
        do { value = try JSONParser().parse(text) } catch { throw .unreadableDocument(uri, reason: error.description) }
        try self.init(value, uri: uri, registry: registry, options: options)
    }

    /// `$ref` chains that come back to where they started without an applicator in between
    /// would recurse forever on any instance: reject them when compiling.
    static func checkRefCycles(_ root: SchemaNode) throws(SchemaError) {
        var seen: Set<ObjectIdentifier> = []
        var stack = [root]
        var all: [SchemaNode] = []
        while let n = stack.popLast() {
            guard seen.insert(ObjectIdentifier(n)).inserted else { continue }
            all.append(n)
            for k in n.keywords { stack.append(contentsOf: k.kind.children) }
        }
        for n in all {
            var path: Set<ObjectIdentifier> = [ObjectIdentifier(n)]
            var cur = n
            while let next = cur.keywords.lazy.compactMap({ k -> SchemaNode? in
                if case .ref(let t) = k.kind { return t }
                return nil
            }).first {
                if !path.insert(ObjectIdentifier(next)).inserted {
                    if next === n { throw .referenceCycle("\(n.absoluteLocation) refers back to itself through $ref") }
                    break
                }
                cur = next
            }
        }
    }

    /// True when `instance` is valid (stops at the first failure).
    public func isValid(_ instance: JSONValue) throws(SchemaError) -> Bool {
        if let program { return try program.isValid(instance) }
        var v = Validator(schema: self, detailed: false)
        return try v.run(instance)
    }

    /// True when `instance` is valid against `node`, one of this schema's nodes, evaluated as if
    /// it were the root (constrained decoding checks finished sub-values this way). Dynamic
    /// scope starts at `node`, so callers must not rely on it for `$dynamicRef` schemas.
    public func isValid(_ instance: JSONValue, against node: SchemaNode) throws(SchemaError) -> Bool {
        if let program, let start = program.index[ObjectIdentifier(node)] { return try program.isValid(instance, from: start) }
        var v = Validator(schema: self, detailed: false)
        var ev = Evaluated()
        return try v.validate(node, instance, &ev, collect: false)
    }

    /// True when `$dynamicRef`/`$recursiveRef` make evaluation depend on the dynamic scope.
    public var dependsOnDynamicScope: Bool { usesDynamicScope }

    /// Validates `instance` and reports every failure.
    public func validate(_ instance: JSONValue) throws(SchemaError) -> ValidationResult {
        var v = Validator(schema: self, detailed: true)
        let ok = try v.run(instance)
        return ValidationResult(isValid: ok, errors: ok ? [] : v.errors)
    }
}

/// Breaks the reference cycles between nodes when the schema is released.
final class NodeArena: @unchecked Sendable {
    let nodes: [SchemaNode]
    init(_ nodes: [SchemaNode]) { self.nodes = nodes }
    deinit { for n in nodes { n.keywords = [] } }
}

extension Keyword {
    /// The subschemas this keyword applies.
    public var children: [SchemaNode] {
        switch self {
        case .contains(let n, _, _), .additionalProperties(let n, _, _), .propertyNames(let n), .items(let n, _), .not(let n),
            .ref(let n), .dynamicRef(let n, _), .recursiveRef(let n), .unevaluatedItems(let n), .unevaluatedProperties(let n):
            return [n]
        case .properties(let m): return m.values
        case .patternProperties(let l): return l.map(\.1)
        case .prefixItems(let l), .allOf(let l), .anyOf(let l), .oneOf(let l): return l
        case .conditional(let i, let t, let e): return [i] + [t, e].compactMap { $0 }
        case .dependentSchemas(let l): return l.map(\.1)
        default: return []
        }
    }
}

/// One failed assertion: where in the instance, which keyword (by evaluation path and by
/// absolute schema location), and why.
public struct ValidationError: Sendable, Equatable, CustomStringConvertible {
    public let instanceLocation: String
    public let keywordLocation: String
    public let absoluteKeywordLocation: String
    public let message: String

    public var description: String {
        "\(instanceLocation.isEmpty ? "(root)" : instanceLocation): \(message) [schema \(keywordLocation.isEmpty ? "(root)" : keywordLocation)]"
    }
}

public struct ValidationResult: Sendable {
    public let isValid: Bool
    public let errors: [ValidationError]

    /// The specification's "basic" output format (JSON Schema 2020-12 §12.4.2).
    public var basicOutput: JSONValue {
        var o = JSONObject()
        o["valid"] = .bool(isValid)
        if !isValid {
            o["errors"] = .array(
                errors.map { e in
                    var eo = JSONObject()
                    eo["keywordLocation"] = .string(e.keywordLocation)
                    eo["absoluteKeywordLocation"] = .string(e.absoluteKeywordLocation)
                    eo["instanceLocation"] = .string(e.instanceLocation)
                    eo["error"] = .string(e.message)
                    return .object(eo)
                })
        }
        return .object(o)
    }
}

/// RFC 4648 base64 (standard alphabet, padding optional), for draft 7 `contentEncoding`.
enum Base64 {
    static func decode(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in s.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - 48 + 52)
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): padding += 1; continue
            case 0x0A, 0x0D: continue
            default: return nil
            }
            if padding > 0 { return nil }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return padding <= 2 ? out : nil
    }
}
