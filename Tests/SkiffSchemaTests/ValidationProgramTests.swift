@testable import SkiffSchema
import SkiffJSON
import Testing

/// The flattened program `isValid` runs must answer exactly as the detailed validator does;
/// the official suite and the corpus check that at scale (TestSuiteTests, JSONSchemaBenchTests
/// compare `isValid` with `validate`). These cover what they exercise only by chance.
@Suite struct ValidationProgramTests {
    @Test func stringBytesDecodeEveryFormTheParserMakes() throws {
        #expect(StringBytes.available)
        let texts = ["", "a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmno", "abcdefghijklmnop",
                     "possibleErrors/no-console", "\u{E9}t\u{E9}", "\u{5C71}\u{7530} \u{592A}\u{90CE}",
                     String(repeating: "\u{1F600}", count: 9), String(repeating: "x", count: 300)]
        // Keys as the parser stores them, read in place from the object's key buffer.
        var object = "{"
        for (i, t) in texts.enumerated() { object += (i == 0 ? "" : ",") + "\"\(t)\":\(i)" }
        let parsed = try JSONParser().parse(object + "}")
        let o = try #require(parsed.objectValue)
        o.withMembers { keys, _ in
            for i in 0..<keys.count {
                let expected = Array(keys[i].utf8)
                switch StringBytes(keys.baseAddress! + i) {
                case .small(var w0, var w1, let n):
                    #expect(n == expected.count)
                    let bytes = withUnsafeBytes(of: &w0) { Array($0) } + withUnsafeBytes(of: &w1) { Array($0) }
                    #expect(Array(bytes.prefix(n)) == expected, "key \(i)")
                    #expect(bytes.dropFirst(n).allSatisfy { $0 == 0 }, "key \(i) padding")
                case .contiguous(let b): #expect(Array(b) == expected, "key \(i)")
                case .other: Issue.record("key \(i) not decoded")
                }
            }
        }
    }

    @Test func wideTablesAndFusedObjectsAgreeWithTheValidator() throws {
        // 40 properties (hashed), names of every length around the 8- and 16-byte boundaries,
        // some required, additionalProperties false; and a string enum past the hash threshold.
        var props: [String] = []
        var names: [String] = []
        for i in 0..<40 {
            let name = String(repeating: "k", count: 1 + i % 20) + "\(i)"
            names.append(name)
            props.append("\"\(name)\": {\"type\": \"integer\"}")
        }
        let enumValues = (0..<20).map { "\"v\(String(repeating: "z", count: $0))\"" }.joined(separator: ",")
        let schema = try JSONSchema(text: """
            {"type": "object", "properties": {\(props.joined(separator: ",")), "e": {"enum": [\(enumValues)]}},
             "required": ["\(names[3])", "\(names[17])", "absent-from-properties"], "additionalProperties": false}
            """)
        func check(_ text: String, _ expected: Bool, _ line: Int = #line) throws {
            let value = try JSONParser().parse(text)
            #expect(try schema.isValid(value) == expected, "line \(line)")
            #expect(try schema.validate(value).isValid == expected, "line \(line), detailed")
        }
        let base = "\"\(names[3])\": 1, \"\(names[17])\": 2, \"absent-from-properties\": 3"
        try check("{\(base)}", false)  // additionalProperties false rejects the extra required name
        let closed = try JSONSchema(text: """
            {"properties": {\(props.joined(separator: ",")), "e": {"enum": [\(enumValues)]}},
             "required": ["\(names[3])", "\(names[17])"], "additionalProperties": false}
            """)
        func checkClosed(_ text: String, _ expected: Bool, _ line: Int = #line) throws {
            let value = try JSONParser().parse(text)
            #expect(try closed.isValid(value) == expected, "line \(line)")
            #expect(try closed.validate(value).isValid == expected, "line \(line), detailed")
        }
        try checkClosed("{\"\(names[3])\": 1, \"\(names[17])\": 2}", true)
        try checkClosed("{\"\(names[3])\": 1}", false)
        try checkClosed("{\"\(names[3])\": 1, \"\(names[17])\": 2, \"\(names[39])\": 3.5}", false)
        try checkClosed("{\"\(names[3])\": 1, \"\(names[17])\": 2, \"e\": \"vzzzz\"}", true)
        try checkClosed("{\"\(names[3])\": 1, \"\(names[17])\": 2, \"e\": \"vzzzzq\"}", false)
        try checkClosed("{\"\(names[3])\": 1, \"\(names[17])\": 2, \"unknown\": 0}", false)
        // Canonically equivalent but different keys are different names.
        let accents = try JSONSchema(text: #"{"properties": {"\u00e9": {"type": "string"}}, "additionalProperties": false}"#)
        #expect(try accents.isValid(JSONParser().parse(#"{"\u00e9": "x"}"#)))
        #expect(try !accents.isValid(JSONParser().parse(#"{"e\u0301": "x"}"#)))
        #expect(try !accents.validate(JSONParser().parse(#"{"e\u0301": "x"}"#)).isValid)
    }

    @Test func plainASCIIFormatsMatchTheFullRules() {
        let hosts = ["example.com", "a.b.c", "-bad.com", "bad-.com", "ok-host.example", "xn--nxasmq6b.com", "ab--cd.com",
                     "", ".", "a..b", "trailing.", String(repeating: "a", count: 63) + ".com",
                     String(repeating: "a", count: 64) + ".com", String(repeating: "abcdefghi.", count: 26) + "com",
                     "under_score.com", "sp ace.com", "\u{E9}xample.com", "UPPER.CASE"]
        for h in hosts {
            #expect(Formats.isHostname(h, international: false) == Formats.hostnameByLabels(h, international: false), "\(h)")
            #expect(Formats.isHostname(h, international: true) == Formats.hostnameByLabels(h, international: true), "\(h)")
        }
        let emails = ["joe@example.com", "joe.bloggs@example.com", ".joe@example.com", "joe.@example.com", "jo..e@example.com",
                      "\"joe bloggs\"@example.com", "joe@[127.0.0.1]", "joe@-x.com", "j!#$%&'*+/=?^_`{|}~-e@example.com",
                      "joe@", "@example.com", "joe", "j\u{E9}@example.com", "a@b@example.com", "joe(x)@example.com"]
        for e in emails {
            #expect(Formats.isEmail(e, international: false) == Formats.emailByParts(e, international: false), "\(e)")
            #expect(Formats.isEmail(e, international: true) == Formats.emailByParts(e, international: true), "\(e)")
        }
    }
}
