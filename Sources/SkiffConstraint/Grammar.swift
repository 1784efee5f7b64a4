public import SkiffJSON
public import SkiffSchema

/// Order in which object keys may be written.
public enum PropertyOrder: String, Sendable, CaseIterable {
    /// The order of `properties` in the schema (optional keys may be skipped), other keys last.
    case schema
    /// Required keys first (in schema order), then the other known keys, then the rest.
    case requiredFirst = "required-first"
    /// Any order (what MaskBench and the test suite need: instances keep their own order).
    case any
}

/// How a schema is turned into a constraint.
public struct ConstraintOptions: Sendable {
    public var propertyOrder: PropertyOrder = .schema
    /// Enforce what can be enforced and leave the rest to a final validator check
    /// (`ConstrainedGenerator` reports a violation instead of returning invalid JSON).
    public var lenient = false
    /// Keywords whose language the automaton only over-approximates (`not`, `if`, `oneOf`,
    /// `uniqueItems`, `contains`, `pattern`, `format`, number bounds, `multipleOf`, …) are
    /// enforced exactly by running the validator on each finished sub-value, so the closing byte
    /// of an invalid value is masked. The accepted language is then exact, but a prefix may have
    /// no valid completion (a dead end). Off: such keywords are compile errors.
    public var completionChecks = true
    /// Most branch combinations one value may open (`anyOf`/`oneOf` cross products).
    public var maxAlternatives = 256
    /// Deepest nesting of objects and arrays.
    public var maxDepth = 128
    /// Most strings an `enum` may list.
    public var maxEnumStrings = 100_000
    /// Most live configurations after one byte (ambiguity guard).
    public var maxConfigurations = 4096
    /// Generation guard rails (small models loop on digits and text): the most characters a
    /// number may have and the most code points a string may have. They narrow the language,
    /// never widen it; nil (the default, and what MaskBench uses) means unbounded.
    public var maxNumberLength: Int?
    public var maxStringLength: Int?
    /// Flexible whitespace: at most this many whitespace bytes in a row between tokens
    /// (0, the default: compact output).
    public var maxWhitespace = 0
    /// The page's words in reading order, for strings marked `"x-copy-from-page": true`
    /// (copy-from-page: such a string must be a run of consecutive words joined by single spaces).
    public var pageWords: [String] = []

    public init() {}
}

/// The JSON types as a bit set, `integer` folded into `number` (integrality is a check).
struct Types: OptionSet, Hashable {
    let rawValue: UInt8
    static let null = Types(rawValue: 1)
    static let boolean = Types(rawValue: 2)
    static let object = Types(rawValue: 4)
    static let array = Types(rawValue: 8)
    static let number = Types(rawValue: 16)
    static let string = Types(rawValue: 32)
    static let all: Types = [.null, .boolean, .object, .array, .number, .string]

    static func of(_ v: JSONValue) -> Types {
        switch v {
        case .null: .null
        case .bool: .boolean
        case .number: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }
}

/// A byte trie of canonical string serialisations (after the opening quote, closing quote included).
struct ByteTrie: Sendable {
    var next: [[(UInt8, Int32)]] = [[]]

    mutating func insert(_ bytes: some Sequence<UInt8>) {
        var node = 0
        for b in bytes {
            if let e = next[node].first(where: { $0.0 == b }) {
                node = Int(e.1)
            } else {
                next.append([])
                next[node].append((b, Int32(next.count - 1)))
                node = next.count - 1
            }
        }
    }

    @inline(__always) func step(_ node: Int32, _ b: UInt8) -> Int32 {
        for e in next[Int(node)] where e.0 == b { return e.1 }
        return -1
    }
}

struct PatKey: Hashable {
    let pat: PatState
    let budget: Int
}

/// One entry of a conjunction: a schema node, and whether its `anyOf`/`oneOf` still has to be
/// split into branches (false once a branch was chosen).
struct Entry: Hashable {
    let node: SchemaNode
    let expand: Bool
    static func == (a: Entry, b: Entry) -> Bool { a.node === b.node && a.expand == b.expand }
    func hash(into h: inout Hasher) {
        h.combine(ObjectIdentifier(node))
        h.combine(expand)
    }
}

/// What a value must look like: the intersection of a set of schema nodes (their `allOf`,
/// `$ref` and sibling keywords), compiled lazily and memoised by the set, so recursive schemas
/// compile in constant time and only the parts a document reaches are ever built.
final class Spec: @unchecked Sendable {
    let id: Int
    unowned let grammar: Grammar
    let entries: [Entry]  // flattened
    var types: Types = .all
    /// Numbers must be integers (JSON Schema semantics: 1.0 is an integer).
    var integerOnly = false
    /// Nodes the validator checks when the value is finished.
    var checks: [SchemaNode] = []
    /// When set, a string must be one of these (canonical serialisations).
    var stringEnum: [String]?
    var enumTrie: ByteTrie?
    var minLength = 0
    var maxLength = Int.max
    var minItems = 0
    var maxItems = Int.max
    var minProperties = 0
    var maxProperties = Int.max
    var required: [String] = []
    /// Known property names, first-seen order across the conjunction.
    var names: [String] = []
    /// Only `closedNames` may be keys (some conjunct has `additionalProperties: false` and no patterns).
    var closedNames: [[UInt8]]?  // canonical serialisations with both quotes
    var closedNameStrings: [String] = []
    /// `anyOf`/`oneOf` groups still to split.
    var groups: [[SchemaNode]] = []
    /// Prunes string prefixes that cannot match (the first `pattern`, or a format's shape).
    var patternNFA: PatternNFA? {
        didSet { patternDFA = patternNFA.map(PatternDFA.init) }
    }
    var patternDFA: PatternDFA?
    var formatShaped = false
    /// The schema node whose `pattern` `patternNFA` enforces exactly (no finished-value check).
    var exactPatternNode: SchemaNode?
    /// Some conjunct has `patternProperties` (a key's value schema then depends on regexes).
    var hasPatternProperties = false
    /// `names` and `required` as compact JSON string bodies (no quotes): the keys whose value
    /// schema or bookkeeping differs from any other key's.
    lazy var specialKeyBytes: [[UInt8]] = {
        var out: [[UInt8]] = []
        for n in names + required {
            let b = Array(JSONSerializer.compact.data(from: .string(n)).dropFirst().dropLast())
            if !out.contains(b) { out.append(b) }
        }
        return out
    }()
    /// Tokens that stay inside a pattern-pruned string, by pattern state and length budget.
    var insideCache: [PatKey: TokenMask] = [:]
    /// The string must be a span of the page's words (`x-copy-from-page`).
    var copyFromPage = false
    private var branchCache: [Spec]?
    private var childCache: [String: Spec] = [:]
    private var itemCache: [Int: Spec] = [:]
    var maxPrefix = 0
    private var rankCache: [String: Int] = [:]

    init(id: Int, grammar: Grammar, entries: [Entry]) {
        self.id = id
        self.grammar = grammar
        self.entries = entries
    }

    var isDead: Bool { types.isEmpty }

    /// The alternative-free specs a value of this spec may follow.
    func branches() throws(ConstraintError) -> [Spec] {
        if let branchCache { return branchCache }
        var out: [Spec]
        if groups.isEmpty {
            out = [self]
        } else {
            var combos: [[SchemaNode]] = [[]]
            for g in groups {
                var next: [[SchemaNode]] = []
                for c in combos { for alt in g { next.append(c + [alt]) } }
                combos = next
                if combos.count > grammar.options.maxAlternatives {
                    throw .limitExceeded("more than \(grammar.options.maxAlternatives) anyOf/oneOf branch combinations at \(entries.first?.node.absoluteLocation ?? "?")")
                }
            }
            out = []
            let base = entries.map { Entry(node: $0.node, expand: false) }
            for c in combos {
                let s = try grammar.spec(base + c.map { Entry(node: $0, expand: true) })
                if s.isDead { continue }
                out.append(contentsOf: try s.branches())
                if out.count > grammar.options.maxAlternatives {
                    throw .limitExceeded("more than \(grammar.options.maxAlternatives) anyOf/oneOf branches at \(entries.first?.node.absoluteLocation ?? "?")")
                }
            }
        }
        branchCache = out
        return out
    }

    /// The spec of the value under `key`, or nil when the key is not allowed.
    func child(_ key: String) throws(ConstraintError) -> Spec? {
        if let c = childCache[key] { return c.isDead ? nil : c }
        var list: [Entry] = []
        for e in entries {
            let n = e.node
            if n.boolean == false { continue }
            for k in n.keywords {
                switch k.kind {
                case .properties(let t):
                    if let c = t[key] {
                        list.append(Entry(node: c, expand: true))
                    }
                case .patternProperties(let l):
                    for (re, c) in l where grammar.matches(re, key) {
                        list.append(Entry(node: c, expand: true))
                    }
                default: break
                }
            }
            for k in n.keywords {
                if case .additionalProperties(let c, let known, let patterns) = k.kind {
                    if !known.contains(key) && !patterns.contains(where: { grammar.matches($0, key) }) {
                        list.append(Entry(node: c, expand: true))
                    }
                }
            }
        }
        let s = try grammar.spec(list)
        childCache[key] = s
        return s.isDead ? nil : s
    }

    /// The spec of item `index`, or nil when no item may stand there.
    func item(_ index: Int) throws(ConstraintError) -> Spec? {
        let key = min(index, maxPrefix)
        if let c = itemCache[key] { return c.isDead ? nil : c }
        var list: [Entry] = []
        for e in entries {
            for k in e.node.keywords {
                switch k.kind {
                case .prefixItems(let l): if index < l.count { list.append(Entry(node: l[index], expand: true)) }
                case .items(let c, let from): if index >= from { list.append(Entry(node: c, expand: true)) }
                default: break
                }
            }
        }
        let s = try grammar.spec(list)
        itemCache[key] = s
        return s.isDead ? nil : s
    }

    /// Position of `key` in the configured order (unknown keys after all known ones).
    func rank(_ key: String) -> Int {
        switch grammar.options.propertyOrder {
        case .any: return 0
        case .schema:
            if let r = rankCache[key] { return r }
            let r = names.firstIndex(of: key) ?? names.count
            rankCache[key] = r
            return r
        case .requiredFirst:
            if let r = rankCache[key] { return r }
            var r: Int
            if let i = required.firstIndex(of: key) {
                r = i
            } else if let i = names.firstIndex(of: key) {
                r = required.count + i
            } else {
                r = required.count + names.count
            }
            rankCache[key] = r
            return r
        }
    }
}

/// A JSON Schema compiled for constrained decoding. Specs are built on demand (compile time
/// is the root's keywords only); not thread-safe: use one `Grammar` per decoding thread.
public final class Grammar: @unchecked Sendable {
    public let schema: JSONSchema
    public let options: ConstraintOptions
    private var memo: [[Entry]: Spec] = [:]
    private var specs: [Spec] = []
    private var regexMemo: [ObjectIdentifier: [String: Bool]] = [:]
    var root: Spec!
    /// Keywords enforced by the validator on finished values (for reports), as "keyword at location".
    public private(set) var checkedKeywords: Set<String> = []
    /// Copy-from-page text: the words' canonical (escaped) serialisations joined by spaces.
    let pageText: [UInt8]
    let pageWordStarts: [Int32]
    /// pageWordEnd[p]: a word ends just before offset p.
    let pageWordEnd: [Bool]

    /// Masks by normalised parse state (see `ConstraintMatcher.signature`), for one vocabulary.
    var maskCache: [[Int32]: TokenMask] = [:]
    var maskCacheVocabulary: ObjectIdentifier?
    static let maskCacheLimit = 20_000
    private var interned: [String: Int32] = [:]
    func intern(_ s: String) -> Int32 {
        if let i = interned[s] { return i }
        let i = Int32(interned.count)
        interned[s] = i
        return i
    }

    /// Regular supersets of some formats, to prune prefixes (the validator decides the rest).
    static let formatShapes: [String: PatternNFA] = {
        // Month, day, hour, minute and second ranges are in the shapes (the validator still
        // checks days per month and leap seconds), so a model cannot write "2025-24-02".
        let date = #"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"#
        let time = #"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"#
        let sources = [
            "date": "^" + date + "$",
            "time": "^" + time + "$",
            "date-time": "^" + date + "[Tt]" + time + "$",
            "uuid": #"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"#,
            "ipv4": #"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"#,
        ]
        var out: [String: PatternNFA] = [:]
        for (k, v) in sources {
            if let re = try? ECMARegex(v), let nfa = PatternNFA(re.root) { out[k] = nfa }
        }
        return out
    }()

    /// The schema keyword marking a string as copied from the page.
    public static let copyFromPageKeyword = "x-copy-from-page"

    public init(schema: JSONSchema, options: ConstraintOptions = ConstraintOptions()) throws(ConstraintError) {
        self.schema = schema
        self.options = options
        var text: [UInt8] = []
        var starts: [Int32] = []
        var ends: [Int] = []
        for w in options.pageWords where !w.isEmpty {
            if !text.isEmpty { text.append(0x20) }
            starts.append(Int32(text.count))
            text += JSONSerializer.compact.data(from: .string(w)).dropFirst().dropLast()
            ends.append(text.count)
        }
        var endFlags = [Bool](repeating: false, count: text.count + 1)
        for e in ends { endFlags[e] = true }
        pageText = text
        pageWordStarts = starts
        pageWordEnd = endFlags
        if schema.dependsOnDynamicScope && !options.lenient {
            throw .unsupported(keyword: "$dynamicRef", location: schema.root.absoluteLocation,
                               reason: "evaluation depends on the dynamic scope")
        }
        try audit()
        root = try spec([Entry(node: schema.root, expand: true)])
        // Compile what the first bytes need now, so schema errors surface at compile time.
        _ = try root.branches()
    }

    /// Compiles `value` (format assertion on, as the validator labels were made) and builds the grammar.
    public convenience init(schema value: JSONValue, options: ConstraintOptions = ConstraintOptions()) throws(ConstraintError) {
        var so = SchemaOptions()
        so.formatAssertion = true
        let s: JSONSchema
        do { s = try JSONSchema(value, options: so) } catch { throw .schema("\(error)") }
        try self.init(schema: s, options: options)
    }

    func matches(_ re: ECMARegex, _ key: String) -> Bool {
        let id = ObjectIdentifier(re)
        if let r = regexMemo[id]?[key] { return r }
        let r = (try? re.firstMatch(in: key)) ?? false
        regexMemo[id, default: [:]][key] = r
        return r
    }

    /// Every keyword reachable from the root is classified up front, so a keyword the engine
    /// cannot enforce is a compile error naming it and its location, never a lazy surprise.
    private func audit() throws(ConstraintError) {
        var seen = Set<ObjectIdentifier>()
        var work = [schema.root]
        let scratch = Spec(id: -1, grammar: self, entries: [])
        while let n = work.popLast() {
            guard seen.insert(ObjectIdentifier(n)).inserted else { continue }
            for k in n.keywords {
                var strings: Set<String>?
                var closed: [[String]] = []
                var required = Set<String>()
                try compileOther(scratch, n, false, k, &strings, &closed, &required)
                work.append(contentsOf: k.kind.children)
            }
        }
    }

    func spec(_ list: [Entry]) throws(ConstraintError) -> Spec {
        let flat = flatten(list)
        if let s = memo[flat] { return s }
        let s = Spec(id: specs.count, grammar: self, entries: flat)
        memo[flat] = s
        specs.append(s)
        do {
            try compile(s)
        } catch {
            // A half-compiled spec must never be found again (it would accept too much).
            memo[flat] = nil
            throw error
        }
        return s
    }

    /// Adds what `$ref`/`allOf` apply in place, deduplicated, in a canonical order.
    private func flatten(_ list: [Entry]) -> [Entry] {
        var seen = Set<Entry>()
        var out: [Entry] = []
        var work = list.reversed() as [Entry]
        while let e = work.popLast() {
            guard seen.insert(e).inserted else { continue }
            out.append(e)
            for k in e.node.keywords {
                switch k.kind {
                case .ref(let t), .dynamicRef(let t, _), .recursiveRef(let t): work.append(Entry(node: t, expand: e.expand))
                case .allOf(let l): for t in l.reversed() { work.append(Entry(node: t, expand: e.expand)) }
                default: break
                }
            }
        }
        return out.sorted { (a, b) in
            let x = UInt(bitPattern: ObjectIdentifier(a.node).hashValue), y = UInt(bitPattern: ObjectIdentifier(b.node).hashValue)
            return x != y ? x < y : (!a.expand && b.expand)
        }
    }

    private func needsCheck(_ s: Spec, _ n: SchemaNode, _ keyword: String, _ why: String) throws(ConstraintError) {
        if !options.completionChecks && !options.lenient {
            throw .unsupported(keyword: keyword, location: n.absoluteLocation, reason: why)
        }
        if !s.checks.contains(where: { $0 === n }) { s.checks.append(n) }
        checkedKeywords.insert("\(keyword) at \(n.absoluteLocation)")
    }

    private func compile(_ s: Spec) throws(ConstraintError) {
        var strings: Set<String>?
        var closedSets: [[String]] = []
        var requiredSet = Set<String>()
        for e in s.entries {
            let n = e.node
            if n.boolean == false { s.types = []; continue }
            if n.unknownKeywords.contains(Self.copyFromPageKeyword) {
                guard !pageWordStarts.isEmpty else {
                    throw .unsupported(keyword: Self.copyFromPageKeyword, location: n.absoluteLocation,
                                       reason: "no page words were given (ConstraintOptions.pageWords)")
                }
                s.copyFromPage = true
                s.types.formIntersection(.string)
            }
            for k in n.keywords {
                switch k.kind {
                case .type(let t, _):
                    var m: Types = []
                    if t.contains(.null) { m.insert(.null) }
                    if t.contains(.boolean) { m.insert(.boolean) }
                    if t.contains(.object) { m.insert(.object) }
                    if t.contains(.array) { m.insert(.array) }
                    if t.contains(.string) { m.insert(.string) }
                    if t.contains(.number) || t.contains(.integer) { m.insert(.number) }
                    if t.contains(.integer) && !t.contains(.number) { s.integerOnly = true }
                    s.types.formIntersection(m)
                default:
                    try compileOther(s, n, e.expand, k, &strings, &closedSets, &requiredSet)
                }
            }
        }
        if let n = s.exactPatternNode, s.formatShaped || s.enumTrie != nil || s.copyFromPage || strings != nil {
            // Another lexer (format shape, enum trie, page copy) reads these strings instead.
            s.exactPatternNode = nil
            try needsCheck(s, n, "pattern", "patterns are checked when the string is finished")
        }
        s.required = Array(requiredSet).sorted()
        if let cap = options.maxStringLength { s.maxLength = min(s.maxLength, cap) }
        if let strings {
            if strings.count > options.maxEnumStrings {
                throw .limitExceeded("enum with \(strings.count) strings (limit \(options.maxEnumStrings)) at \(s.entries.first?.node.absoluteLocation ?? "?")")
            }
            let kept = strings.filter { str in
                let c = str.unicodeScalars.count
                return c >= s.minLength && c <= s.maxLength
            }.sorted()
            s.stringEnum = kept
            var trie = ByteTrie()
            for str in kept { trie.insert(JSONSerializer.compact.data(from: .string(str)).dropFirst()) }
            s.enumTrie = trie
            if kept.isEmpty { s.types.remove(.string) }
        }
        if s.minLength > s.maxLength { s.types.remove(.string) }
        if s.minItems > s.maxItems { s.types.remove(.array) }
        if s.minProperties > s.maxProperties || s.required.count > s.maxProperties { s.types.remove(.object) }
        if !closedSets.isEmpty {
            var allowed = Set(closedSets[0])
            for c in closedSets.dropFirst() { allowed.formIntersection(c) }
            // Keys whose value cannot exist are not allowed either.
            var list: [String] = []
            for name in s.names where allowed.contains(name) { if try s.child(name) != nil { list.append(name) } }
            for name in allowed.sorted() where !list.contains(name) { if try s.child(name) != nil { list.append(name) } }
            s.closedNameStrings = list
            s.closedNames = list.map { JSONSerializer.compact.data(from: .string($0)) }
            if !requiredSet.isSubset(of: Set(list)) { s.types.remove(.object) }
        }
    }

    private func compileOther(_ s: Spec, _ n: SchemaNode, _ expand: Bool, _ k: CompiledKeyword, _ strings: inout Set<String>?,
                              _ closedSets: inout [[String]], _ requiredSet: inout Set<String>) throws(ConstraintError) {
        func values(_ vs: [JSONValue]) throws(ConstraintError) {
            var t: Types = []
            var strs = Set<String>()
            var others = false
            for v in vs {
                t.insert(Types.of(v))
                if case .string(let x) = v { strs.insert(x) } else { others = true }
            }
            s.types.formIntersection(t)
            strings = strings.map { $0.intersection(strs) } ?? strs
            if others { try needsCheck(s, n, k.name, "enum/const values other than strings are compared when finished") }
        }
        switch k.kind {
        case .type: break
        case .enumeration(let vs, _): try values(vs)
        case .const(let v): try values([v])
        case .multipleOf, .maximum, .minimum:
            try needsCheck(s, n, k.name, "number bounds are checked when the number is finished")
        case .maxLength(let m): s.maxLength = min(s.maxLength, m)
        case .minLength(let m): s.minLength = max(s.minLength, m)
        case .pattern(let re):
            if !s.formatShaped, s.patternNFA == nil, let nfa = PatternNFA(re.root) {
                // The NFA is built from the validator's own regex tree over code points, so it
                // accepts exactly the strings the validator does: no finished-value check needed
                // (unless a format shape or an enum replaces it; see the end of `compile`).
                s.patternNFA = nfa
                s.exactPatternNode = n
            } else {
                try needsCheck(s, n, k.name, "patterns are checked when the string is finished")
                if !s.formatShaped { s.patternNFA = s.patternNFA ?? PatternNFA(re.root) }
            }
        case .maxItems(let m): s.maxItems = min(s.maxItems, m)
        case .minItems(let m): s.minItems = max(s.minItems, m)
        case .uniqueItems, .contains: try needsCheck(s, n, k.name, "checked when the array is finished")
        case .maxProperties(let m): s.maxProperties = min(s.maxProperties, m)
        case .minProperties(let m): s.minProperties = max(s.minProperties, m)
        case .required(let l): requiredSet.formUnion(l)
        case .dependentRequired, .dependentSchemas, .propertyNames:
            try needsCheck(s, n, k.name, "checked when the object is finished")
        case .properties(let t): for name in t.names where !s.names.contains(name) { s.names.append(name) }
        case .patternProperties: s.hasPatternProperties = true
        case .additionalProperties(let c, let known, let patterns):
            if c.boolean == false && patterns.isEmpty { closedSets.append(known.names) }
        case .prefixItems(let l): s.maxPrefix = max(s.maxPrefix, l.count)
        case .items(_, let from): s.maxPrefix = max(s.maxPrefix, from)
        case .allOf, .ref, .dynamicRef, .recursiveRef: break  // flattened
        case .anyOf(let l):
            if expand { s.groups.append(l) }
        case .oneOf(let l):
            if expand { s.groups.append(l) }
            try needsCheck(s, n, k.name, "exactly one branch is checked when the value is finished")
        case .not, .conditional:
            try needsCheck(s, n, k.name, "checked when the value is finished")
        case .format(let name, let kind, let assert):
            // Unknown formats are annotations to the validator, but a schema asking for format
            // assertion expects them enforced: refuse rather than ignore them silently.
            guard assert || (kind == nil && schema.options.formatAssertion) else { break }
            if kind == nil {
                if !options.lenient {
                    throw .unsupported(keyword: "format", location: n.absoluteLocation, reason: "unknown format \"\(name)\"")
                }
            } else {
                try needsCheck(s, n, k.name, "formats are checked when the string is finished")
                // The format's shape is usually the stricter prefix filter (a date vs `[0-9]{2}`).
                if let shape = Grammar.formatShapes[name] { s.patternNFA = shape; s.formatShaped = true }
            }
        case .content: try needsCheck(s, n, k.name, "checked when the string is finished")
        case .unevaluatedProperties, .unevaluatedItems:
            try needsCheck(s, n, k.name, "checked when the value is finished")
        }
    }
}
