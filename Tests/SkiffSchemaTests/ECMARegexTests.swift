import SkiffSchema
import Testing

@Suite struct ECMARegexTests {
    func m(_ p: String, _ s: String) throws -> Bool { try ECMARegex(p).firstMatch(in: s) }

    @Test func ecmascriptSemantics() throws {
        #expect(try m("^abc$", "abc"))
        #expect(try !m("^abc$", "abc\n"))  // $ does not match before a trailing newline
        #expect(try m("b", "abc"))  // not anchored
        #expect(try m(#"^\d+$"#, "123") && !(try m(#"^\d+$"#, "١٢٣")))
        #expect(try m(#"^\w$"#, "_") && !(try m(#"^\w$"#, "é")))
        #expect(try m(#"^\s$"#, "\u{FEFF}") && (try m(#"^\s$"#, "\u{2003}")))
        #expect(try m(#"^\cC$"#, "\u{03}"))
        #expect(try m(#"^\p{Letter}+$"#, "éΩж") && !(try m(#"^\p{L}$"#, "1")))
        #expect(try m("^🐲*$", "🐲🐲") && !(try m("^.$", "")))
        #expect(try m("^.$", "🐲"))  // code points, not UTF-16 units
        #expect(try m("^(a|ab)(c|bcd)(d*)$", "abcd"))
        #expect(try m(#"^(\w+)-\1$"#, "ab-ab") && !(try m(#"^(\w+)-\1$"#, "ab-ac")))
        #expect(try m(#"^(?<y>\d{4})-\k<y>$"#, "2024-2024"))
        #expect(try m("^(?=.*\\d)(?!.*x).{3,}$", "ab1") && !(try m("^(?=.*\\d)(?!.*x).{3,}$", "ax1")))
        #expect(try m("(?<=\\$)\\d+", "cost $42") && !(try m("(?<!\\$)\\b\\d+", "$42")))
        #expect(try m("^a{2,3}$", "aaa") && !(try m("^a{2,3}$", "aaaa")))
        #expect(try m("^[^a-c]+$", "xyz") && !(try m("^[^a-c]+$", "xbz")))
        #expect(try m("^(a*)*$", "aaaa"))  // empty-loop guard
        #expect(try m("^a+?b$", "aaab"))
    }

    @Test func rejectsNonECMAScriptSyntax() {
        for p in [#"\a"#, "(", "a{2,1}", "[b-a]", "*a", #"\1(a)"# + "(", "(?<n>a)(?<n>b)", #"\p{Nope}"#, "a)", "]"] {
            #expect(throws: RegexError.self, "\(p)") { try ECMARegex(p) }
        }
    }

    @Test func catastrophicPatternHitsTheStepBudget() throws {
        // Lookaround needs the backtracking VM, whose budget stops the exponential search.
        let r = try ECMARegex("^(a+)+(?=c)")
        let input = String(repeating: "a", count: 40) + "!"
        #expect(throws: RegexError.stepLimitExceeded(100_000)) { try r.firstMatch(in: input, stepLimit: 100_000) }
        // Without lookaround or back-references the DFA answers in linear time.
        let linear = try ECMARegex("^(a+)+$")
        #expect(try !linear.firstMatch(in: String(repeating: "a", count: 5000) + "!", stepLimit: 100))
        #expect(try linear.firstMatch(in: String(repeating: "a", count: 5000), stepLimit: 100))
    }

    @Test func automatonAgreesWithBacktracking() throws {
        // Same patterns with and without a trailing no-op lookahead (which forces the VM).
        let patterns = ["^[a-z]+(?:-+[a-z]+)*-v\\d+$", "ab|cd", "^$", "x*", "a.c", "^\\d{2,4}$", "[^\\s]+@[^\\s]+", "é+ß", "(a|ab)(c|bcd)"]
        let inputs = ["", "abc", "block-name-v12", "a--b-v1", "xx", "a\nc", "12345", "1234", "me@x", "ééß", "abcd", "cd", "éß"]
        for p in patterns {
            let dfa = try ECMARegex(p)
            let vm = try ECMARegex("(?:" + p + ")(?=|)")
            for i in inputs {
                #expect(try dfa.firstMatch(in: i) == vm.firstMatch(in: i), "\(p) on \(i)")
            }
        }
    }

    @Test func parsedTreeIsInspectable() throws {
        let r = try ECMARegex("^[a-c]x?$")
        guard case .concat(let items) = r.root else {
            Issue.record("expected a concatenation, got \(r.root)")
            return
        }
        #expect(items.count == 4)
        #expect(items[0] == .start)
        #expect(items[2] == .quantified(.scalar(0x78), min: 0, max: 1, greedy: true))
    }
}
