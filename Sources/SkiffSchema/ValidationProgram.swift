import SkiffJSON
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `isValid`'s compiled form: the node graph flattened into buffers of plain values, where
/// subschemas, property names, patterns and numbers are indexes. Walking the class graph spent
/// about 45% of `isValid` in `swift_retain`/`swift_release` (every keyword, subschema list and
/// node reference counted as it was read); here evaluation reads trivially copyable values and
/// borrows everything else from buffers the program owns.
///
/// It answers exactly what `Validator` answers with `detailed: false` (tests run both over the
/// official suite and the corpus). Schemas whose evaluation depends on annotations or on the
/// dynamic scope (`unevaluated*`, `$dynamicRef`, `$recursiveRef`) are not flattened and keep
/// using `Validator`.
final class ValidationProgram: @unchecked Sendable {
    /// One node: its operations are `ops[first..<end]`.
    struct Node {
        var first: Int32
        var end: Int32
        /// -1: not a boolean schema; 0: `false`; 1: `true`.
        var boolean: Int8
        /// `type` is the only keyword (checked inline), as `SchemaNode.onlyType`.
        var onlyType: Keyword.TypeSet?
    }

    /// A half-open range into one of the program's index buffers.
    struct Span {
        var start: Int32
        var end: Int32
        static let empty = Span(start: 0, end: 0)
    }

    /// A table of names (property names, string enums): `strings[names]`, with their
    /// subschemas in `targets[names]` (same indexes). Wide tables also have an open-addressing
    /// index, `slots[slots]` (a power of two of entries, -1 for empty).
    struct Table {
        var names: Span
        var slots: Span
    }

    /// A name's UTF-8: its first 16 bytes as two little-endian words (zero-padded), its length,
    /// and where the whole of it is in `bytes`. Comparing a key against a name is then two
    /// word compares for the common short name, memcmp only past 16 bytes.
    struct Name {
        var w0: UInt64
        var w1: UInt64
        var count: Int32
        var offset: Int32
    }

    struct Bound {
        var int: Int64?
        var number: JSONNumber
    }

    /// The operations: trivially copyable, so reading one costs no reference count.
    enum Op {
        case type(Keyword.TypeSet)
        case enumeration(Int32)  // enums[i]
        case stringEnumeration(Int32)  // tables[i]: an enum of strings only
        case const(Int32)  // values[i]
        case multipleOf(Int32)  // decimals[i]
        case maximum(Int32, exclusive: Bool)  // bounds[i]
        case minimum(Int32, exclusive: Bool)
        case maxLength(Int)
        case minLength(Int)
        case pattern(Int32)  // regexes[i]
        case format(Formats.Kind)
        case content(Int32)  // contents[i]
        case maxItems(Int)
        case minItems(Int)
        case uniqueItems
        case contains(node: Int32, min: Int, max: Int)  // max < 0: none
        case maxProperties(Int)
        case minProperties(Int)
        case required(Span)  // strings[span]
        case dependentRequired(Span)  // dependencies[span]
        case properties(Int32)  // tables[i]
        case patternProperties(Span)  // patternPairs[span]
        case additionalProperties(node: Int32, known: Int32, patterns: Span)  // tables[known] or -1; indexes[patterns] → regexes
        case propertyNames(Int32)
        case prefixItems(Span)  // indexes[span] → nodes
        case items(Int32, from: Int)
        case allOf(Span)
        case anyOf(Span)
        case oneOf(Span)
        case not(Int32)
        case conditional(if: Int32, then: Int32, else: Int32)  // -1: absent
        case dependentSchemas(Span)  // keyedNodes[span]
        case ref(Int32)
        /// `properties`, `additionalProperties` and `required` of one schema in one pass over
        /// the members (each key looked up once): shapes[i].
        case object(Int32)
    }

    /// A fused `properties` / `additionalProperties` / `required`.
    struct Shape {
        var table: Int32  // tables[i], or -1 when there is no `properties`
        var additional: Int32  // node for members the table does not name, or -1
        /// The `required` names found in the table: each has a bit in `requiredBits` at its
        /// table entry; all of them must be seen.
        var requiredMask: UInt64
        /// `required` names the table does not have (strings[span]), checked by lookup.
        var extraRequired: Span
    }

    struct Dependency {
        var key: Int32  // strings[key]
        var names: Span  // strings[names]
    }

    struct KeyedNode {
        var key: Int32  // strings[key]
        var node: Int32
    }

    struct PatternPair {
        var regex: Int32
        var node: Int32
    }

    struct Content {
        var base64: Bool
        var json: Bool
    }

    struct EnumTable {
        var values: [JSONValue]
        var lookup: Set<JSONValue>?
    }

    let nodes: UnsafeMutableBufferPointer<Node>
    let ops: UnsafeMutableBufferPointer<Op>
    /// Node, regex and string indexes that spans point into.
    let indexes: UnsafeMutableBufferPointer<Int32>
    let strings: UnsafeMutableBufferPointer<String>
    /// Each string's bytes, for table lookups.
    let names: UnsafeMutableBufferPointer<Name>
    let bytes: UnsafeMutableBufferPointer<UInt8>
    let slots: UnsafeMutableBufferPointer<Int32>
    let targets: UnsafeMutableBufferPointer<Int32>
    /// Per string: the `required` bit its table entry sets in a fused object operation.
    let requiredBits: UnsafeMutableBufferPointer<UInt64>
    let shapes: UnsafeMutableBufferPointer<Shape>
    let tables: UnsafeMutableBufferPointer<Table>
    let dependencies: UnsafeMutableBufferPointer<Dependency>
    let keyedNodes: UnsafeMutableBufferPointer<KeyedNode>
    let patternPairs: UnsafeMutableBufferPointer<PatternPair>
    /// Retained here, released in deinit; used without reference counting.
    let regexes: UnsafeMutableBufferPointer<Unmanaged<ECMARegex>>
    let bounds: UnsafeMutableBufferPointer<Bound>
    let decimals: UnsafeMutableBufferPointer<ExactDecimal>
    let values: UnsafeMutableBufferPointer<JSONValue>
    let enums: UnsafeMutableBufferPointer<EnumTable>
    let contents: UnsafeMutableBufferPointer<Content>
    /// Where each node came from, for limit errors.
    let locations: UnsafeMutableBufferPointer<String>
    /// Node index of each compiled `SchemaNode`, for `isValid(_:against:)`.
    let index: [ObjectIdentifier: Int32]
    let root: Int32
    let maxDepth: Int
    let regexStepLimit: Int

    /// The buffers, copied out as plain values: a run reads them without touching the
    /// program object (whose reference count every access through it would otherwise bump).
    struct Buffers {
        let nodes: UnsafeMutableBufferPointer<Node>
        let ops: UnsafeMutableBufferPointer<Op>
        let indexes: UnsafeMutableBufferPointer<Int32>
        let strings: UnsafeMutableBufferPointer<String>
        let names: UnsafeMutableBufferPointer<Name>
        let bytes: UnsafeMutableBufferPointer<UInt8>
        let slots: UnsafeMutableBufferPointer<Int32>
        let targets: UnsafeMutableBufferPointer<Int32>
        let requiredBits: UnsafeMutableBufferPointer<UInt64>
        let shapes: UnsafeMutableBufferPointer<Shape>
        let tables: UnsafeMutableBufferPointer<Table>
        let dependencies: UnsafeMutableBufferPointer<Dependency>
        let keyedNodes: UnsafeMutableBufferPointer<KeyedNode>
        let patternPairs: UnsafeMutableBufferPointer<PatternPair>
        let regexes: UnsafeMutableBufferPointer<Unmanaged<ECMARegex>>
        let bounds: UnsafeMutableBufferPointer<Bound>
        let decimals: UnsafeMutableBufferPointer<ExactDecimal>
        let values: UnsafeMutableBufferPointer<JSONValue>
        let enums: UnsafeMutableBufferPointer<EnumTable>
        let contents: UnsafeMutableBufferPointer<Content>
        let locations: UnsafeMutableBufferPointer<String>
        let maxDepth: Int
        let regexStepLimit: Int

        init(_ program: ValidationProgram) {
            nodes = program.nodes
            ops = program.ops
            indexes = program.indexes
            strings = program.strings
            names = program.names
            bytes = program.bytes
            slots = program.slots
            targets = program.targets
            requiredBits = program.requiredBits
            shapes = program.shapes
            tables = program.tables
            dependencies = program.dependencies
            keyedNodes = program.keyedNodes
            patternPairs = program.patternPairs
            regexes = program.regexes
            bounds = program.bounds
            decimals = program.decimals
            values = program.values
            enums = program.enums
            contents = program.contents
            locations = program.locations
            maxDepth = program.maxDepth
            regexStepLimit = program.regexStepLimit
        }
    }

    /// Flattens the graph under `root`; nil when it uses keywords the program does not run.
    init?(root: SchemaNode, options: SchemaOptions, usesDynamicScope: Bool) {
        guard !usesDynamicScope else { return nil }
        var b = Builder()
        guard let r = b.build(root) else { return nil }
        self.root = r
        index = b.index
        maxDepth = options.maxDepth
        regexStepLimit = options.regexStepLimit
        nodes = .copy(b.nodes)
        ops = .copy(b.ops)
        indexes = .copy(b.indexes)
        strings = .copy(b.strings)
        var entries: [Name] = []
        var all: [UInt8] = []
        for name in b.strings {
            let utf8 = Array(name.utf8)
            let (w0, w1) = utf8.withUnsafeBufferPointer { ProgramRun.words($0) }
            entries.append(Name(w0: w0, w1: w1, count: Int32(utf8.count), offset: Int32(all.count)))
            all.append(contentsOf: utf8)
        }
        names = .copy(entries)
        bytes = .copy(all)
        // Open-addressing indexes for the wide tables (load factor at most 1/2).
        var slotList: [Int32] = []
        for t in b.tables.indices where b.tables[t].slots.end == -1 {
            let span = b.tables[t].names
            var capacity = 4
            while capacity < 2 * Int(span.end - span.start) { capacity *= 2 }
            let start = slotList.count
            slotList.append(contentsOf: repeatElement(-1, count: capacity))
            for j in Int(span.start)..<Int(span.end) {
                let e = entries[j]
                var h = Int(ProgramRun.hash(e.w0, e.w1, e.count, all.withUnsafeBufferPointer {
                    UnsafeBufferPointer(rebasing: $0[Int(e.offset)..<Int(e.offset) + Int(e.count)]) }) & UInt64(capacity - 1))
                // The first of equal names wins, as in a linear scan.
                var duplicate = false
                while slotList[start + h] >= 0 {
                    let other = entries[Int(slotList[start + h])]
                    if other.count == e.count && all[Int(other.offset)..<Int(other.offset + other.count)] == all[Int(e.offset)..<Int(e.offset + e.count)] {
                        duplicate = true
                        break
                    }
                    h = (h + 1) & (capacity - 1)
                }
                if !duplicate { slotList[start + h] = Int32(j) }
            }
            b.tables[t].slots = Span(start: Int32(start), end: Int32(slotList.count))
        }
        slots = .copy(slotList)
        tables = .copy(b.tables)  // after their hash indexes are placed
        targets = .copy(b.targets)
        requiredBits = .copy(b.requiredBits)
        shapes = .copy(b.shapes)
        dependencies = .copy(b.dependencies)
        keyedNodes = .copy(b.keyedNodes)
        patternPairs = .copy(b.patternPairs)
        regexes = .copy(b.regexes.map { Unmanaged.passRetained($0) })
        bounds = .copy(b.bounds)
        decimals = .copy(b.decimals)
        values = .copy(b.values)
        enums = .copy(b.enums)
        contents = .copy(b.contents)
        locations = .copy(b.locations)
    }

    deinit {
        for r in regexes { r.release() }
        for buffer in [nodes.release, ops.release, indexes.release, strings.release, names.release, bytes.release,
                       slots.release, targets.release, requiredBits.release, shapes.release, tables.release, dependencies.release, keyedNodes.release, patternPairs.release, regexes.release,
                       bounds.release, decimals.release, values.release, enums.release, contents.release,
                       locations.release] {
            buffer()
        }
    }

    /// True when `instance` is valid against node `start` (the root by default).
    func isValid(_ instance: JSONValue, from start: Int32? = nil) throws(SchemaError) -> Bool {
        var run = ProgramRun(program: self)
        return try run.valid(start ?? root, instance)
    }

    /// Collects the graph into the flat buffers, breadth first from the root.
    private struct Builder {
        var nodes: [Node] = []
        var ops: [Op] = []
        var indexes: [Int32] = []
        var strings: [String] = []
        var targets: [Int32] = []
        var requiredBits: [UInt64] = []
        var shapes: [Shape] = []
        var tables: [Table] = []
        var dependencies: [Dependency] = []
        var keyedNodes: [KeyedNode] = []
        var patternPairs: [PatternPair] = []
        var regexes: [ECMARegex] = []
        var regexIndex: [ObjectIdentifier: Int32] = [:]
        var bounds: [Bound] = []
        var decimals: [ExactDecimal] = []
        var values: [JSONValue] = []
        var enums: [EnumTable] = []
        var contents: [Content] = []
        var locations: [String] = []
        var index: [ObjectIdentifier: Int32] = [:]
        var pending: [SchemaNode] = []

        mutating func build(_ root: SchemaNode) -> Int32? {
            let r = id(root)
            var next = 0
            while next < pending.count {
                let node = pending[next]
                guard fill(Int(index[ObjectIdentifier(node)] ?? 0), node) else { return nil }
                next += 1
            }
            return r
        }

        /// The node's index, reserving a slot (filled later) the first time it is seen.
        mutating func id(_ node: SchemaNode) -> Int32 {
            if let i = index[ObjectIdentifier(node)] { return i }
            let i = Int32(nodes.count)
            index[ObjectIdentifier(node)] = i
            nodes.append(Node(first: 0, end: 0, boolean: -1, onlyType: nil))
            locations.append(node.absoluteLocation)
            pending.append(node)
            return i
        }

        mutating func string(_ s: String) -> Int32 {
            strings.append(s)
            targets.append(-1)
            requiredBits.append(0)
            return Int32(strings.count - 1)
        }

        mutating func names(_ list: [String]) -> Span {
            let start = Int32(strings.count)
            for n in list { _ = string(n) }
            return Span(start: start, end: Int32(strings.count))
        }

        mutating func regex(_ r: ECMARegex) -> Int32 {
            if let i = regexIndex[ObjectIdentifier(r)] { return i }
            regexes.append(r)
            let i = Int32(regexes.count - 1)
            regexIndex[ObjectIdentifier(r)] = i
            return i
        }

        mutating func nodeList(_ list: [SchemaNode]) -> Span {
            let ids = list.map { id($0) }
            let start = Int32(indexes.count)
            indexes.append(contentsOf: ids)
            return Span(start: start, end: Int32(indexes.count))
        }

        mutating func table(_ t: PropertyTable<SchemaNode>) -> Int32 {
            let ids = t.values.map { id($0) }
            let start = Int32(strings.count)
            for (name, target) in zip(t.names, ids) {
                strings.append(name)
                targets.append(target)
                requiredBits.append(0)
            }
            return addTable(Span(start: start, end: Int32(strings.count)))
        }

        /// Registers a table over `strings[names]`; wide ones get a hash index when the
        /// program is assembled (marked by `slots.end == -1`).
        mutating func addTable(_ names: Span) -> Int32 {
            let wide = names.end - names.start > 8
            tables.append(Table(names: names, slots: wide ? Span(start: 0, end: -1) : .empty))
            return Int32(tables.count - 1)
        }

        mutating func bound(_ n: JSONNumber) -> Int32 {
            bounds.append(Bound(int: Int64(n.literal), number: n))
            return Int32(bounds.count - 1)
        }

        mutating func fill(_ slot: Int, _ node: SchemaNode) -> Bool {
            if let b = node.boolean {
                nodes[slot].boolean = b ? 1 : 0
                return true
            }
            if node.hasUnevaluated { return false }
            let first = Int32(ops.count)
            let fused = fusable(node.keywords)
            var shapeAdded = false
            for (k, keyword) in node.keywords.enumerated() {
                if fused.contains(k) {
                    if !shapeAdded { ops.append(shape(node.keywords, fused)) }
                    shapeAdded = true
                    continue
                }
                guard let op = op(keyword.kind) else { return false }
                if let op { ops.append(op) }
            }
            nodes[slot].first = first
            nodes[slot].end = Int32(ops.count)
            nodes[slot].onlyType = node.onlyType
            return true
        }

        /// Which of `properties`, `additionalProperties` (when it knows exactly the
        /// `properties` names and has no patterns) and `required` (up to 64 names) can run as
        /// one `.object` operation; empty when fusing would not save a lookup.
        func fusable(_ keywords: [CompiledKeyword]) -> Set<Int> {
            var properties: (Int, PropertyTable<SchemaNode>)?
            var additional: (Int, PropertyTable<SchemaNode>, Bool)?
            var required: Int?
            for (k, keyword) in keywords.enumerated() {
                switch keyword.kind {
                case .properties(let map): properties = (k, map)
                case .additionalProperties(_, let known, let patterns): additional = (k, known, patterns.isEmpty)
                case .required(let names) where names.count <= 64: required = k
                default: break
                }
            }
            var set: Set<Int> = []
            if let (k, _) = properties { set.insert(k) }
            if let (k, known, plain) = additional, plain {
                if let (_, map) = properties, known === map { set.insert(k) } else if properties == nil && known.count == 0 { set.insert(k) }
            }
            guard !set.isEmpty else { return [] }
            if let required { set.insert(required) }
            return set.count > 1 ? set : []
        }

        mutating func shape(_ keywords: [CompiledKeyword], _ fused: Set<Int>) -> Op {
            var shape = Shape(table: -1, additional: -1, requiredMask: 0, extraRequired: .empty)
            var requiredNames: [String] = []
            for k in fused.sorted() {
                switch keywords[k].kind {
                case .properties(let map): shape.table = table(map)
                case .additionalProperties(let s, _, _): shape.additional = id(s)
                case .required(let names): requiredNames = names
                default: break
                }
            }
            var extra: [String] = []
            var bit: [String: UInt64] = [:]
            for name in requiredNames {
                if let span = shape.table >= 0 ? tables[Int(shape.table)].names : nil,
                    let j = (Int(span.start)..<Int(span.end)).first(where: { JSONValue.sameCodePoints(strings[$0], name) })
                {
                    let b = bit[name] ?? (1 << UInt64(bit.count))
                    bit[name] = b
                    requiredBits[j] |= b
                    shape.requiredMask |= b
                } else {
                    extra.append(name)
                }
            }
            shape.extraRequired = names(extra)
            shapes.append(shape)
            return .object(Int32(shapes.count - 1))
        }

        /// The keyword's operation: `.some(nil)` for one that never fails, nil for one the
        /// program does not run.
        mutating func op(_ kind: Keyword) -> Op??  {
            switch kind {
            case .type(let set, _): return .type(set)
            case .enumeration(let list, _) where !list.isEmpty && list.allSatisfy({ $0.stringValue != nil }):
                return .stringEnumeration(addTable(self.names(list.compactMap(\.stringValue))))
            case .enumeration(let list, let lookup):
                enums.append(EnumTable(values: list, lookup: lookup))
                return .enumeration(Int32(enums.count - 1))
            case .const(let v):
                values.append(v)
                return .const(Int32(values.count - 1))
            case .multipleOf(let m):
                decimals.append(m.decimal)
                return .multipleOf(Int32(decimals.count - 1))
            case .maximum(let m, let exclusive): return .maximum(bound(m), exclusive: exclusive)
            case .minimum(let m, let exclusive): return .minimum(bound(m), exclusive: exclusive)
            case .maxLength(let m): return .maxLength(m)
            case .minLength(let m): return .minLength(m)
            case .pattern(let r): return .pattern(regex(r))
            case .format(_, let kind, let assert):
                guard assert, let kind else { return .some(nil) }
                return .format(kind)
            case .content(let encoding, let mediaType):
                contents.append(Content(base64: encoding?.lowercased() == "base64",
                                        json: mediaType?.lowercased().hasPrefix("application/json") ?? false))
                return .content(Int32(contents.count - 1))
            case .maxItems(let m): return .maxItems(m)
            case .minItems(let m): return .minItems(m)
            case .uniqueItems: return .uniqueItems
            case .contains(let s, let minC, let maxC): return .contains(node: id(s), min: minC, max: maxC ?? -1)
            case .maxProperties(let m): return .maxProperties(m)
            case .minProperties(let m): return .minProperties(m)
            case .required(let list): return .required(names(list))
            case .dependentRequired(let pairs):
                let start = Int32(dependencies.count)
                for (k, list) in pairs {
                    let key = string(k)
                    dependencies.append(Dependency(key: key, names: names(list)))
                }
                return .dependentRequired(Span(start: start, end: Int32(dependencies.count)))
            case .properties(let map): return .properties(table(map))
            case .patternProperties(let list):
                let pairs = list.map { PatternPair(regex: regex($0.0), node: id($0.1)) }
                let start = Int32(patternPairs.count)
                patternPairs.append(contentsOf: pairs)
                return .patternProperties(Span(start: start, end: Int32(patternPairs.count)))
            case .additionalProperties(let s, let known, let patterns):
                let target = id(s)
                let t = known.count == 0 ? -1 : table(known)
                let ids = patterns.map { regex($0) }
                let start = Int32(indexes.count)
                indexes.append(contentsOf: ids)
                return .additionalProperties(node: target, known: t, patterns: Span(start: start, end: Int32(indexes.count)))
            case .propertyNames(let s): return .propertyNames(id(s))
            case .prefixItems(let list): return .prefixItems(nodeList(list))
            case .items(let s, let from): return .items(id(s), from: from)
            case .allOf(let list): return .allOf(nodeList(list))
            case .anyOf(let list): return .anyOf(nodeList(list))
            case .oneOf(let list): return .oneOf(nodeList(list))
            case .not(let s): return .not(id(s))
            case .conditional(let i, let t, let e):
                return .conditional(if: id(i), then: t.map { id($0) } ?? -1, else: e.map { id($0) } ?? -1)
            case .dependentSchemas(let list):
                let pairs = list.map { (string($0.0), id($0.1)) }
                let start = Int32(keyedNodes.count)
                for (k, n) in pairs { keyedNodes.append(KeyedNode(key: k, node: n)) }
                return .dependentSchemas(Span(start: start, end: Int32(keyedNodes.count)))
            case .ref(let target): return .ref(id(target))
            case .dynamicRef, .recursiveRef, .unevaluatedProperties, .unevaluatedItems: return nil
            }
        }
    }
}

extension UnsafeMutableBufferPointer {
    fileprivate static func copy(_ array: [Element]) -> UnsafeMutableBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: Swift.max(1, array.count))
        _ = buffer.initialize(from: array)
        return UnsafeMutableBufferPointer(rebasing: buffer[..<array.count])
    }

    /// Deinitializes and frees a buffer made by `copy`.
    fileprivate var release: () -> Void {
        { [self] in
            if let base = baseAddress {
                base.deinitialize(count: count)
                base.deallocate()
            }
        }
    }
}

/// One evaluation of a program (the regex scratch space and the depth guards).
struct ProgramRun: ~Copyable {
    let p: ValidationProgram.Buffers
    var depth = 0
    var stack: StackGuard? = nil
    var regexScratch = RegexScratch()

    init(program: ValidationProgram) { p = ValidationProgram.Buffers(program) }

    mutating func valid(_ n: Int32, _ value: JSONValue) throws(SchemaError) -> Bool {
        let node = p.nodes[Int(n)]
        if node.boolean >= 0 { return node.boolean == 1 }
        if let t = node.onlyType { return Validator.isType(value, t) }
        depth += 1
        defer { depth -= 1 }
        if depth > p.maxDepth {
            throw .limitExceeded("schema evaluation nested deeper than \(p.maxDepth) levels at \(p.locations[Int(n)])")
        }
        if depth > 32 && depth % 4 == 0 {
            if stack == nil { stack = StackGuard() }
            if stack?.isExhausted() == true {
                throw .limitExceeded("schema evaluation \(depth) levels deep exhausts this thread's stack at \(p.locations[Int(n)])")
            }
        }
        var i = Int(node.first)
        let end = Int(node.end)
        while i < end {
            if !(try apply(p.ops[i], value)) { return false }
            i += 1
        }
        return true
    }

    /// `valid` for a member or item, read in place: leaves (boolean schemas and a lone `type`)
    /// are decided from the buffer without copying the value out, which would retain and
    /// release its payload.
    @inline(__always)
    mutating func validAt(_ n: Int32, _ buffer: UnsafeBufferPointer<JSONValue>, _ i: Int) throws(SchemaError) -> Bool {
        let node = p.nodes[Int(n)]
        if node.boolean >= 0 { return node.boolean == 1 }
        guard let base = buffer.baseAddress else { return true }
        if let t = node.onlyType { return Self.isType(base + i, t) }
        return try valid(n, buffer[i])
    }

    @inline(__always) static func isType(_ v: UnsafePointer<JSONValue>, _ set: Keyword.TypeSet) -> Bool {
        switch v.pointee {
        case .null: return set.contains(.null)
        case .bool: return set.contains(.boolean)
        case .object: return set.contains(.object)
        case .array: return set.contains(.array)
        case .string: return set.contains(.string)
        case .number:
            if set.contains(.number) { return true }
            guard set.contains(.integer), case .number(let n) = v.pointee else { return false }
            return n.isInteger
        }
    }

    mutating func matches(_ r: Int32, _ s: String) throws(SchemaError) -> Bool {
        let limit = p.regexStepLimit
        let outcome: Result<Bool, RegexError> = p.regexes[Int(r)]._withUnsafeGuaranteedRef { regex in
            do throws(RegexError) { return .success(try regex.firstMatch(in: s, stepLimit: limit, scratch: &regexScratch)) } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let matched): return matched
        case .failure(let error):
            throw .limitExceeded("pattern \"\(p.regexes[Int(r)].takeUnretainedValue().source)\": \(error.description)")
        }
    }

    /// Position of `key` in table `t` (an index into `strings`/`targets`): its bytes compared
    /// with each name's, or looked up in the table's hash index.
    func lookup(_ t: Int32, _ key: String) -> Int? {
        if let found = key.utf8.withContiguousStorageIfAvailable({ find(t, $0) }) { return found }
        return Array(key.utf8).withUnsafeBufferPointer { find(t, $0) }
    }

    /// `lookup` for member `i` of an object's keys, reading the key's bytes in place (see
    /// `StringBytes`) so that walking an object's members costs no reference counting; keys
    /// in a form it does not know take the ordinary path.
    @inline(__always) func lookup(_ t: Int32, _ keys: UnsafeBufferPointer<String>, _ i: Int) -> Int? {
        if StringBytes.available, let base = keys.baseAddress {
            switch StringBytes(base + i) {
            case .small(let w0, let w1, let n): return find(t, w0, w1, Int32(n), UnsafeBufferPointer(start: nil, count: 0))
            case .contiguous(let bytes): return find(t, bytes)
            case .other: break
            }
        }
        return lookup(t, keys[i])
    }

    @inline(__always) func find(_ t: Int32, _ key: UnsafeBufferPointer<UInt8>) -> Int? {
        let (w0, w1) = Self.words(key)
        return find(t, w0, w1, Int32(key.count), key)
    }

    /// `key` is only read past its first 16 bytes (whose words are `w0`, `w1`).
    @inline(__always) func find(_ t: Int32, _ w0: UInt64, _ w1: UInt64, _ n: Int32, _ key: UnsafeBufferPointer<UInt8>) -> Int? {
        let table = p.tables[Int(t)]
        if table.slots.end > table.slots.start {
            let mask = Int(table.slots.end - table.slots.start) - 1
            var h = Int(Self.hash(w0, w1, n, key) & UInt64(mask))
            while true {
                let j = p.slots[Int(table.slots.start) + h]
                if j < 0 { return nil }
                if same(p.names[Int(j)], w0, w1, n, key) { return Int(j) }
                h = (h + 1) & mask
            }
        }
        var j = Int(table.names.start)
        let end = Int(table.names.end)
        while j < end {
            if same(p.names[j], w0, w1, n, key) { return j }
            j += 1
        }
        return nil
    }

    @inline(__always) func same(_ e: ValidationProgram.Name, _ w0: UInt64, _ w1: UInt64, _ n: Int32, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard e.count == n && e.w0 == w0 && e.w1 == w1 else { return false }
        if n <= 16 { return true }
        guard let base = p.bytes.baseAddress, let k = key.baseAddress else { return false }
        return memcmp(base + Int(e.offset) + 16, k + 16, Int(n) - 16) == 0
    }

    /// The first 16 bytes as two little-endian words, zero-padded.
    @inline(__always) static func words(_ b: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64) {
        guard let base = b.baseAddress else { return (0, 0) }
        let raw = UnsafeRawPointer(base)
        if b.count >= 16 {
            return (UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)),
                    UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        // Overlapping loads inside the buffer rather than a copy into a zeroed pair: a
        // variable-length memcpy followed by word loads stalls store-to-load forwarding.
        let n = b.count
        func load8(_ o: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        func load4(_ o: Int) -> UInt64 { UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        if n >= 8 {
            return (load8(0), n == 8 ? 0 : load8(n - 8) >> UInt64(8 * (16 - n)))
        }
        if n >= 4 {
            return (load4(0) | load4(n - 4) << UInt64(8 * (n - 4)), 0)
        }
        var w: UInt64 = 0
        for i in 0..<n { w |= UInt64(base[i]) << UInt64(8 * i) }
        return (w, 0)
    }

    /// A hash of a name's bytes (its two leading words, its length, and any bytes past 16).
    static func hash(_ w0: UInt64, _ w1: UInt64, _ n: Int32, _ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h = (w0 &* 0x9E37_79B9_7F4A_7C15) ^ (w1 &+ UInt64(UInt32(bitPattern: n)))
        if n > 16, let base = b.baseAddress {
            // Eight bytes at a time; the last partial word by an overlapping load (n > 16,
            // so it stays inside the buffer).
            let raw = UnsafeRawPointer(base)
            let count = Int(n)
            var i = 16
            while i + 8 <= count {
                h = (h ^ UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* 0x9FB2_1C65_1E98_DF25
                h ^= h >> 31
                i += 8
            }
            if i < count {
                let last = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) >> UInt64(8 * (8 - (count - i)))
                h = (h ^ last) &* 0x9FB2_1C65_1E98_DF25
            }
        }
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 32)
    }

    func compare(_ n: JSONNumber, _ b: Int32) -> Int {
        let bound = p.bounds[Int(b)]
        if let bi = bound.int, let ni = Int64(n.literal) { return ni < bi ? -1 : ni == bi ? 0 : 1 }
        return n < bound.number ? -1 : bound.number < n ? 1 : 0
    }

    mutating func apply(_ op: ValidationProgram.Op, _ value: JSONValue) throws(SchemaError) -> Bool {
        switch op {
        case .type(let set):
            return Validator.isType(value, set)
        case .enumeration(let e):
            if let found = p.enums[Int(e)].lookup?.contains(value) { return found }
            return p.enums[Int(e)].values.contains(value)
        case .stringEnumeration(let t):
            guard case .string(let s) = value else { return false }
            return lookup(t, s) != nil
        case .const(let c):
            return value == p.values[Int(c)]
        case .multipleOf(let m):
            guard case .number(let n) = value else { return true }
            return n.decimal.isMultiple(of: p.decimals[Int(m)])
        case .maximum(let b, let exclusive):
            guard case .number(let n) = value else { return true }
            let c = compare(n, b)
            return exclusive ? c < 0 : c <= 0
        case .minimum(let b, let exclusive):
            guard case .number(let n) = value else { return true }
            let c = compare(n, b)
            return exclusive ? c > 0 : c >= 0
        case .maxLength(let m):
            guard case .string(let s) = value else { return true }
            return s.utf8.count <= m || s.unicodeScalars.count <= m
        case .minLength(let m):
            guard case .string(let s) = value else { return true }
            return s.utf8.count / 4 >= m || s.unicodeScalars.count >= m  // a code point is at most 4 bytes
        case .pattern(let r):
            guard case .string(let s) = value else { return true }
            return try matches(r, s)
        case .format(let kind):
            guard case .string(let s) = value else { return true }
            return Formats.check(kind, s)
        case .content(let c):
            guard case .string(let s) = value else { return true }
            let rule = p.contents[Int(c)]
            var bytes = Array(s.utf8)
            if rule.base64 {
                guard let decoded = Base64.decode(s) else { return false }
                bytes = decoded
            }
            if rule.json {
                do { _ = try JSONParser().parse(bytes) } catch { return false }
            }
            return true
        case .maxItems(let m):
            guard case .array(let a) = value else { return true }
            return a.count <= m
        case .minItems(let m):
            guard case .array(let a) = value else { return true }
            return a.count >= m
        case .uniqueItems:
            guard case .array(let a) = value else { return true }
            return Validator.firstDuplicate(a) == nil
        case .contains(let s, let minC, let maxC):
            guard case .array(let a) = value else { return true }
            return try a.withUnsafeBufferPointer { (items) throws(SchemaError) in
                var count = 0
                for i in 0..<items.count where try validAt(s, items, i) {
                    count += 1
                    if maxC < 0 && count >= minC { break }
                    if maxC >= 0 && count > maxC { return false }
                }
                return count >= minC
            }
        case .maxProperties(let m):
            guard case .object(let o) = value else { return true }
            return o.count <= m
        case .minProperties(let m):
            guard case .object(let o) = value else { return true }
            return o.count >= m
        case .required(let span):
            guard case .object(let o) = value else { return true }
            var j = Int(span.start)
            while j < Int(span.end) {
                if o.position(of: p.strings[j]) == nil { return false }
                j += 1
            }
            return true
        case .dependentRequired(let span):
            guard case .object(let o) = value else { return true }
            for d in Int(span.start)..<Int(span.end) {
                let dep = p.dependencies[d]
                guard o.position(of: p.strings[Int(dep.key)]) != nil else { continue }
                for j in Int(dep.names.start)..<Int(dep.names.end) where o.position(of: p.strings[j]) == nil { return false }
            }
            return true
        case .properties(let t):
            guard case .object(let o) = value else { return true }
            return try o.withMembers { (keys, values) throws(SchemaError) in
                for i in 0..<keys.count {
                    if let j = lookup(t, keys, i), !(try validAt(p.targets[j], values, i)) { return false }
                }
                return true
            }
        case .patternProperties(let span):
            guard case .object(let o) = value else { return true }
            return try o.withMembers { (keys, values) throws(SchemaError) in
                for i in 0..<keys.count {
                    for k in Int(span.start)..<Int(span.end) {
                        let pair = p.patternPairs[k]
                        if try matches(pair.regex, keys[i]), !(try validAt(pair.node, values, i)) { return false }
                    }
                }
                return true
            }
        case .additionalProperties(let s, let known, let patterns):
            guard case .object(let o) = value else { return true }
            let refuse = p.nodes[Int(s)].boolean == 0
            return try o.withMembers { (keys, values) throws(SchemaError) in
                members: for i in 0..<keys.count {
                    if known >= 0, lookup(known, keys, i) != nil { continue }
                    for k in Int(patterns.start)..<Int(patterns.end) where try matches(p.indexes[k], keys[i]) { continue members }
                    if refuse { return false }
                    if !(try validAt(s, values, i)) { return false }
                }
                return true
            }
        case .propertyNames(let s):
            guard case .object(let o) = value else { return true }
            for k in o.keys where !(try valid(s, .string(k))) { return false }
            return true
        case .prefixItems(let span):
            guard case .array(let a) = value else { return true }
            let n = min(a.count, Int(span.end - span.start))
            return try a.withUnsafeBufferPointer { (items) throws(SchemaError) in
                for i in 0..<n where !(try validAt(p.indexes[Int(span.start) + i], items, i)) { return false }
                return true
            }
        case .items(let s, let from):
            guard case .array(let a) = value else { return true }
            guard from < a.count else { return true }
            return try a.withUnsafeBufferPointer { (items) throws(SchemaError) in
                for i in from..<items.count where !(try validAt(s, items, i)) { return false }
                return true
            }
        case .allOf(let span):
            for k in Int(span.start)..<Int(span.end) where !(try valid(p.indexes[k], value)) { return false }
            return true
        case .anyOf(let span):
            for k in Int(span.start)..<Int(span.end) where try valid(p.indexes[k], value) { return true }
            return false
        case .oneOf(let span):
            var passing = 0
            for k in Int(span.start)..<Int(span.end) where try valid(p.indexes[k], value) {
                passing += 1
                if passing > 1 { return false }
            }
            return passing == 1
        case .not(let s):
            return !(try valid(s, value))
        case .conditional(let i, let t, let e):
            let next = try valid(i, value) ? t : e
            return next < 0 ? true : try valid(next, value)
        case .dependentSchemas(let span):
            guard case .object(let o) = value else { return true }
            for k in Int(span.start)..<Int(span.end) {
                let pair = p.keyedNodes[k]
                if o.position(of: p.strings[Int(pair.key)]) != nil, !(try valid(pair.node, value)) { return false }
            }
            return true
        case .ref(let target):
            return try valid(target, value)
        case .object(let i):
            guard case .object(let o) = value else { return true }
            let shape = p.shapes[Int(i)]
            let refuse = shape.additional >= 0 && p.nodes[Int(shape.additional)].boolean == 0
            var seen: UInt64 = 0
            let ok = try o.withMembers { (keys, values) throws(SchemaError) in
                for m in 0..<keys.count {
                    if shape.table >= 0, let j = lookup(shape.table, keys, m) {
                        seen |= p.requiredBits[j]
                        if !(try validAt(p.targets[j], values, m)) { return false }
                    } else if shape.additional >= 0 {
                        if refuse { return false }
                        if !(try validAt(shape.additional, values, m)) { return false }
                    }
                }
                return true
            }
            guard ok, seen & shape.requiredMask == shape.requiredMask else { return false }
            var j = Int(shape.extraRequired.start)
            while j < Int(shape.extraRequired.end) {
                if o.position(of: p.strings[j]) == nil { return false }
                j += 1
            }
            return true
        }
    }
}

/// The UTF-8 of a `String` read from where it is stored, without copying the `String` (a
/// copy retains its storage, and releasing it afterwards costs two atomic operations per
/// object member — more than the rest of a property lookup).
///
/// Swift does not expose this. It decodes the standard library's 64-bit string layout
/// (`StringObject.swift`: small strings hold up to 15 bytes in the two words; large native and
/// literal strings keep their count in the low 48 bits of the first word and, when tail
/// allocated, their bytes 32 bytes past the object address in the second word). That layout is
/// ABI on Apple platforms and the same on Linux; still, `available` is only true when a self
/// test against the public API passes in this process, and any form it does not recognise
/// (bridged or shared strings) is `.other`, for the caller's ordinary path.
enum StringBytes {
    /// Up to 15 bytes as little-endian words, zero-padded.
    case small(UInt64, UInt64, Int)
    case contiguous(UnsafeBufferPointer<UInt8>)
    case other

    @inline(__always) init(_ string: UnsafePointer<String>) {
        let raw = UnsafeRawPointer(string)
        let first = raw.load(as: UInt64.self)
        let second = raw.load(fromByteOffset: 8, as: UInt64.self)
        if second & (1 << 61) != 0 {
            let n = Int((second >> 56) & 0xF)
            guard n <= 15 else { self = .other; return }
            let w0 = n >= 8 ? first : first & ((1 << UInt64(8 * n)) &- 1)
            let w1 = n <= 8 ? 0 : (second & 0x00FF_FFFF_FFFF_FFFF) & ((1 << UInt64(8 * (n - 8))) &- 1)
            self = .small(w0, w1, n)
        } else if first & (1 << 60) != 0, let bytes = UnsafePointer<UInt8>(bitPattern: UInt(second & 0x0FFF_FFFF_FFFF_FFFF) &+ 32) {
            self = .contiguous(UnsafeBufferPointer(start: bytes, count: Int(first & 0xFFFF_FFFF_FFFF)))
        } else {
            self = .other
        }
    }

    /// True when decoding agrees with `String.utf8` on strings of every form this process
    /// makes (checked once).
    static let available: Bool = {
        guard MemoryLayout<String>.size == 16, MemoryLayout<String>.stride == 16 else { return false }
        var probes: [String] = ["", "a", "abc", "\u{E9}", "1234567", "12345678", "123456789", "abcdefghijklmno",
                                "abcdefghijklmnop", "\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}x",
                                "a literal long enough to be stored out of line"]
        probes.append(String(repeating: "possibleErrors/", count: 3))
        probes.append(String(decoding: Array("key \u{2581} with \u{1F600} and more bytes".utf8), as: UTF8.self))
        probes.append(String(Substring("a substring turned into a string, long")))
        probes.append(String(repeating: "\u{E9}", count: 7))
        for probe in probes {
            let expected = Array(probe.utf8)
            let ok = withUnsafePointer(to: probe) { pointer -> Bool in
                switch StringBytes(pointer) {
                case .small(let w0, let w1, let n):
                    guard n == expected.count else { return false }
                    var words = (w0.littleEndian, w1.littleEndian)
                    return withUnsafeBytes(of: &words) { Array($0.prefix(n)) } == expected
                        && withUnsafeBytes(of: &words) { $0.dropFirst(n).allSatisfy { $0 == 0 } }
                case .contiguous(let bytes): return Array(bytes) == expected
                case .other: return true  // unrecognised forms are never decoded
                }
            }
            if !ok { return false }
        }
        return true
    }()
}
