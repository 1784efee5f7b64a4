import SkiffConstraint
import SkiffJSON
import SkiffSchema
import Testing

/// Byte-level behaviour of the grammar: what complete documents it accepts, and that
/// prefixes die as soon as no valid completion exists where the engine promises that.
@Suite struct LexemeTests {
    static func grammar(_ schema: String, order: PropertyOrder = .any, pageWords: [String] = []) throws -> Grammar {
        var o = ConstraintOptions()
        o.propertyOrder = order
        o.pageWords = pageWords
        return try Grammar(schema: try JSONParser().parse(schema), options: o)
    }

    /// Does the grammar accept `doc` as a complete document?
    static func accepts(_ g: Grammar, _ doc: String) throws -> Bool {
        let m = try ConstraintMatcher(grammar: g, vocabulary: TestData.byteVocabulary)
        return m.consume(bytes: Array(doc.utf8)) && m.isAccepting
    }

    /// Is `prefix` still alive (some continuation possible)?
    static func alive(_ g: Grammar, _ prefix: String) throws -> Bool {
        let m = try ConstraintMatcher(grammar: g, vocabulary: TestData.byteVocabulary)
        return m.consume(bytes: Array(prefix.utf8))
    }

    @Test func stringEscapesAndUTF8() throws {
        let g = try Self.grammar(#"{"type": "string"}"#)
        for ok in [#""""#, #""a\"b""#, #""\\\/\b\f\n\r\t""#, #""\u00e9\u0041""#, #""\ud83d\ude00""#, "\"é😀\"", #""\uD83D\uDE00""#] {
            #expect(try Self.accepts(g, ok), "\(ok)")
        }
        for bad in [#""\x""#, #""\ud83d""#, #""\ude00""#, #""\ud83dx""#, "\"a\u{01}\"", #""abc"#, #""\u12g4""#] {
            #expect(try !Self.accepts(g, bad), "\(bad)")
        }
        // Invalid UTF-8: overlong, surrogate, truncated.
        let m = try ConstraintMatcher(grammar: g, vocabulary: TestData.byteVocabulary)
        #expect(!m.consume(bytes: [0x22, 0xC0, 0x80]))
        #expect(!m.consume(bytes: [0x22, 0xED, 0xA0, 0x80]))
        #expect(!m.consume(bytes: [0x22, 0xE2, 0x82, 0x22]))
        #expect(m.consume(bytes: [0x22, 0xE2, 0x82, 0xAC, 0x22]) && m.isAccepting)
    }

    @Test func stringLengthsCountCodePoints() throws {
        let g = try Self.grammar(#"{"type": "string", "minLength": 2, "maxLength": 3}"#)
        #expect(try Self.accepts(g, #""ab""#))
        #expect(try Self.accepts(g, "\"é😀x\""))
        #expect(try Self.accepts(g, #""\ud83d\ude00\n\u0041""#))
        #expect(try !Self.accepts(g, #""a""#))
        #expect(try !Self.alive(g, #""abcd"#))  // the fourth code point dies at once
        #expect(try !Self.alive(g, #""abc\"#))
    }

    @Test func numbersAndIntegers() throws {
        let n = try Self.grammar(#"{"type": "number"}"#)
        for ok in ["0", "-0", "12", "1.5", "-0.25e-3", "1E+9", "10"] { #expect(try Self.accepts(n, ok), "\(ok)") }
        for bad in ["01", "-", "1.", ".5", "1e", "+1", "1.5.2", "--1"] { #expect(try !Self.accepts(n, bad), "\(bad)") }
        let i = try Self.grammar(#"{"type": "integer", "minimum": -5, "exclusiveMaximum": 100, "multipleOf": 5}"#)
        for ok in ["0", "-5", "95", "1.0e1", "20.0"] { #expect(try Self.accepts(i, ok), "\(ok)") }
        for bad in ["100", "-10", "7", "2.5", "1e3"] { #expect(try !Self.accepts(i, bad), "\(bad)") }
        let f = try Self.grammar(#"{"type": "number", "multipleOf": 0.01, "maximum": 1}"#)
        #expect(try Self.accepts(f, "0.99"))
        #expect(try !Self.accepts(f, "0.999"))
        #expect(try !Self.accepts(f, "1.01"))
    }

    @Test func enumsConstsAndLiterals() throws {
        let g = try Self.grammar(#"{"enum": ["red", "green", "a\"b", null, 3]}"#)
        for ok in [#""red""#, #""green""#, #""a\"b""#, "null", "3", "3.0"] { #expect(try Self.accepts(g, ok), "\(ok)") }
        for bad in [#""re""#, #""blue""#, "true", "4"] { #expect(try !Self.accepts(g, bad), "\(bad)") }
        #expect(try !Self.alive(g, #""b"#))  // no enum string starts with b
        let c = try Self.grammar(#"{"const": true}"#)
        #expect(try Self.accepts(c, "true"))
        #expect(try !Self.accepts(c, "false"))
    }

    @Test func objectsKeysAndOrder() throws {
        let schema = #"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {}}, "required": ["b"], "additionalProperties": false}"#
        let any = try Self.grammar(schema, order: .any)
        #expect(try Self.accepts(any, #"{"b":"x","a":1}"#))
        #expect(try !Self.accepts(any, #"{"a":1}"#))  // b missing
        #expect(try !Self.accepts(any, #"{"b":"x","b":"y"}"#))  // duplicate key
        #expect(try !Self.alive(any, #"{"d"#))  // unknown key dies at its first byte
        let ordered = try Self.grammar(schema, order: .schema)
        #expect(try Self.accepts(ordered, #"{"a":1,"b":"x"}"#))
        #expect(try !Self.accepts(ordered, #"{"b":"x","a":1}"#))
        #expect(try !Self.alive(ordered, #"{"c"#))  // skipping required b is impossible
        let reqFirst = try Self.grammar(schema, order: .requiredFirst)
        #expect(try Self.accepts(reqFirst, #"{"b":"x","a":1}"#))
        #expect(try !Self.accepts(reqFirst, #"{"a":1,"b":"x"}"#))
        let bounded = try Self.grammar(#"{"type": "object", "minProperties": 1, "maxProperties": 2, "patternProperties": {"^x": {"type": "number"}}, "additionalProperties": {"type": "string"}}"#)
        #expect(try Self.accepts(bounded, #"{"x1":1,"y":"s"}"#))
        #expect(try !Self.accepts(bounded, #"{"x1":"s"}"#))
        #expect(try !Self.accepts(bounded, "{}"))
        #expect(try !Self.alive(bounded, #"{"a":"1","b":"2","#))
    }

    @Test func arraysAndAlternatives() throws {
        let g = try Self.grammar(#"{"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}"#)
        #expect(try Self.accepts(g, #"["a",1]"#))
        #expect(try Self.accepts(g, #"["a",1,2]"#))
        #expect(try !Self.accepts(g, #"["a"]"#))
        #expect(try !Self.alive(g, #"["a",1,2,"#))
        #expect(try !Self.alive(g, "[1"))
        let any = try Self.grammar(#"{"anyOf": [{"type": "string", "maxLength": 1}, {"type": "object", "required": ["k"]}]}"#)
        #expect(try Self.accepts(any, #""x""#))
        #expect(try Self.accepts(any, #"{"k":[]}"#))
        #expect(try !Self.accepts(any, "{}"))
        #expect(try !Self.alive(any, #""xy"#))
    }

    @Test func keywordsBeyondLLGuidance() throws {
        // not, if/then/else, uniqueItems, non-disjoint oneOf: exact through finished-value checks.
        let not = try Self.grammar(#"{"type": "string", "not": {"enum": ["no"]}}"#)
        #expect(try Self.accepts(not, #""yes""#))
        #expect(try !Self.accepts(not, #""no""#))
        let unique = try Self.grammar(#"{"type": "array", "uniqueItems": true}"#)
        #expect(try Self.accepts(unique, "[1,2]"))
        #expect(try !Self.accepts(unique, "[1,1.0]"))
        let one = try Self.grammar(#"{"oneOf": [{"type": "integer"}, {"minimum": 2}]}"#)
        #expect(try Self.accepts(one, "1"))
        #expect(try Self.accepts(one, "2.5"))
        #expect(try !Self.accepts(one, "3"))
        let cond = try Self.grammar(#"{"if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["b"]}}"#)
        #expect(try Self.accepts(cond, #"{"a":2}"#))
        #expect(try !Self.accepts(cond, #"{"a":1}"#))
    }

    @Test func patternsPruneEarly() throws {
        let g = try Self.grammar(#"{"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}"#)
        #expect(try Self.accepts(g, #""2025-03""#))
        #expect(try !Self.alive(g, #""20a"#))
        #expect(try !Self.alive(g, #""2025-033"#))
        let unanchored = try Self.grammar(#"{"type": "string", "pattern": "b+"}"#)
        #expect(try Self.accepts(unanchored, #""abba""#))
        #expect(try !Self.accepts(unanchored, #""aaa""#))
        let date = try Self.grammar(#"{"type": "string", "format": "date"}"#)
        #expect(try Self.accepts(date, #""2024-02-29""#))
        #expect(try !Self.accepts(date, #""2023-02-29""#))
        #expect(try !Self.alive(date, #""March"#))
    }

    @Test func unanchoredPatternsTakeAnyCharacter() throws {
        // A search may start anywhere, so text the pattern does not mention is fine, non-ASCII
        // and escapes included; only the end of the string decides.
        let g = try Self.grammar(#"{"type": "string", "pattern": "[0-9]+"}"#)
        #expect(try Self.accepts(g, #""Größe 42 €""#))
        #expect(try Self.accepts(g, #""\u00e9\n7""#))
        #expect(try Self.alive(g, #""日本"#))
        #expect(try !Self.accepts(g, #""日本""#))
        // Anchored: the first character must fit.
        let anchored = try Self.grammar(#"{"type": "string", "pattern": "^[0-9]"}"#)
        #expect(try !Self.alive(anchored, #""é"#))
        #expect(try Self.accepts(anchored, #""7é""#))
    }

    @Test func patternsWithAnAutomatonNeedNoFinishedCheck() throws {
        var o = ConstraintOptions()
        o.completionChecks = false
        // The automaton is the validator's own regex: exact, so strict mode accepts it.
        let g = try Grammar(schema: try JSONParser().parse(#"{"type": "string", "pattern": "^[a-z]{2}-[0-9]+$"}"#), options: o)
        #expect(g.checkedKeywords.isEmpty)
        // A second pattern, or a pattern next to an enum, is still left to the validator.
        #expect(throws: ConstraintError.self) {
            try Grammar(schema: try JSONParser().parse(#"{"allOf": [{"pattern": "^a"}, {"pattern": "b$"}]}"#), options: o)
        }
        let both = try Self.grammar(#"{"allOf": [{"pattern": "^a"}, {"pattern": "b$"}]}"#)
        #expect(try Self.accepts(both, #""axb""#))
        #expect(try !Self.accepts(both, #""axc""#))
        let withEnum = try Self.grammar(#"{"enum": ["ab", "ba"], "pattern": "^a"}"#)
        #expect(try Self.accepts(withEnum, #""ab""#))
        #expect(try !Self.accepts(withEnum, #""ba""#))
    }

    @Test func strictModeRefusesWhatNeedsChecks() throws {
        var o = ConstraintOptions()
        o.completionChecks = false
        #expect(throws: ConstraintError.self) { try Grammar(schema: try JSONParser().parse(#"{"not": {"type": "null"}}"#), options: o) }
        #expect(throws: ConstraintError.self) { try Grammar(schema: try JSONParser().parse(#"{"format": "no-such-format"}"#)) }
        o.lenient = true
        _ = try Grammar(schema: try JSONParser().parse(#"{"format": "no-such-format"}"#), options: o)
    }

    @Test func hostileSchemasHitLimits() throws {
        // 20 anyOf groups of 2 → 2^20 combinations.
        let groups = (0..<20).map { _ in #"{"anyOf": [{"minimum": 1}, {"maximum": 5}]}"# }.joined(separator: ",")
        #expect(throws: ConstraintError.self) { try Self.grammar(#"{"allOf": [\#(groups)]}"#) }
        var o = ConstraintOptions()
        o.maxDepth = 8
        let deep = try Grammar(schema: try JSONParser().parse(##"{"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}"##), options: o)
        let m = try ConstraintMatcher(grammar: deep, vocabulary: TestData.byteVocabulary)
        #expect(m.consume(bytes: Array("[[[[[[[".utf8)))
        #expect(!m.consume(bytes: Array("[[[[[".utf8)))
        #expect(m.failure != nil)
    }

    @Test func copyFromPage() throws {
        let words = ["ACME", "GmbH", "Invoice", "No.", "42", "Total", "\"quoted\""]
        let g = try Self.grammar(#"{"type": "object", "properties": {"vendor": {"type": "string", "x-copy-from-page": true}}}"#, pageWords: words)
        #expect(try Self.accepts(g, #"{"vendor":"ACME GmbH"}"#))
        #expect(try Self.accepts(g, #"{"vendor":"No. 42 Total"}"#))
        #expect(try Self.accepts(g, #"{"vendor":"\"quoted\""}"#))
        #expect(try !Self.accepts(g, #"{"vendor":"ACME Invoice"}"#))  // not consecutive
        #expect(try !Self.accepts(g, #"{"vendor":"ACM"}"#))  // not a whole word
        #expect(try !Self.accepts(g, #"{"vendor":""}"#))
        #expect(try !Self.alive(g, #"{"vendor":"X"#))
        #expect(PageSpans.locate("No. 42 Total", in: words) == [3...5])
        #expect(PageSpans.locate("ACME", in: words + ["ACME"]) == [0...0, 7...7])
        #expect(throws: ConstraintError.self) { try Self.grammar(#"{"type": "string", "x-copy-from-page": true}"#) }
    }

    @Test func rollbackRestoresState() throws {
        let g = try Self.grammar(#"{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}"#)
        let m = try ConstraintMatcher(grammar: g, vocabulary: TestData.byteVocabulary)
        #expect(m.consume(bytes: Array(#"{"a":"#.utf8)))
        let before = m.mask()
        #expect(m.consume(bytes: Array(#""x"}"#.utf8)))
        #expect(m.isAccepting)
        m.rollback()
        #expect(m.mask() == before)
        #expect(!m.isAccepting)
    }

    @Test func boundedWhitespace() throws {
        var o = ConstraintOptions()
        o.maxWhitespace = 2
        let g = try Grammar(schema: try JSONParser().parse(#"{"type": "object", "properties": {"a": {"type": "array", "items": {"type": "number"}}}, "additionalProperties": false}"#), options: o)
        #expect(try Self.accepts(g, "{ \"a\" :\n[ 1 , 2 ]\n}  "))
        #expect(try Self.accepts(g, #"{"a":[1,2]}"#))
        #expect(try !Self.alive(g, "{   "))  // three in a row
        #expect(try !Self.accepts(g, #"{"a ":[]}"#))  // inside a key it is content, not whitespace
        let compact = try Self.grammar(#"{"type": "object"}"#)
        #expect(try !Self.alive(compact, "{ "))
    }
}
