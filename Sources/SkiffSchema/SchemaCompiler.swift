import SkiffJSON

/// Turns schema documents into `SchemaNode` graphs: indexes `$id`/`$anchor`/`$dynamicAnchor`
/// per document, resolves every reference (loading registered documents on demand), and
/// normalises dialect differences (draft-04 `id`, boolean `exclusiveMaximum`,
/// `dependencies`, array `items` + `additionalItems`) into one keyword model.
final class SchemaCompiler {
    struct Location: Hashable {
        let doc: String
        let pointer: String
        var key: String { doc + "#" + pointer }
    }

    struct Info {
        let base: String  // resource URI (no fragment)
        let resourcePointer: String  // pointer of the resource root inside the document
        let dialect: Dialect
        let vocabularies: Vocabularies
        let declared: Bool  // some `$schema` chose the dialect
    }

    let registry: SchemaRegistry
    let options: SchemaOptions
    var docs: [String: JSONValue] = [:]
    var resources: [String: Location] = [:]
    var anchors: [String: Location] = [:]
    var dynamicAnchorNames: [String: Set<String>] = [:]  // resource URI -> names
    var recursiveAnchorResources: Set<String> = []
    var info: [String: Info] = [:]
    var nodes: [String: SchemaNode] = [:]
    var pending: [(SchemaNode, JSONValue, Location, Info)] = []
    var resourceIDs: [String: Int] = [:]
    var resourceURIs: [String] = []
    var usesDynamicScope = false

    init(registry: SchemaRegistry, options: SchemaOptions) {
        self.registry = registry
        self.options = options
    }

    // MARK: Indexing

    func addDocument(_ value: JSONValue, uri: String) throws(SchemaError) {
        let key = URIReference(uri).withoutFragment
        guard docs[key] == nil else { return }
        docs[key] = value
        let (dialect, vocab, declared) = try dialectOf(value, inherited: options.defaultDialect, inheritedVocab: .all)
        resources[key] = Location(doc: key, pointer: "")
        try index(value, doc: key, pointer: "", base: key, resourcePointer: "", dialect: dialect, vocab: vocab, declared: declared)
    }

    /// The dialect a schema object declares with `$schema` (known URIs, or a registered
    /// custom metaschema whose `$vocabulary` narrows what applies).
    func dialectOf(_ value: JSONValue, inherited: Dialect, inheritedVocab: Vocabularies) throws(SchemaError) -> (Dialect, Vocabularies, Bool) {
        guard case .object(let o) = value, let s = o["$schema"]?.stringValue else { return (inherited, inheritedVocab, false) }
        if let d = Dialect(metaschemaURI: s) { return (d, .all, true) }
        guard let meta = registry.document(for: s) ?? docs[URIReference(s).withoutFragment] else {
            throw .unresolvedReference(s, location: "/$schema")
        }
        var (d, _, _) = try dialectOf(meta, inherited: inherited, inheritedVocab: .all)
        if meta["$schema"] == nil { d = inherited }
        var vocab = Vocabularies.all
        if let declared = meta["$vocabulary"]?.objectValue { vocab = Vocabularies(declared: declared) }
        return (d, vocab, true)
    }

    private static let singleKeywords = [
        "additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then", "else",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema", "items",
    ]
    private static let arrayKeywords = ["allOf", "anyOf", "oneOf", "prefixItems", "items"]
    private static let mapKeywords = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"]

    func idValue(_ o: JSONObject, dialect: Dialect, declared: Bool) -> String? {
        if dialect <= .draft7 && o["$ref"] != nil { return nil }
        if let id = o[dialect.idKeyword]?.stringValue { return id }
        // Undeclared schemas are often draft-04 in practice: honour a string `id` too.
        if !declared, dialect >= .draft2019_09, o["$id"] == nil, let id = o["id"]?.stringValue, !id.isEmpty { return id }
        return nil
    }

    func index(
        _ value: JSONValue, doc: String, pointer: String, base inheritedBase: String, resourcePointer inheritedRP: String,
        dialect inheritedDialect: Dialect, vocab inheritedVocab: Vocabularies, declared inheritedDeclared: Bool
    ) throws(SchemaError) {
        guard case .object(let o) = value else {
            info[doc + "#" + pointer] = Info(base: inheritedBase, resourcePointer: inheritedRP, dialect: inheritedDialect, vocabularies: inheritedVocab, declared: inheritedDeclared)
            return
        }
        var base = inheritedBase
        var rp = inheritedRP
        var dialect = inheritedDialect
        var vocab = inheritedVocab
        var declared = inheritedDeclared
        let here = Location(doc: doc, pointer: pointer)
        if o["$schema"] != nil && (pointer.isEmpty || (inheritedDialect >= .draft2019_09 && o["$id"] != nil)) {
            (dialect, vocab, declared) = try dialectOf(value, inherited: inheritedDialect, inheritedVocab: inheritedVocab)
        }
        if let id = idValue(o, dialect: dialect, declared: declared) {
            let ref = URIReference(id)
            if dialect <= .draft7, id.hasPrefix("#") {
                anchors[base + id] = here
            } else {
                let resolved = ref.resolved(against: URIReference(base))
                base = resolved.withoutFragment
                rp = pointer
                resources[base] = here
                if let f = ref.fragment, !f.isEmpty, !f.hasPrefix("/") { anchors[base + "#" + f] = here }
            }
        }
        if dialect >= .draft2019_09 {
            if let a = o["$anchor"]?.stringValue { anchors[base + "#" + a] = here }
            if let a = o["$dynamicAnchor"]?.stringValue, dialect >= .draft2020_12 {
                anchors[base + "#" + a] = here
                dynamicAnchorNames[base, default: []].insert(a)
            }
            if o["$recursiveAnchor"]?.boolValue == true { recursiveAnchorResources.insert(base) }
        }
        info[here.key] = Info(base: base, resourcePointer: rp, dialect: dialect, vocabularies: vocab, declared: declared)
        for k in Self.singleKeywords {
            if let v = o[k], v.objectValue != nil || v.boolValue != nil {
                try index(v, doc: doc, pointer: pointer + "/" + JSONPointer.escape(k), base: base, resourcePointer: rp, dialect: dialect, vocab: vocab, declared: declared)
            }
        }
        for k in Self.arrayKeywords {
            if let arr = o[k]?.arrayValue {
                for (i, v) in arr.enumerated() {
                    try index(v, doc: doc, pointer: pointer + "/\(k)/\(i)", base: base, resourcePointer: rp, dialect: dialect, vocab: vocab, declared: declared)
                }
            }
        }
        for k in Self.mapKeywords {
            if let m = o[k]?.objectValue {
                for (name, v) in m.members where v.objectValue != nil || v.boolValue != nil {
                    try index(v, doc: doc, pointer: pointer + "/\(k)/" + JSONPointer.escape(name), base: base, resourcePointer: rp, dialect: dialect, vocab: vocab, declared: declared)
                }
            }
        }
    }

    /// Info for a location that the index walk did not visit (inside an unknown keyword):
    /// that of its nearest indexed ancestor.
    func infoFor(_ loc: Location) -> Info? {
        if let i = info[loc.key] { return i }
        var p = loc.pointer
        while let slash = p.lastIndex(of: "/") {
            p = String(p[..<slash])
            if let i = info[loc.doc + "#" + p] { return i }
        }
        return nil
    }

    // MARK: Resolution

    func locate(_ absolute: String, from location: String) throws(SchemaError) -> Location {
        let u = URIReference(absolute)
        let docPart = u.withoutFragment
        if resources[docPart] == nil {
            if let d = registry.document(for: docPart) {
                try addDocument(d, uri: docPart)
            } else if docPart.hasPrefix("file://"), let bytes = LocalFiles.read(percentDecode(String(docPart.dropFirst(7)))) {
                do { try addDocument(try JSONParser().parse(bytes), uri: docPart) } catch let e as JSONError {
                    throw .unreadableDocument(docPart, reason: e.description)
                } catch let e as SchemaError { throw e } catch { throw .unreadableDocument(docPart, reason: "\(error)") }
            }
        }
        guard let root = resources[docPart] else { throw .unresolvedReference(absolute, location: location) }
        let frag = percentDecode(u.fragment ?? "")
        if frag.isEmpty { return root }
        if frag.hasPrefix("/") { return Location(doc: root.doc, pointer: root.pointer + frag) }
        guard let a = anchors[docPart + "#" + frag] else { throw .unresolvedReference(absolute, location: location) }
        return a
    }

    func node(at loc: Location, from: String) throws(SchemaError) -> SchemaNode {
        if let n = nodes[loc.key] { return n }
        guard let doc = docs[loc.doc], let value = JSONPointer.resolve(loc.pointer, in: doc) else {
            throw .unresolvedReference(loc.key, location: from)
        }
        let inf: Info
        if let i = infoFor(loc) {
            inf = i
        } else {
            inf = Info(base: loc.doc, resourcePointer: "", dialect: options.defaultDialect, vocabularies: .all, declared: false)
        }
        // A subschema that is itself a resource root was indexed with its own base.
        let relPointer = loc.pointer.hasPrefix(inf.resourcePointer) ? String(loc.pointer.dropFirst(inf.resourcePointer.count)) : loc.pointer
        let id = resourceIDs[inf.base] ?? {
            resourceIDs[inf.base] = resourceURIs.count
            resourceURIs.append(inf.base)
            return resourceURIs.count - 1
        }()
        let node = SchemaNode(absoluteLocation: inf.base + "#" + relPointer, resourceURI: inf.base, resourceID: id, dialect: inf.dialect)
        nodes[loc.key] = node
        pending.append((node, value, loc, inf))
        return node
    }

    /// Compiles every node created so far, and the ones they reference, breadth first
    /// (no deep recursion however deep the schema nests).
    func drain() throws(SchemaError) {
        while let (node, value, loc, inf) = pending.popLast() {
            try compile(node, value, loc, inf)
        }
    }

    func child(_ value: JSONValue, _ loc: Location, _ suffix: String) throws(SchemaError) -> SchemaNode {
        try node(at: Location(doc: loc.doc, pointer: loc.pointer + suffix), from: loc.pointer)
    }

    // MARK: Keyword compilation

    func compile(_ node: SchemaNode, _ value: JSONValue, _ loc: Location, _ inf: Info) throws(SchemaError) {
        if case .bool(let b) = value {
            node.boolean = b
            return
        }
        guard case .object(let o) = value else {
            throw .invalidSchema("a schema must be an object or a boolean, not \(value.typeName)", location: loc.pointer)
        }
        let d = inf.dialect
        let v = inf.vocabularies
        // Undeclared schemas read in a newer dialect also accept draft-04 style keywords.
        let compat = !inf.declared && d >= .draft2019_09
        var kws: [CompiledKeyword] = []
        var tail: [CompiledKeyword] = []
        func add(_ name: String, _ k: Keyword) { kws.append(CompiledKeyword(name: name, kind: k)) }
        func err(_ m: String, _ k: String) -> SchemaError { .invalidSchema(m, location: loc.pointer + "/" + JSONPointer.escape(k)) }
        func sub(_ k: String) throws(SchemaError) -> SchemaNode? {
            guard let s = o[k] else { return nil }
            guard s.objectValue != nil || s.boolValue != nil else { throw err("\(k) must be a schema", k) }
            return try child(s, loc, "/" + JSONPointer.escape(k))
        }
        func subArray(_ k: String) throws(SchemaError) -> [SchemaNode]? {
            guard let s = o[k] else { return nil }
            guard let arr = s.arrayValue else { throw err("\(k) must be an array of schemas", k) }
            var out: [SchemaNode] = []
            for (i, item) in arr.enumerated() { out.append(try child(item, loc, "/\(k)/\(i)")) }
            return out
        }
        func nonNegative(_ k: String) throws(SchemaError) -> Int? {
            guard let s = o[k] else { return nil }
            guard let n = s.numberValue, n.isInteger, !(n.decimal.isNegative) else { throw err("\(k) must be a non-negative integer", k) }
            return n.int64Value.map { Int(clamping: $0) } ?? Int.max
        }
        func number(_ k: String) throws(SchemaError) -> JSONNumber? {
            guard let s = o[k] else { return nil }
            guard let n = s.numberValue else { throw err("\(k) must be a number", k) }
            return n
        }
        func regex(_ p: String, _ k: String) throws(SchemaError) -> ECMARegex {
            do { return try ECMARegex(p) } catch { throw err("\(error.description) in \"\(p)\"", k) }
        }

        if let a = o["$dynamicAnchor"]?.stringValue, d >= .draft2020_12 { node.dynamicAnchor = a }
        if o["$recursiveAnchor"]?.boolValue == true, d == .draft2019_09 { node.recursiveAnchor = true }

        if let r = o["$ref"] {
            guard let rs = r.stringValue else { throw err("$ref must be a string", "$ref") }
            let abs = URIReference.resolve(rs, against: inf.base)
            let target = try self.node(at: try locate(abs, from: loc.pointer + "/$ref"), from: loc.pointer)
            add("$ref", .ref(target))
            if d.refOverridesSiblings {
                node.keywords = kws
                return
            }
        }
        if d >= .draft2020_12, let r = o["$dynamicRef"] {
            guard let rs = r.stringValue else { throw err("$dynamicRef must be a string", "$dynamicRef") }
            let abs = URIReference.resolve(rs, against: inf.base)
            let target = try self.node(at: try locate(abs, from: loc.pointer + "/$dynamicRef"), from: loc.pointer)
            let frag = URIReference(abs).fragment ?? ""
            usesDynamicScope = true
            add("$dynamicRef", .dynamicRef(target, anchor: frag.isEmpty || frag.hasPrefix("/") ? nil : frag))
        }
        if d == .draft2019_09, let r = o["$recursiveRef"]?.stringValue {
            let abs = URIReference.resolve(r, against: inf.base)
            usesDynamicScope = true
            add("$recursiveRef", .recursiveRef(try self.node(at: try locate(abs, from: loc.pointer), from: loc.pointer)))
        }

        if v.validation {
            if let t = o["type"] {
                var set = Keyword.TypeSet()
                var names: [String] = []
                let list: [JSONValue] = t.arrayValue ?? [t]
                for item in list {
                    guard let name = item.stringValue else { throw err("type must be a string or an array of strings", "type") }
                    switch name {
                    case "null": set.insert(.null)
                    case "boolean": set.insert(.boolean)
                    case "object": set.insert(.object)
                    case "array": set.insert(.array)
                    case "number": set.insert(.number)
                    case "string": set.insert(.string)
                    case "integer": set.insert(.integer)
                    default: throw err("unknown type \"\(name)\"", "type")
                    }
                    names.append(name)
                }
                add("type", .type(set, names: names))
            }
            if let e = o["enum"] {
                guard let arr = e.arrayValue else { throw err("enum must be an array", "enum") }
                guard arr.count <= options.maxEnumSize else {
                    throw .limitExceeded("enum at \(loc.pointer) has \(arr.count) values, more than \(options.maxEnumSize)")
                }
                add("enum", .enumeration(arr, lookup: arr.count > 8 ? Set(arr) : nil))
            }
            if d >= .draft6, let c = o["const"] { add("const", .const(c)) }
            if let m = try number("multipleOf") {
                guard !m.decimal.isNegative, !m.decimal.isZero else { throw err("multipleOf must be greater than 0", "multipleOf") }
                add("multipleOf", .multipleOf(m))
            }
            let boolExclusive = d == .draft4 || compat
            if let m = try number("maximum") {
                add("maximum", .maximum(m, exclusive: boolExclusive && o["exclusiveMaximum"]?.boolValue == true))
            }
            if let m = try number("minimum") {
                add("minimum", .minimum(m, exclusive: boolExclusive && o["exclusiveMinimum"]?.boolValue == true))
            }
            if d >= .draft6, let m = o["exclusiveMaximum"]?.numberValue { add("exclusiveMaximum", .maximum(m, exclusive: true)) }
            if d >= .draft6, let m = o["exclusiveMinimum"]?.numberValue { add("exclusiveMinimum", .minimum(m, exclusive: true)) }
            if let n = try nonNegative("maxLength") { add("maxLength", .maxLength(n)) }
            if let n = try nonNegative("minLength") { add("minLength", .minLength(n)) }
            if let p = o["pattern"] {
                guard let ps = p.stringValue else { throw err("pattern must be a string", "pattern") }
                add("pattern", .pattern(try regex(ps, "pattern")))
            }
            if let n = try nonNegative("maxItems") { add("maxItems", .maxItems(n)) }
            if let n = try nonNegative("minItems") { add("minItems", .minItems(n)) }
            if o["uniqueItems"]?.boolValue == true { add("uniqueItems", .uniqueItems) }
            if let n = try nonNegative("maxProperties") { add("maxProperties", .maxProperties(n)) }
            if let n = try nonNegative("minProperties") { add("minProperties", .minProperties(n)) }
            if let r = o["required"] {
                // Draft 3 style `required: true` inside properties is ignored, as validators do.
                if let arr = r.arrayValue {
                    var names: [String] = []
                    for x in arr {
                        guard let s = x.stringValue else { throw err("required must be an array of strings", "required") }
                        names.append(s)
                    }
                    if !names.isEmpty { add("required", .required(names)) }
                } else if r.boolValue == nil {
                    throw err("required must be an array of strings", "required")
                }
            }
            if d >= .draft2019_09, let dr = o["dependentRequired"]?.objectValue {
                var pairs: [(String, [String])] = []
                for (k, val) in dr.members { pairs.append((k, val.arrayValue?.compactMap(\.stringValue) ?? [])) }
                add("dependentRequired", .dependentRequired(pairs))
            }
        }

        if v.applicator {
            var propertyTable = PropertyTable<SchemaNode>([])
            if let m = o["properties"] {
                guard let mo = m.objectValue else { throw err("properties must be an object", "properties") }
                var list: [(String, SchemaNode)] = []
                for (k, s) in mo.members { list.append((k, try child(s, loc, "/properties/" + JSONPointer.escape(k)))) }
                propertyTable = PropertyTable(list)
                add("properties", .properties(propertyTable))
            }
            var patterns: [ECMARegex] = []
            if let m = o["patternProperties"] {
                guard let mo = m.objectValue else { throw err("patternProperties must be an object", "patternProperties") }
                var list: [(ECMARegex, SchemaNode)] = []
                for (k, s) in mo.members {
                    let r = try regex(k, "patternProperties")
                    patterns.append(r)
                    list.append((r, try child(s, loc, "/patternProperties/" + JSONPointer.escape(k))))
                }
                add("patternProperties", .patternProperties(list))
            }
            if let ap = try sub("additionalProperties") {
                add("additionalProperties", .additionalProperties(ap, known: propertyTable, patterns: patterns))
            }
            if d >= .draft6, let pn = try sub("propertyNames") { add("propertyNames", .propertyNames(pn)) }

            // Arrays: 2020-12 prefixItems/items; earlier (and undeclared) array-form items + additionalItems.
            var prefixCount: Int? = nil
            if d >= .draft2020_12, let p = try subArray("prefixItems") {
                add("prefixItems", .prefixItems(p))
                prefixCount = p.count
            }
            if let it = o["items"] {
                if it.arrayValue != nil {
                    if d < .draft2020_12 || compat || prefixCount == nil {
                        let p = try subArray("items") ?? []
                        add("items", .prefixItems(p))
                        if let ai = try sub("additionalItems") { add("additionalItems", .items(ai, from: p.count)) }
                    }
                } else if let s = try sub("items") {
                    add("items", .items(s, from: d >= .draft2020_12 ? (prefixCount ?? 0) : 0))
                }
            }
            if d >= .draft6, let c = try sub("contains") {
                var minC = 1
                var maxC: Int? = nil
                if d >= .draft2019_09 {
                    if let n = try nonNegative("minContains") { minC = n }
                    maxC = try nonNegative("maxContains")
                }
                add("contains", .contains(c, min: minC, max: maxC))
            }
            if let s = try subArray("allOf") { add("allOf", .allOf(s)) }
            if let s = try subArray("anyOf") { add("anyOf", .anyOf(s)) }
            if let s = try subArray("oneOf") { add("oneOf", .oneOf(s)) }
            if let s = try sub("not") { add("not", .not(s)) }
            if d >= .draft7, let i = try sub("if") {
                add("if", .conditional(if: i, then: try sub("then"), else: try sub("else")))
            }
            if d >= .draft2019_09, let ds = o["dependentSchemas"]?.objectValue {
                var list: [(String, SchemaNode)] = []
                for (k, s) in ds.members { list.append((k, try child(s, loc, "/dependentSchemas/" + JSONPointer.escape(k)))) }
                add("dependentSchemas", .dependentSchemas(list))
            }
            // `dependencies` (drafts 4-7; read in later drafts too, as most validators do).
            if let deps = o["dependencies"]?.objectValue {
                var req: [(String, [String])] = []
                var schemas: [(String, SchemaNode)] = []
                for (k, s) in deps.members {
                    if let arr = s.arrayValue {
                        req.append((k, arr.compactMap(\.stringValue)))
                    } else {
                        schemas.append((k, try child(s, loc, "/dependencies/" + JSONPointer.escape(k))))
                    }
                }
                if !req.isEmpty { add("dependencies", .dependentRequired(req)) }
                if !schemas.isEmpty { add("dependencies", .dependentSchemas(schemas)) }
            }
        }

        if d >= .draft2019_09 && v.unevaluated {
            if let u = try sub("unevaluatedItems") { tail.append(CompiledKeyword(name: "unevaluatedItems", kind: .unevaluatedItems(u))) }
            if let u = try sub("unevaluatedProperties") {
                tail.append(CompiledKeyword(name: "unevaluatedProperties", kind: .unevaluatedProperties(u)))
            }
        }

        // Draft 7 made content keywords assertions; 2019-09 turned them into annotations.
        if d == .draft7, o["contentEncoding"] != nil || o["contentMediaType"] != nil {
            add("contentMediaType", .content(encoding: o["contentEncoding"]?.stringValue, mediaType: o["contentMediaType"]?.stringValue))
        }
        if let f = o["format"]?.stringValue {
            let assert = options.formatAssertion || v.formatAssertion
            let kind = Formats.Kind(rawValue: f)
            if assert || options.collectFormatAnnotations { add("format", .format(f, kind: kind, assert: assert && kind != nil)) }
        }
        node.hasUnevaluated = !tail.isEmpty
        node.keywords = kws + tail
        node.unknownKeywords = o.keys.filter { !Self.knownKeywords.contains($0) }
    }

    static let knownKeywords: Set<String> = [
        "$schema", "$id", "id", "$ref", "$defs", "definitions", "$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef",
        "$recursiveAnchor", "$vocabulary", "$comment", "type", "enum", "const", "multipleOf", "maximum", "minimum",
        "exclusiveMaximum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
        "maxContains", "minContains", "maxProperties", "minProperties", "required", "dependentRequired", "properties",
        "patternProperties", "additionalProperties", "propertyNames", "prefixItems", "items", "additionalItems", "contains",
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies", "unevaluatedItems",
        "unevaluatedProperties", "format", "title", "description", "default", "examples", "deprecated", "readOnly",
        "writeOnly", "contentEncoding", "contentMediaType", "contentSchema",
    ]
}
