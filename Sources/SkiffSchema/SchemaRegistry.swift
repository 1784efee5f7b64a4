public import SkiffJSON

/// Documents that `$ref` and `$schema` may name, by absolute URI. Holds the official
/// metaschemas; more are added from memory or local files. Never touches the network.
public struct SchemaRegistry: Sendable {
    private(set) var documents: [String: JSONValue] = [:]

    /// A registry holding the draft 4/6/7/2019-09/2020-12 metaschemas.
    public init() {
        for (uri, text) in Metaschemas.documents {
            if let doc = try? JSONParser().parse(text) { documents[uri] = doc }
        }
    }

    /// The metaschemas only, parsed once.
    public static let standard = SchemaRegistry()

    /// Registers `document` under `uri` (its fragment, if any, is ignored).
    public mutating func add(_ document: JSONValue, uri: String) {
        documents[URIReference(uri).withoutFragment] = document
    }

    public func document(for uri: String) -> JSONValue? {
        let key = URIReference(uri).withoutFragment
        if let d = documents[key] { return d }
        if let d = Dialect(metaschemaURI: key) { return documents[d.rawValue] }
        return nil
    }

    /// Registers every `.json` file below `directory` as `baseURI` + its relative path, e.g.
    /// the test suite's `remotes/` as `http://localhost:1234/`.
    public mutating func addDirectory(_ directory: String, baseURI: String) throws(SchemaError) {
        for relative in LocalFiles.listJSONFiles(in: directory) {
            let path = directory + "/" + relative
            guard let bytes = LocalFiles.read(path) else {
                throw .unreadableDocument(path, reason: "cannot open the file")
            }
            do {
                add(try JSONParser().parse(bytes), uri: baseURI + relative)
            } catch {
                throw .unreadableDocument(path, reason: error.description)
            }
        }
    }
}
