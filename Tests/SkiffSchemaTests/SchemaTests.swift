import SkiffJSON
import SkiffSchema
import Testing

@Suite struct SchemaTests {
    func schema(_ text: String, assertFormat: Bool = false) throws -> JSONSchema {
        var o = SchemaOptions()
        o.formatAssertion = assertFormat
        return try JSONSchema(text: text, options: o)
    }
    func json(_ text: String) throws -> JSONValue { try JSONParser().parse(text) }

    @Test func errorsSayWhereAndWhy() throws {
        let s = try schema(##"""
            {"$id": "https://example.com/invoice", "type": "object", "required": ["total"],
             "properties": {"lines": {"type": "array", "items": {"$ref": "#/$defs/line"}}},
             "$defs": {"line": {"type": "object", "properties": {"qty": {"type": "integer", "minimum": 1}}}}}
            """##)
        let r = try s.validate(json(##"{"lines": [{"qty": 2}, {"qty": 0}]}"##))
        #expect(!r.isValid)
        #expect(r.errors.count == 2)
        let minimum = try #require(r.errors.first { $0.keywordLocation.hasSuffix("minimum") })
        #expect(minimum.instanceLocation == "/lines/1/qty")
        #expect(minimum.keywordLocation == "/properties/lines/items/$ref/properties/qty/minimum")
        #expect(minimum.absoluteKeywordLocation == "https://example.com/invoice#/$defs/line/properties/qty/minimum")
        #expect(minimum.message == "0 is less than 1")
        let required = try #require(r.errors.first { $0.keywordLocation == "/required" })
        #expect(required.message.contains("\"total\""))
        let basic = r.basicOutput
        #expect(basic["valid"] == false)
        #expect(basic["errors"]?.arrayValue?.count == 2)
        #expect(basic["errors"]?.arrayValue?.first?["instanceLocation"] != nil)
        #expect(try s.validate(json(##"{"total": 1, "lines": []}"##)).basicOutput == json(##"{"valid": true}"##))
    }

    @Test func draft4Keywords() throws {
        let s = try schema(##"""
            {"$schema": "http://json-schema.org/draft-04/schema##", "id": "http://x.test/root.json",
             "properties": {"n": {"maximum": 10, "exclusiveMaximum": true},
                            "t": {"items": [{"type": "string"}], "additionalItems": false},
                            "r": {"$ref": "#/definitions/pos", "type": "string"}},
             "dependencies": {"a": ["b"], "c": {"required": ["d"]}},
             "definitions": {"pos": {"minimum": 0}}}
            """##)
        #expect(try s.isValid(json(##"{"n": 9.5}"##)))
        #expect(try !s.isValid(json(##"{"n": 10}"##)))
        #expect(try s.isValid(json(##"{"t": ["x"]}"##)))
        #expect(try !s.isValid(json(##"{"t": ["x", 1]}"##)))
        #expect(try !s.isValid(json(##"{"a": 1}"##)))
        #expect(try !s.isValid(json(##"{"c": 1}"##)))
        #expect(try s.isValid(json(##"{"c": 1, "d": 2}"##)))
        // Draft 4: `$ref` overrides its siblings, so "type": "string" is ignored.
        #expect(try s.isValid(json(##"{"r": 5}"##)))
        #expect(try !s.isValid(json(##"{"r": -5}"##)))
    }

    @Test func draft2019RecursiveRef() throws {
        let s = try schema(##"""
            {"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": "https://x.test/tree",
             "$recursiveAnchor": true, "type": "object",
             "properties": {"children": {"type": "array", "items": {"$recursiveRef": "#"}}},
             "unevaluatedProperties": false}
            """##)
        #expect(try s.isValid(json(##"{"children": [{"children": []}]}"##)))
        #expect(try !s.isValid(json(##"{"children": [{"x": 1}]}"##)))
    }

    @Test func formatIsAnnotationUnlessAsked() throws {
        let text = ##"{"properties": {"d": {"format": "date"}, "ip": {"format": "ipv4"}, "e": {"format": "email"}}}"##
        let bad = try json(##"{"d": "2024-02-30", "ip": "256.0.0.1", "e": "nope"}"##)
        #expect(try schema(text).isValid(bad))
        let asserting = try schema(text, assertFormat: true)
        #expect(try asserting.validate(bad).errors.count == 3)
        #expect(try asserting.isValid(json(##"{"d": "2024-02-29", "ip": "10.0.0.1", "e": "a@b.example"}"##)))
    }

    @Test func guardRails() throws {
        // A $ref cycle that consumes nothing is rejected when compiling.
        #expect(throws: SchemaError.self) { try schema(##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}"##) }
        #expect(throws: SchemaError.self) { try schema(##"{"$ref": "#"}"##) }
        // Recursion that descends into the instance is fine, but depth is bounded.
        let tree = try schema(##"{"type": "array", "items": {"$ref": "#"}}"##)
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(try tree.isValid(json(deep)))
        // Far deeper than any stack: an error, never a crash, whatever maxDepth allows.
        var unlimited = SchemaOptions()
        unlimited.maxDepth = 1_000_000
        let huge = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let hugeValue = try JSONParser(maxDepth: 1_000_000).parse(String(repeating: "[", count: 1_000) + String(repeating: "]", count: 1_000))
        #expect(throws: SchemaError.self) {
            try JSONSchema(text: ##"{"type": "array", "items": {"$ref": "#"}}"##, options: unlimited).isValid(hugeValue)
        }
        #expect(throws: JSONError.self) { try JSONParser(maxDepth: 1_000_000).parse(huge) }
        var shallow = SchemaOptions()
        shallow.maxDepth = 50
        let limited = try JSONSchema(text: ##"{"type": "array", "items": {"$ref": "#"}}"##, options: shallow)
        #expect(throws: SchemaError.self) { try limited.isValid(json(deep)) }
        // Huge enums: bounded at compile time, hashed lookup at validation time.
        var small = SchemaOptions()
        small.maxEnumSize = 10
        let values = (0..<100).map(String.init).joined(separator: ",")
        #expect(throws: SchemaError.self) { try JSONSchema(text: "{\"enum\": [\(values)]}", options: small) }
        let big = (0..<50_000).map(String.init).joined(separator: ",")
        let e = try schema("{\"enum\": [\(big)]}")
        #expect(try e.isValid(json("49999.0")) && !(try e.isValid(json("50000"))))
        // Catastrophic regex: a clear error, not a hang.
        var budget = SchemaOptions()
        budget.regexStepLimit = 100_000
        let evil = try JSONSchema(text: ##"{"pattern": "^(a|aa)+(?=b)c"}"##, options: budget)
        #expect(throws: SchemaError.self) { try evil.isValid(.string(String(repeating: "a", count: 60) + "b")) }
        // Malformed schemas say where.
        do {
            _ = try schema(##"{"properties": {"x": {"pattern": "(unclosed"}}}"##)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("/properties/x/pattern"))
        }
        #expect(throws: SchemaError.self) { try schema(##"{"$ref": "https://nowhere.test/x.json"}"##) }
        #expect(throws: SchemaError.self) { try schema(##"{"type": "strng"}"##) }
    }

    @Test func compiledModelIsInspectable() throws {
        let s = try schema(##"{"type": "object", "properties": {"a": {"$ref": "#/$defs/s"}}, "$defs": {"s": {"type": "string"}}, "x-extra": 1}"##)
        #expect(s.root.dialect == .draft2020_12)
        #expect(s.root.keywords.map(\.name) == ["type", "properties"])
        #expect(s.root.unknownKeywords == ["x-extra"])
        guard case .properties(let props) = s.root.keywords[1].kind, let a = props["a"],
            case .ref(let target) = a.keywords.first?.kind
        else {
            Issue.record("unexpected model")
            return
        }
        #expect(target.absoluteLocation == "urn:skiff:schema#/$defs/s")
    }

    @Test func recursiveSchemasAreFreed() throws {
        weak var root: SchemaNode?
        do {
            let s = try schema(##"{"$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}}, "$ref": "#/$defs/t"}"##)
            root = s.root
            #expect(try s.isValid(json("[[[]]]")))
        }
        #expect(root == nil, "the cyclic node graph must not leak")
    }

    @Test func metaschemasAreEmbedded() throws {
        let registry = SchemaRegistry()
        for d in Dialect.allCases {
            let meta = try #require(registry.document(for: d.metaschemaURI), "\(d)")
            let m = try JSONSchema(meta, uri: d.metaschemaURI, registry: registry)
            #expect(try m.isValid(meta), "\(d) metaschema validates itself")
            #expect(try !m.isValid(json(##"{"type": 12}"##)))
        }
    }
}
