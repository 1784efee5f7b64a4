import SkiffJSON

/// The JSON Schema drafts Skiff understands, chosen by `$schema` (2020-12 when absent).
public enum Dialect: String, Sendable, CaseIterable, Comparable {
    case draft4 = "http://json-schema.org/draft-04/schema"
    case draft6 = "http://json-schema.org/draft-06/schema"
    case draft7 = "http://json-schema.org/draft-07/schema"
    case draft2019_09 = "https://json-schema.org/draft/2019-09/schema"
    case draft2020_12 = "https://json-schema.org/draft/2020-12/schema"

    public var metaschemaURI: String { rawValue }

    private var order: Int {
        switch self {
        case .draft4: 4
        case .draft6: 6
        case .draft7: 7
        case .draft2019_09: 2019
        case .draft2020_12: 2020
        }
    }
    public static func < (a: Dialect, b: Dialect) -> Bool { a.order < b.order }

    /// Recognises the metaschema URIs as people write them (http/https, trailing `#`).
    public init?(metaschemaURI uri: String) {
        var u = uri
        if u.hasSuffix("#") { u.removeLast() }
        if u.hasPrefix("https://json-schema.org/draft-0") { u = "http://" + u.dropFirst("https://".count) }
        if u.hasPrefix("http://json-schema.org/draft/20") { u = "https://" + u.dropFirst("http://".count) }
        guard let d = Dialect(rawValue: u) else { return nil }
        self = d
    }

    /// Keyword that names a schema resource (`id` in draft 4).
    var idKeyword: String { self == .draft4 ? "id" : "$id" }
    /// In drafts up to 7 a `$ref` makes its siblings ignored.
    var refOverridesSiblings: Bool { self <= .draft7 }
}

/// The vocabularies a schema's metaschema turns on (2019-09 and later); drafts up to 7 have all.
struct Vocabularies: Sendable, Equatable {
    var validation = true
    var applicator = true
    var unevaluated = true
    var formatAssertion = false

    static let all = Vocabularies()

    init() {}

    init(declared: JSONObject) {
        validation = false
        applicator = false
        unevaluated = false
        for (uri, _) in declared.members {
            if uri.hasSuffix("/vocab/validation") { validation = true }
            if uri.hasSuffix("/vocab/applicator") { applicator = true; if uri.contains("2019-09") { unevaluated = true } }
            if uri.hasSuffix("/vocab/unevaluated") { unevaluated = true }
            if uri.hasSuffix("/vocab/format-assertion") { formatAssertion = true }
        }
    }
}
