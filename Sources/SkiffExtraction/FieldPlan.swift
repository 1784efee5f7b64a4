public import SkiffJSON

/// What a schema property holds, as far as the rule engine can tell from its name, its
/// parent's name and its description. Vision and decoder engines read descriptions
/// themselves; the rules need to know which finder to ask.
public enum FieldKind: String, Sendable, Codable, CaseIterable {
    /// The issuing company: a receipt's shop, an invoice's vendor or seller.
    case company
    /// The issuer's address.
    case address
    /// Issue or purchase date.
    case date
    case dueDate
    /// The amount payable.
    case total
    case subtotal
    case tax
    case invoiceNumber
    /// The issuer's VAT or tax id (`DE123456789`).
    case taxId
    case currency
    /// Anything else: left to an engine that reads the page itself.
    case other
}

/// The JSON types a property accepts, from `type` (a string or a list) and `null`.
public struct ValueTypes: Sendable, Hashable, Codable {
    public var string = false
    public var number = false
    public var integer = false
    public var null = false
    public var other = false

    init(_ schema: JSONValue?) {
        let names: [String]
        switch schema?["type"] {
        case .string(let s): names = [s]
        case .array(let list): names = list.compactMap(\.stringValue)
        default: names = ["string", "number", "null", "object", "array", "boolean"]  // untyped: anything
        }
        for name in names {
            switch name {
            case "string": string = true
            case "number": number = true
            case "integer": integer = true
            case "null": null = true
            default: other = true
            }
        }
    }
}

/// One leaf property of the schema that an engine fills.
public struct PlannedField: Sendable, Hashable, Codable {
    /// JSON Pointer to the value in the output, e.g. `/vendor/name`.
    public var pointer: String
    /// The path as names, e.g. `["vendor", "name"]`.
    public var path: [String]
    public var kind: FieldKind
    public var types: ValueTypes
    /// `format: date` or an ISO date pattern: write the date as `YYYY-MM-DD`, not as printed.
    public var isoDate: Bool
    /// Whether every enclosing object requires it.
    public var required: Bool
    public var description: String?
}

/// The fields of an object schema, in schema order, with nested objects flattened.
/// Arrays and properties without a simple type are listed with kind `other`.
public struct FieldPlan: Sendable {
    public var fields: [PlannedField]

    public init(schema: JSONValue) throws(ExtractionError) {
        guard case .object = schema, let properties = schema["properties"]?.objectValue else {
            throw .unsupportedSchema("the schema's root must be an object with `properties` (found \(schema["type"].map { JSONSerializer.compact.string(from: $0) } ?? "no type"))")
        }
        var fields: [PlannedField] = []
        Self.collect(properties, required: Self.requiredNames(schema), parents: [], parentRequired: true, into: &fields)
        self.fields = fields
    }

    private static func requiredNames(_ schema: JSONValue) -> Set<String> {
        Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    private static func collect(_ properties: JSONObject, required: Set<String>, parents: [String],
                                parentRequired: Bool, into fields: inout [PlannedField]) {
        for (name, sub) in properties.members {
            let path = parents + [name]
            let isRequired = parentRequired && required.contains(name)
            if let nested = sub["properties"]?.objectValue, ValueTypes(sub).other {
                collect(nested, required: requiredNames(sub), parents: path, parentRequired: isRequired, into: &fields)
                continue
            }
            let types = ValueTypes(sub)
            let description = sub["description"]?.stringValue
            let pattern = sub["pattern"]?.stringValue ?? ""
            fields.append(PlannedField(
                pointer: "/" + path.map(escapePointer).joined(separator: "/"), path: path,
                kind: types.other && !types.string && !types.number ? .other : kind(of: path),
                types: types,
                isoDate: sub["format"]?.stringValue == "date" || pattern.contains("[0-9]{4}-[0-9]{2}-[0-9]{2}"),
                required: isRequired, description: description))
        }
    }

    /// Reads the kind from the property name and its parent's name.
    static func kind(of path: [String]) -> FieldKind {
        let words = path.map(nameWords)
        let name = words.last ?? []
        let parent = words.dropLast().last ?? []
        let issuer: Set<String> = ["vendor", "seller", "supplier", "merchant", "company", "store", "shop", "issuer", "from"]
        let customerSide: Set<String> = ["customer", "buyer", "client", "bill", "billing", "ship", "shipping", "recipient", "to"]
        if !customerSide.isDisjoint(with: parent) || !customerSide.isDisjoint(with: name) { return .other }
        if name.contains("address") { return .address }
        if name.contains("due") && name.contains("date") { return .dueDate }
        if name.contains("date") { return .date }
        if name.contains("currency") { return .currency }
        if name.contains("subtotal") || name.contains("net") && (name.contains("total") || name.contains("amount")) { return .subtotal }
        if name.contains("tax") || name.contains("vat") || name.contains("gst") {
            return name.contains("id") || name.contains("number") || name.contains("no") ? .taxId : .tax
        }
        if name.contains("total") || name == ["amount"] || name.contains("due") || name.contains("payable") { return .total }
        if name.contains("invoice") && (name.contains("number") || name.contains("no") || name.contains("id")) { return .invoiceNumber }
        if !issuer.isDisjoint(with: name) && (name.count == 1 || name.contains("name")) { return .company }
        if name == ["name"] && !issuer.isDisjoint(with: parent) { return .company }
        return .other
    }

    /// `invoiceDate`, `invoice_date`, `Invoice-Date` → `["invoice", "date"]`; `subTotal` → `["sub", "total"]`
    /// is re-joined to `subtotal` so both spellings read alike.
    static func nameWords(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousLower = false
        for c in name {
            if c == "_" || c == "-" || c == " " || c == "." {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousLower = false
                continue
            }
            if c.isUppercase && previousLower {
                words.append(current)
                current = ""
            }
            current.append(Character(c.lowercased()))
            previousLower = c.isLowercase || c.isNumber
        }
        if !current.isEmpty { words.append(current) }
        var joined: [String] = []
        for word in words {
            if word == "total", joined.last == "sub" { joined[joined.count - 1] = "subtotal" } else { joined.append(word) }
        }
        return joined
    }
}

func escapePointer(_ name: String) -> String {
    name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
}

private extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
