import SkiffConstraint
import SkiffJSON
import SkiffTokenizer
import Testing

/// The trie walk (with the slicer) against a brute-force mask: every vocabulary token checked
/// byte by byte with `allows`, in states reached along real documents.
@Suite struct MaskTests {
    static let schemas: [(String, [String])] = [
        (#"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}, "n": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["x", "yy"]}}}, "required": ["name"], "additionalProperties": false}"#,
         [#"{"name":"héllo","n":-12,"tags":["x","yy"]}"#, #"{"tags":[],"name":""}"#]),
        (#"{"anyOf": [{"type": "string", "pattern": "^a+b$"}, {"type": "number"}, {"type": "null"}]}"#,
         [#""aaab""#, "-1.5e3", "null"]),
        (#"{"type": "object", "additionalProperties": {"type": "string"}}"#,
         [#"{"key one":"value \u00e9 \"q\"","k2":"日本語"}"#]),
        // Pattern strings: unanchored (plain body, the pattern decides at the quote), anchored
        // (pattern-pruned body), with length bounds.
        (#"{"type": "array", "items": {"type": "string", "pattern": "[0-9]+", "maxLength": 12}}"#,
         [#"["é 12","ab\"3","9"]"#]),
        (#"{"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-f0-9]{2,4}(-x)?$", "minLength": 3}}}"#,
         [#"{"id":"ab1-x"}"#, #"{"id":"a0f"}"#]),
        // Open-object keys (known, required, written and other keys share one suffix walk) and
        // strings whose own or whose parents' finished-value checks read their content.
        (#"{"type": "object", "properties": {"a": {"type": "integer"}, "ab": {"type": "string", "format": "email"}}, "required": ["zz"], "additionalProperties": {"type": "string", "minLength": 2}, "not": {"required": ["bad"]}}"#,
         [#"{"abc":"xy","a":3,"ab":"q@example.com","zz":"ok"}"#, #"{"zz":"a\"b","a":-1}"#]),
        (#"{"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}, "oneOf": [{"required": ["k"]}, {"required": ["j"]}]}, "uniqueItems": true}"#,
         [#"[{"k":"v"},{"j":"w","k2":"x"},{"k":"w"}]"#]),
    ]

    /// A small vocabulary: all single bytes, plus multi-byte pieces cut from the documents.
    static func vocabulary(_ docs: [String], seed: UInt64) -> TokenVocabulary {
        var rng = SplitMix(seed)
        var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        for d in docs {
            let b = Array(d.utf8)
            for _ in 0..<60 {
                let i = Int(rng.next() % UInt64(b.count)), n = 1 + Int(rng.next() % 6)
                tokens.append(Array(b[i..<min(b.count, i + n)]))
            }
        }
        tokens += [Array("\"name\":\"".utf8), Array("\"}".utf8), Array("日".utf8), Array("ab".utf8), Array([0xE6, 0x97]), Array("\\u00".utf8)]
        return TokenVocabulary(tokenBytes: tokens + [[]], eos: tokens.count)
    }

    @Test func trieWalkEqualsBruteForce() throws {
        var o = ConstraintOptions()
        o.propertyOrder = .any
        for (k, (schema, docs)) in Self.schemas.enumerated() {
            let g = try Grammar(schema: try JSONParser().parse(schema), options: o)
            let vocab = Self.vocabulary(docs, seed: UInt64(k + 1))
            for doc in docs {
                let m = try ConstraintMatcher(grammar: g, vocabulary: vocab)
                let bytes = Array(doc.utf8)
                for i in 0...bytes.count {
                    let mask = m.mask()
                    var brute = TokenMask(count: vocab.size)
                    for t in 0..<vocab.size where m.allows(t) { brute.insert(t) }
                    #expect(mask == brute, "schema \(k) doc \(doc) at byte \(i): \(mask.population) vs \(brute.population)")
                    if i < bytes.count { #expect(m.consume(bytes: [bytes[i]])) }
                }
                #expect(m.isAccepting)
            }
        }
    }

    @Test func closedKeysInSchemaOrderEqualBruteForce() throws {
        // Closed objects walk candidate names; with a fixed order, skipped and required keys prune them.
        let schema = #"{"type": "object", "properties": {"id": {"type": "integer"}, "idx": {"type": "string"}, "i\"q": {"type": "null"}, "name": {"type": "object", "properties": {"n": {"type": "string"}, "nm": {"type": "string"}}, "additionalProperties": false}}, "required": ["name"], "additionalProperties": false}"#
        let docs = [#"{"id":1,"idx":"a","i\"q":null,"name":{"n":"y","nm":"x"}}"#, #"{"idx":"b","name":{}}"#, #"{"name":{"n":"z"},"id":2}"#]
        for order in [PropertyOrder.any, .schema, .requiredFirst] {
            var o = ConstraintOptions()
            o.propertyOrder = order
            let g = try Grammar(schema: try JSONParser().parse(schema), options: o)
            let vocab = Self.vocabulary(docs, seed: 7)
            for doc in docs where (order == .requiredFirst) == doc.hasPrefix(#"{"name""#) || order == .any {
                let m = try ConstraintMatcher(grammar: g, vocabulary: vocab)
                let bytes = Array(doc.utf8)
                for i in 0...bytes.count {
                    #expect(m.mask() == m.referenceMask(), "\(order) doc \(doc) at byte \(i)")
                    if i < bytes.count { #expect(m.consume(bytes: [bytes[i]]), "\(order) doc \(doc) at byte \(i)") }
                }
                #expect(m.isAccepting)
            }
        }
    }

    @Test(.enabled(if: TestData.hasModel)) func smolVocabularyMaskMatchesBruteForce() throws {
        guard let (tokenizer, vocab) = TestData.smol else { return }
        let g = try Grammar(schema: try JSONParser().parse(Self.schemas[0].0), options: { var o = ConstraintOptions(); o.propertyOrder = .any; return o }())
        let m = try ConstraintMatcher(grammar: g, vocabulary: vocab)
        let tokens = tokenizer.encode(Self.schemas[0].1[0], parseSpecial: false)
        // Every few positions (a full brute force over 49k tokens is slow in debug builds).
        for (i, t) in tokens.enumerated() {
            if i % 3 == 0 {
                let mask = m.mask()
                var brute = TokenMask(count: vocab.size)
                for x in 0..<vocab.size where m.allows(x) { brute.insert(x) }
                #expect(mask == brute, "at token \(i)")
            }
            #expect(m.consume(token: t))
        }
        #expect(m.isAccepting)
        #expect(m.mask().ids == [vocab.eos!])
    }
}

struct SplitMix {
    var s: UInt64
    init(_ seed: UInt64) { s = seed }
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
