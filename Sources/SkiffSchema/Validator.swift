import SkiffJSON

/// Which properties and items the successful keywords of a schema looked at, for
/// `unevaluatedProperties` / `unevaluatedItems`.
struct Evaluated {
    var allProperties = false
    // Optional so that the common case (nothing collected) costs no set traffic at all.
    var propertySet: Set<String>? = nil
    var allItems = false
    var itemPrefix = 0
    var itemSet: Set<Int>? = nil

    mutating func addProperty(_ k: String) {
        if propertySet == nil { propertySet = [k] } else { propertySet?.insert(k) }
    }
    mutating func addItem(_ i: Int) {
        if itemSet == nil { itemSet = [i] } else { itemSet?.insert(i) }
    }
    func hasProperty(_ k: String) -> Bool { propertySet?.contains(k) ?? false }
    func hasItem(_ i: Int) -> Bool { itemSet?.contains(i) ?? false }

    mutating func merge(_ o: Evaluated) {
        if o.allProperties {
            allProperties = true
        } else if !allProperties, let p = o.propertySet {
            if propertySet == nil { propertySet = p } else { propertySet?.formUnion(p) }
        }
        if o.allItems {
            allItems = true
        } else if !allItems {
            itemPrefix = max(itemPrefix, o.itemPrefix)
            if let i = o.itemSet {
                if itemSet == nil { itemSet = i } else { itemSet?.formUnion(i) }
            }
        }
    }
}

/// One evaluation of a compiled schema against an instance.
struct Validator {
    enum PathItem {
        case key(String)
        case index(Int)
    }

    let schema: JSONSchema
    let detailed: Bool
    var errors: [ValidationError] = []
    var instancePath: [PathItem] = []
    var keywordPath: [String] = []
    var scope: [Int] = []
    var depth = 0
    var stack: StackGuard? = nil
    var regexScratch = RegexScratch()

    init(schema: JSONSchema, detailed: Bool) {
        self.schema = schema
        self.detailed = detailed
    }

    mutating func run(_ instance: JSONValue) throws(SchemaError) -> Bool {
        var ev = Evaluated()
        return try validate(schema.root, instance, &ev, collect: false)
    }

    // MARK: Reporting

    func pointer(_ items: [PathItem]) -> String {
        var s = ""
        for i in items {
            switch i {
            case .key(let k): s += "/" + JSONPointer.escape(k)
            case .index(let n): s += "/\(n)"
            }
        }
        return s
    }

    mutating func fail(_ node: SchemaNode, _ keyword: String, _ message: @autoclosure () -> String) {
        guard detailed else { return }
        // The evaluation path already ends with the failing keyword (see `validate`).
        let kp = keywordPath.map { "/" + JSONPointer.escape($0) }.joined()
        let abs = node.absoluteLocation + (keyword.isEmpty ? "" : "/" + keyword)
        errors.append(ValidationError(instanceLocation: pointer(instancePath), keywordLocation: kp, absoluteKeywordLocation: abs, message: message()))
    }

    /// Reports a failure about one member of the current instance.
    mutating func failAt(_ item: PathItem, _ node: SchemaNode, _ keyword: String, _ message: @autoclosure () -> String) {
        guard detailed else { return }
        instancePath.append(item)
        fail(node, keyword, message())
        instancePath.removeLast()
    }

    // MARK: Evaluation

    mutating func validate(_ node: SchemaNode, _ value: borrowing JSONValue, _ ev: inout Evaluated, collect: Bool) throws(SchemaError) -> Bool {
        if let b = node.boolean {
            // `true` produces no annotations: it does not evaluate any property or item.
            if !b { fail(node, "", "no value is allowed here (false schema)") }
            return b
        }
        if let t = node.onlyType, !detailed || Self.isType(value, t) { return Self.isType(value, t) }
        depth += 1
        defer { depth -= 1 }
        if depth > schema.options.maxDepth {
            throw .limitExceeded("schema evaluation nested deeper than \(schema.options.maxDepth) levels at \(node.absoluteLocation)")
        }
        if depth > 32 && depth % 4 == 0 {
            if stack == nil { stack = StackGuard() }
            if stack?.isExhausted() == true {
                throw .limitExceeded("schema evaluation \(depth) levels deep exhausts this thread's stack at \(node.absoluteLocation)")
            }
        }
        let pushed = schema.usesDynamicScope && scope.last != node.resourceID
        if pushed { scope.append(node.resourceID) }
        defer { if pushed { scope.removeLast() } }

        let want = collect || node.hasUnevaluated
        var local = Evaluated()
        var valid = true
        let kinds = node.kinds
        for index in kinds.indices {
            if detailed { keywordPath.append(node.keywordNames[index]) }
            let ok = try apply(kinds[index], index, node, value, &local, want)
            if detailed { keywordPath.removeLast() }
            if !ok {
                valid = false
                if !detailed { return false }
            }
        }
        if valid && collect { ev.merge(local) }
        return valid
    }

    /// Validates a child of the current instance (a property or an item). The path pieces are
    /// only built when errors are being collected.
    mutating func descend(
        _ node: SchemaNode, _ value: borrowing JSONValue, _ item: @autoclosure () -> PathItem,
        extra: @autoclosure () -> String? = nil
    ) throws(SchemaError) -> Bool {
        var scratch = Evaluated()
        guard detailed else { return try validate(node, value, &scratch, collect: false) }
        instancePath.append(item())
        let e = extra()
        if let e { keywordPath.append(e) }
        let ok = try validate(node, value, &scratch, collect: false)
        instancePath.removeLast()
        if e != nil { keywordPath.removeLast() }
        return ok
    }

    /// Validates the current instance against a subschema, keeping its annotations when asked.
    mutating func inPlace(
        _ node: SchemaNode, _ value: JSONValue, _ ev: inout Evaluated, _ want: Bool, path: @autoclosure () -> String? = nil
    ) throws(SchemaError) -> Bool {
        guard detailed, let p = path() else { return try validate(node, value, &ev, collect: want) }
        keywordPath.append(p)
        let ok = try validate(node, value, &ev, collect: want)
        keywordPath.removeLast()
        return ok
    }

    static func isType(_ value: JSONValue, _ set: Keyword.TypeSet) -> Bool {
        switch value {
        case .null: set.contains(.null)
        case .bool: set.contains(.boolean)
        case .object: set.contains(.object)
        case .array: set.contains(.array)
        case .string: set.contains(.string)
        case .number(let n): set.contains(.number) || (set.contains(.integer) && n.isInteger)
        }
    }

    mutating func matches(_ r: ECMARegex, _ s: String) throws(SchemaError) -> Bool {
        do { return try r.firstMatch(in: s, stepLimit: schema.options.regexStepLimit, scratch: &regexScratch) } catch {
            throw .limitExceeded("pattern \"\(r.source)\": \(error.description)")
        }
    }

    mutating func apply(_ kind: borrowing Keyword, _ index: Int, _ node: SchemaNode, _ value: JSONValue, _ ev: inout Evaluated, _ want: Bool) throws(SchemaError) -> Bool {
        switch kind {
        case .type(let set, let names):
            if Self.isType(value, set) { return true }
            fail(node, node.keywordNames[index], "\(value.typeName) is not of type \(names.map { "\"\($0)\"" }.joined(separator: " or "))")
            return false
        case .enumeration(let values, let lookup):
            if let lookup { if lookup.contains(value) { return true } } else if values.contains(value) { return true }
            fail(node, node.keywordNames[index], "\(Self.short(value)) is not one of the \(values.count) allowed values")
            return false
        case .const(let c):
            if value == c { return true }
            fail(node, node.keywordNames[index], "\(Self.short(value)) is not the constant \(Self.short(c))")
            return false
        case .multipleOf(let m):
            guard case .number(let n) = value else { return true }
            if n.decimal.isMultiple(of: m.decimal) { return true }
            fail(node, node.keywordNames[index], "\(n) is not a multiple of \(m)")
            return false
        case .maximum(let m, let exclusive):
            guard case .number(let n) = value else { return true }
            if exclusive ? n < m : !(m < n) { return true }
            fail(node, node.keywordNames[index], "\(n) is \(exclusive ? "not less than" : "greater than") \(m)")
            return false
        case .minimum(let m, let exclusive):
            guard case .number(let n) = value else { return true }
            if exclusive ? m < n : !(n < m) { return true }
            fail(node, node.keywordNames[index], "\(n) is \(exclusive ? "not greater than" : "less than") \(m)")
            return false
        case .maxLength(let m):
            guard case .string(let s) = value else { return true }
            if s.utf8.count <= m { return true }
            let c = s.unicodeScalars.count
            if c <= m { return true }
            fail(node, node.keywordNames[index], "string of \(c) characters is longer than \(m)")
            return false
        case .minLength(let m):
            guard case .string(let s) = value else { return true }
            if s.utf8.count >= 4 * m { return true }  // a code point is at most 4 bytes
            let c = s.unicodeScalars.count
            if c >= m { return true }
            fail(node, node.keywordNames[index], "string of \(c) characters is shorter than \(m)")
            return false
        case .pattern(let r):
            guard case .string(let s) = value else { return true }
            if try matches(r, s) { return true }
            fail(node, node.keywordNames[index], "\(Self.short(value)) does not match the pattern \"\(r.source)\"")
            return false
        case .format(let f, let kind, let assert):
            guard assert, let kind, case .string(let s) = value else { return true }
            if Formats.check(kind, s) { return true }
            fail(node, node.keywordNames[index], "\(Self.short(value)) is not a valid \"\(f)\"")
            return false
        case .content(let encoding, let mediaType):
            guard case .string(let s) = value else { return true }
            var bytes = Array(s.utf8)
            if let encoding, encoding.lowercased() == "base64" {
                guard let decoded = Base64.decode(s) else {
                    fail(node, node.keywordNames[index], "\(Self.short(value)) is not valid base64")
                    return false
                }
                bytes = decoded
            }
            if let mediaType, mediaType.lowercased().hasPrefix("application/json") {
                do { _ = try JSONParser().parse(bytes) } catch {
                    fail(node, node.keywordNames[index], "content is not valid JSON: \(error)")
                    return false
                }
            }
            return true
        case .maxItems(let m):
            guard case .array(let a) = value else { return true }
            if a.count <= m { return true }
            fail(node, node.keywordNames[index], "array of \(a.count) items has more than \(m)")
            return false
        case .minItems(let m):
            guard case .array(let a) = value else { return true }
            if a.count >= m { return true }
            fail(node, node.keywordNames[index], "array of \(a.count) items has fewer than \(m)")
            return false
        case .uniqueItems:
            guard case .array(let a) = value else { return true }
            if let (i, j) = Self.firstDuplicate(a) {
                fail(node, node.keywordNames[index], "items \(i) and \(j) are equal")
                return false
            }
            return true
        case .maxProperties(let m):
            guard case .object(let o) = value else { return true }
            if o.count <= m { return true }
            fail(node, node.keywordNames[index], "object with \(o.count) properties has more than \(m)")
            return false
        case .minProperties(let m):
            guard case .object(let o) = value else { return true }
            if o.count >= m { return true }
            fail(node, node.keywordNames[index], "object with \(o.count) properties has fewer than \(m)")
            return false
        case .required(let names):
            guard case .object(let o) = value else { return true }
            var ok = true
            for n in names where o[n] == nil {
                fail(node, node.keywordNames[index], "required property \"\(n)\" is missing")
                ok = false
                if !detailed { return false }
            }
            return ok
        case .dependentRequired(let pairs):
            guard case .object(let o) = value else { return true }
            var ok = true
            for (k, names) in pairs where o[k] != nil {
                for n in names where o[n] == nil {
                    fail(node, node.keywordNames[index], "property \"\(n)\" is required when \"\(k)\" is present")
                    ok = false
                    if !detailed { return false }
                }
            }
            return ok
        case .properties(let map):
            guard case .object(let o) = value else { return true }
            var ok = true
            let keys = o.keys, values = o.values
            for i in keys.indices {
                let k = keys[i]
                guard let p = map.position(of: k) else { continue }
                if want { ev.addProperty(k) }
                if !(try descend(map.values[p], values[i], .key(k), extra: k)) {
                    ok = false
                    if !detailed { return false }
                }
            }
            return ok
        case .patternProperties(let list):
            guard case .object(let o) = value else { return true }
            var ok = true
            for (k, v) in o.members {
                for (r, s) in list where try matches(r, k) {
                    if want { ev.addProperty(k) }
                    if !(try descend(s, v, .key(k), extra: r.source)) {
                        ok = false
                        if !detailed { return false }
                    }
                }
            }
            return ok
        case .additionalProperties(let s, let known, let patterns):
            guard case .object(let o) = value else { return true }
            var ok = true
            let keys = o.keys, values = o.values
            members: for i in keys.indices {
                let k = keys[i]
                if known.contains(k) { continue }
                for r in patterns where try matches(r, k) { continue members }
                if want { ev.addProperty(k) }
                if s.boolean == false {
                    failAt(.key(k), node, node.keywordNames[index], "additional property \"\(k)\" is not allowed")
                    ok = false
                    if !detailed { return false }
                } else if !(try descend(s, values[i], .key(k))) {
                    ok = false
                    if !detailed { return false }
                }
            }
            return ok
        case .propertyNames(let s):
            guard case .object(let o) = value else { return true }
            var ok = true
            for k in o.keys where !(try descend(s, .string(k), .key(k))) {
                ok = false
                if !detailed { return false }
            }
            return ok
        case .prefixItems(let list):
            guard case .array(let a) = value else { return true }
            var ok = true
            let n = min(a.count, list.count)
            for i in 0..<n where !(try descend(list[i], a[i], .index(i), extra: String(i))) {
                ok = false
                if !detailed { return false }
            }
            if want { ev.itemPrefix = max(ev.itemPrefix, n) }
            return ok
        case .items(let s, let from):
            guard case .array(let a) = value else { return true }
            var ok = true
            if from < a.count {
                for i in from..<a.count where !(try descend(s, a[i], .index(i))) {
                    ok = false
                    if !detailed { return false }
                }
            }
            if want { ev.allItems = true }
            return ok
        case .contains(let s, let minC, let maxC):
            guard case .array(let a) = value else { return true }
            var count = 0
            let mark = errors.count
            for (i, item) in a.enumerated() {
                if try descend(s, item, .index(i)) {
                    count += 1
                    if want { ev.addItem(i) }
                    if !want, !detailed, maxC == nil, count >= minC { break }
                }
            }
            if detailed { errors.removeSubrange(mark...) }
            if count < minC {
                fail(node, node.keywordNames[index], minC == 1 ? "no item matches the \"contains\" schema" : "only \(count) items match the \"contains\" schema, at least \(minC) required")
                return false
            }
            if let maxC, count > maxC {
                fail(node, node.keywordNames[index], "\(count) items match the \"contains\" schema, at most \(maxC) allowed")
                return false
            }
            return true
        case .allOf(let list):
            var ok = true
            for (i, s) in list.enumerated() where !(try inPlace(s, value, &ev, want, path: String(i))) {
                ok = false
                if !detailed { return false }
            }
            return ok
        case .anyOf(let list):
            let mark = errors.count
            var any = false
            for (i, s) in list.enumerated() {
                if try inPlace(s, value, &ev, want, path: String(i)) {
                    any = true
                    if !want { break }
                }
            }
            if any {
                if detailed { errors.removeSubrange(mark...) }
                return true
            }
            fail(node, node.keywordNames[index], "\(Self.short(value)) matches none of the \(list.count) alternatives")
            return false
        case .oneOf(let list):
            let mark = errors.count
            var passing: [Int] = []
            var collected = Evaluated()
            for (i, s) in list.enumerated() {
                var branch = Evaluated()
                if try inPlace(s, value, &branch, want, path: String(i)) {
                    passing.append(i)
                    collected.merge(branch)
                    if passing.count > 1 && !detailed { break }
                }
            }
            if passing.count == 1 {
                if detailed { errors.removeSubrange(mark...) }
                if want { ev.merge(collected) }
                return true
            }
            if passing.isEmpty {
                fail(node, node.keywordNames[index], "\(Self.short(value)) matches none of the \(list.count) alternatives")
            } else {
                if detailed { errors.removeSubrange(mark...) }
                fail(node, node.keywordNames[index], "\(Self.short(value)) matches more than one alternative (\(passing.map(String.init).joined(separator: ", ")))")
            }
            return false
        case .not(let s):
            let mark = errors.count
            var scratch = Evaluated()
            let ok = try inPlace(s, value, &scratch, false)
            if detailed { errors.removeSubrange(mark...) }
            if ok {
                fail(node, node.keywordNames[index], "\(Self.short(value)) must not match the \"not\" schema")
                return false
            }
            return true
        case .conditional(let i, let t, let e):
            let mark = errors.count
            var condition = Evaluated()
            let cond = try inPlace(i, value, &condition, want)
            if detailed { errors.removeSubrange(mark...) }
            if cond { if want { ev.merge(condition) } }
            guard let next = cond ? t : e else { return true }
            // `then`/`else` are siblings of `if` in the evaluation path.
            if detailed { keywordPath[keywordPath.count - 1] = cond ? "then" : "else" }
            return try inPlace(next, value, &ev, want)
        case .dependentSchemas(let list):
            guard case .object(let o) = value else { return true }
            var ok = true
            for (k, s) in list where o[k] != nil {
                if !(try inPlace(s, value, &ev, want, path: k)) {
                    ok = false
                    if !detailed { return false }
                }
            }
            return ok
        case .ref(let target):
            return try inPlace(target, value, &ev, want)
        case .dynamicRef(let target, let anchor):
            var t = target
            if let anchor, target.dynamicAnchor == anchor {
                for id in scope where schema.dynamicAnchorNames[schema.resourceURIs[id]]?.contains(anchor) == true {
                    let uri = schema.resourceURIs[id]
                    if let found = schema.dynamicTargets[uri + "#" + anchor] {
                        t = found
                        break
                    }
                }
            }
            return try inPlace(t, value, &ev, want)
        case .recursiveRef(let target):
            var t = target
            if target.recursiveAnchor {
                for id in scope {
                    if let found = schema.recursiveTargets[schema.resourceURIs[id]] {
                        t = found
                        break
                    }
                }
            }
            return try inPlace(t, value, &ev, want)
        case .unevaluatedProperties(let s):
            guard case .object(let o) = value else { return true }
            if ev.allProperties { return true }
            var ok = true
            for (k, v) in o.members where !ev.hasProperty(k) {
                if s.boolean == false {
                    failAt(.key(k), node, node.keywordNames[index], "unevaluated property \"\(k)\" is not allowed")
                    ok = false
                    if !detailed { return false }
                } else if !(try descend(s, v, .key(k))) {
                    ok = false
                    if !detailed { return false }
                }
            }
            if ok { ev.allProperties = true }
            return ok
        case .unevaluatedItems(let s):
            guard case .array(let a) = value else { return true }
            if ev.allItems { return true }
            var ok = true
            for i in ev.itemPrefix..<max(ev.itemPrefix, a.count) where !ev.hasItem(i) {
                if s.boolean == false {
                    failAt(.index(i), node, node.keywordNames[index], "unevaluated item \(i) is not allowed")
                    ok = false
                    if !detailed { return false }
                } else if !(try descend(s, a[i], .index(i))) {
                    ok = false
                    if !detailed { return false }
                }
            }
            if ok { ev.allItems = true }
            return ok
        }
    }

    static func firstDuplicate(_ a: [JSONValue]) -> (Int, Int)? {
        if a.count < 2 { return nil }
        if a.count <= 16 {
            for i in 0..<a.count { for j in (i + 1)..<a.count where a[i] == a[j] { return (i, j) } }
            return nil
        }
        var seen: [JSONValue: Int] = [:]
        for (i, v) in a.enumerated() {
            if let j = seen[v] { return (j, i) }
            seen[v] = i
        }
        return nil
    }

    static func short(_ v: JSONValue) -> String {
        let s = JSONSerializer.compact.string(from: v)
        return s.count > 60 ? String(s.prefix(57)) + "…" : s
    }
}
