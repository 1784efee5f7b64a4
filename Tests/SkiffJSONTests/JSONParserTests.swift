import SkiffJSON
import Testing

/// JSONTestSuite-style cases (y_: must parse, n_: must be rejected), written for Skiff.
@Suite struct JSONParserTests {
    static let accepted: [(String, String)] = [
        ("y_empty_object", "{}"), ("y_empty_array", "[]"), ("y_nested", #"{"a":[1,{"b":null}],"c":true}"#),
        ("y_whitespace", " \t\r\n[ 1 , 2 ]\n"), ("y_scalar_string", #""x""#), ("y_scalar_number", "-0"),
        ("y_false", "false"), ("y_null", "null"), ("y_number_exp", "1E+2"), ("y_number_neg_exp", "-1.5e-300"),
        ("y_number_big", "123456789012345678901234567890"), ("y_escapes", #""\"\\\/\b\f\n\r\t\u0041""#),
        ("y_surrogate_pair", #""\uD83D\uDE00""#), ("y_utf8_multibyte", "\"日本語 😀\""),
        ("y_u2028", "\"\u{2028}\""), ("y_key_unicode", #"{"é":1}"#), ("y_deep_100", String(repeating: "[", count: 100) + String(repeating: "]", count: 100)),
        ("y_escaped_nul", #""\u0000""#), ("y_zero_frac", "0.0"), ("y_exp_no_sign", "1e5"),
    ]

    static let rejected: [(String, [UInt8])] = [
        ("n_empty", []), ("n_trailing_comma_array", Array("[1,]".utf8)), ("n_trailing_comma_object", Array(#"{"a":1,}"#.utf8)),
        ("n_leading_zero", Array("012".utf8)), ("n_plus_sign", Array("+1".utf8)), ("n_dot_start", Array(".5".utf8)),
        ("n_dot_end", Array("1.".utf8)), ("n_exp_empty", Array("1e".utf8)), ("n_hex", Array("0x10".utf8)),
        ("n_nan", Array("NaN".utf8)), ("n_infinity", Array("Infinity".utf8)), ("n_single_quote", Array("['a']".utf8)),
        ("n_unquoted_key", Array("{a:1}".utf8)), ("n_missing_colon", Array(#"{"a" 1}"#.utf8)), ("n_true_typo", Array("tru".utf8)),
        ("n_control_in_string", Array("\"a\u{01}b\"".utf8)), ("n_newline_in_string", Array("\"a\nb\"".utf8)),
        ("n_bad_escape", Array(#""\x41""#.utf8)), ("n_short_unicode", Array(#""\u12""#.utf8)),
        ("n_lone_high_surrogate", Array(#""\uD800""#.utf8)), ("n_lone_low_surrogate", Array(#""\uDC00""#.utf8)),
        ("n_high_then_text", Array(#""\uD800abc""#.utf8)), ("n_two_high", Array(#""\uD800\uD800""#.utf8)),
        ("n_invalid_utf8_byte", [0x22, 0xFF, 0x22]), ("n_overlong_utf8", [0x22, 0xC0, 0xAF, 0x22]),
        ("n_utf8_surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22]), ("n_truncated_utf8", [0x22, 0xE6, 0x97, 0x22]),
        ("n_above_10FFFF", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]), ("n_bom", [0xEF, 0xBB, 0xBF] + Array("1".utf8)),
        ("n_two_values", Array("1 2".utf8)), ("n_unclosed_array", Array("[1".utf8)), ("n_unclosed_string", Array("\"abc".utf8)),
        ("n_comment", Array("[1 /* c */]".utf8)), ("n_duplicate_key", Array(#"{"a":1,"a":2}"#.utf8)),
        ("n_too_deep", Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8)),
        ("n_minus_only", Array("-".utf8)), ("n_array_colon", Array("[1:2]".utf8)),
    ]

    @Test(arguments: accepted.map { $0.0 })
    func accepts(_ name: String) throws {
        let text = Self.accepted.first { $0.0 == name }!.1
        let value = try JSONParser().parse(text)
        // Compact output parses back to an equal value.
        let again = try JSONParser().parse(JSONSerializer.compact.string(from: value))
        #expect(again == value)
    }

    @Test(arguments: rejected.map { $0.0 })
    func rejects(_ name: String) {
        let bytes = Self.rejected.first { $0.0 == name }!.1
        #expect(throws: JSONError.self) { try JSONParser().parse(bytes) }
    }

    @Test func numbersKeepTheirText() throws {
        let v = try JSONParser().parse("[1.0, 1, 1e2, 123456789012345678901234567890, -0.000, 2.50]")
        let out = JSONSerializer.compact.string(from: v)
        #expect(out == "[1.0,1,1e2,123456789012345678901234567890,-0.000,2.50]")
        guard case .array(let a) = v, case .number(let one) = a[0], case .number(let two) = a[1] else {
            Issue.record("not an array of numbers")
            return
        }
        #expect(one == two)
        #expect(one.isInteger)
        #expect(a[2] == .number(JSONNumber(literal: "100")!))
        #expect(a[4] == .number(JSONNumber(literal: "0")!))
        #expect(a[5] == .number(JSONNumber(literal: "2.5")!))
        #expect(a[3].numberValue?.int64Value == nil)
        #expect(a[3].numberValue?.decimal.digits.count == 29)
    }

    @Test func exactDecimalArithmetic() throws {
        let d = { (s: String) in JSONNumber(literal: s)!.decimal }
        #expect(d("0.3").isMultiple(of: d("0.1")))
        #expect(!d("0.35").isMultiple(of: d("0.1")))
        #expect(d("1e308").isMultiple(of: d("0.5")))
        #expect(d("12345678901234567890123456789012345678900").isMultiple(of: d("100")))
        #expect(!d("12345678901234567890123456789012345678901").isMultiple(of: d("3")))
        #expect(d("98249283749234923498293171823948729348710298301928331").isInteger)
        #expect(d("-1e-5") < d("0"))
        #expect(d("18446744073709551616") > d("18446744073709551615"))
        #expect(JSONNumber(literal: "1.5e3")?.int64Value == 1500)
        #expect(JSONNumber(literal: "01") == nil)
    }

    @Test func errorPositions() {
        func error(_ text: String) -> JSONError? {
            do { _ = try JSONParser().parse(text); return nil } catch { return error }
        }
        let e1 = error("{\n  \"a\": 1,\n  \"b\": tru\n}")
        #expect(e1?.line == 3)
        #expect(e1?.column == 8)
        #expect(e1?.description.contains("line 3, column 8") == true)
        let e2 = error("[1,\n 2,,3]")
        #expect(e2?.line == 2 && e2?.column == 4)
        let e3 = error("{\"é\": \"x\", \"é\": 2}")
        #expect(e3?.kind == .duplicateKey("é"))
        #expect(e3?.column == 12)  // columns count characters, not bytes
        let e4 = error("\"\\uD800\"")
        #expect(e4?.kind == .loneSurrogate)
        let e5 = error(String(repeating: "[", count: 513))
        #expect(e5?.kind == .tooDeep(limit: 512))
    }

    @Test func duplicateKeyPolicies() throws {
        let text = #"{"a":1,"b":2,"a":3}"#
        #expect(try JSONParser(duplicateKeys: .keepFirst).parse(text)["a"] == 1)
        #expect(try JSONParser(duplicateKeys: .keepLast).parse(text)["a"] == 3)
        #expect(try JSONParser(duplicateKeys: .keepLast).parse(text).objectValue?.keys == ["a", "b"])
    }

    @Test func depthLimitIsConfigurable() throws {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(throws: JSONError.self) { try JSONParser().parse(deep) }
        _ = try JSONParser(maxDepth: 1000).parse(deep)
    }

    @Test func keyOrderAndPrettyOutput() throws {
        let v = try JSONParser().parse(#"{"z":1,"a":[true,null,"\u0001é"],"m":{}}"#)
        #expect(v.objectValue?.keys == ["z", "a", "m"])
        #expect(JSONSerializer.compact.string(from: v) == #"{"z":1,"a":[true,null,"\u0001é"],"m":{}}"#)
        #expect(JSONSerializer.pretty.string(from: v) == """
            {
              "z": 1,
              "a": [
                true,
                null,
                "\\u0001é"
              ],
              "m": {}
            }
            """)
        // Equality ignores member order; order survives a round trip.
        #expect(try JSONParser().parse(#"{"a":1,"z":1}"#) == JSONParser().parse(#"{"z":1,"a":1.0}"#))
    }

    @Test func escapesDecodeToTheRightCharacters() throws {
        #expect(try JSONParser().parse(#""\u0041\u00e9\u4e2d\uD83D\uDE00\n""#) == .string("Aé中😀\n"))
        #expect(try JSONParser().parse(#""x\u0000y""#).stringValue?.unicodeScalars.count == 3)
    }

    @Test func stringsCompareByCodePoint() throws {
        #expect(JSONValue.string("\u{e9}") != .string("e\u{301}"))
    }
}

/// Mutated documents (deterministic PRNG): every one either parses or throws a `JSONError`
/// whose position lies inside the input — never a crash.
@Suite struct JSONParserRobustnessTests {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func mutatedDocumentsNeverCrash() {
        let seed = Array(#"{"a": [1, -2.5e+3, true, null, "x\u00e9\ud83d\ude00"], "b": {"c": "d\n"}, "n": 12345678901234567890}"#.utf8)
        var rng = SplitMix(state: 42)
        var parsed = 0
        for _ in 0..<5000 {
            var doc = seed
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(doc.count))
                switch rng.next() % 3 {
                case 0: doc[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: doc.remove(at: i)
                default: doc.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                }
            }
            do {
                let v = try JSONParser().parse(doc)
                parsed += 1
                // Whatever parses must survive a round trip.
                #expect(try JSONParser().parse(JSONSerializer.compact.string(from: v)) == v)
            } catch {
                #expect(error.offset <= doc.count && error.line >= 1 && error.column >= 1)
            }
        }
        #expect(parsed > 0)
    }
}
