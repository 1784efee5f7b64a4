import Foundation
import SkiffJSON
@testable import SkiffScoring
import Testing

@Suite("UAX #29 words")
struct WordSegmenterTests {
    struct Case: Decodable {
        var text: String
        var words: [String]
    }

    struct File: Decodable {
        var cases: [Case]
    }

    /// uniseg's segmentation of all 1,823 lines of Unicode's WordBreakTest.txt and some OCR-like strings.
    @Test func matchesUnisegOnWordBreakTest() throws {
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: Fixture.url("uniseg-words.json")))
        #expect(file.cases.count > 1800)
        var failures: [String] = []
        for c in file.cases {
            let got = WordSegmenter().segments(c.text).map(String.init)
            // Compare code points: Swift's String == would hide canonical differences.
            if got.map({ Array($0.unicodeScalars) }) != c.words.map({ Array($0.unicodeScalars) }) {
                failures.append("\(c.text.unicodeScalars.map { String($0.value, radix: 16) }): \(got) vs \(c.words)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) differ, first: \(failures.prefix(5))")
    }

    @Test func dropsPunctuationOnlyTokens() {
        #expect(WordSegmenter().words("TOTAL (RM) : 9.00 — 12,345.67!").map(String.init) == ["TOTAL", "RM", "9.00", "12,345.67"])
    }
}

@Suite("edit distance")
struct EditDistanceTests {
    /// The textbook O(n·m) recurrence, as an independent check.
    static func reference(_ a: [Int32], _ b: [Int32]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let t = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = t
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    /// D[i][b.count] for i = 0…a.count, by the same recurrence.
    static func referenceLastColumn(_ a: [Int32], _ b: [Int32]) -> [Int] {
        var row = Array(0...b.count)
        var column = [row[b.count]]
        for i in stride(from: 1, through: a.count, by: 1) {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let t = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = t
            }
            column.append(row[b.count])
        }
        return column
    }

    @Test func multiBlockDistanceAndAlignmentAgreeWithTheRecurrence() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<60 {
            let n = [0, 1, 5, 63, 64, 65, 130, 300][trial % 8]
            let alphabet = Int32([2, 4, 30][trial % 3])
            let a = (0..<n).map { _ in Int32.random(in: 0..<alphabet, using: &rng) }
            // The hypothesis: the reference with random edits, sometimes unrelated.
            var b = a
            for _ in 0..<Int.random(in: 0...max(1, n / 3), using: &rng) {
                let p = Int.random(in: 0...b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b.insert(Int32.random(in: 0..<alphabet, using: &rng), at: p)
                case 1 where p < b.count: b.remove(at: p)
                default: if p < b.count { b[p] = Int32.random(in: 0..<alphabet, using: &rng) }
                }
            }
            if trial % 7 == 0 { b = (0..<Int.random(in: 0...200, using: &rng)).map { _ in Int32.random(in: 0..<alphabet, using: &rng) } }
            let expected = Self.reference(a, b)
            #expect(EditDistance.distance(a, b) == expected)
            #expect(EditDistance.distance(b, a) == expected)
            // Direct traceback, and Hirschberg splitting down to tiny pieces.
            let ops = EditDistance.align(a, b)
            #expect(ops.filter { $0 != .hit }.count == expected)
            let split = EditDistance.align(a, b, historyLimit: 8)
            #expect(split.filter { $0 != .hit }.count == expected)
            var table: [EditOperation] = []
            EditDistance.tableAlign(a[...], b[...], into: &table)
            #expect(table.filter { $0 != .hit }.count == expected)
            // The alignment must spell both sequences.
            var i = 0, j = 0
            for op in ops {
                switch op {
                case .hit: #expect(a[i] == b[j]); i += 1; j += 1
                case .substitution: #expect(a[i] != b[j]); i += 1; j += 1
                case .deletion: i += 1
                case .insertion: j += 1
                }
            }
            #expect(i == a.count && j == b.count)
        }
    }

    /// Random pairs: a reference, and a hypothesis made by random edits (or unrelated).
    static func randomPair(_ n: Int, alphabet: Int32, edits: Int, unrelated: Bool,
                           using rng: inout some RandomNumberGenerator) -> ([Int32], [Int32])
    {
        let a = (0..<n).map { _ in Int32.random(in: 0..<alphabet, using: &rng) }
        if unrelated {
            return (a, (0..<Int.random(in: 0...(n + 50), using: &rng)).map { _ in Int32.random(in: 0..<alphabet, using: &rng) })
        }
        var b = a
        for _ in 0..<edits {
            let p = Int.random(in: 0...b.count, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: b.insert(Int32.random(in: 0..<alphabet, using: &rng), at: p)
            case 1 where p < b.count: b.remove(at: p)
            case 2 where p < b.count:
                // A burst: several tokens dropped or added together (shifts the diagonal).
                let len = min(b.count - p, Int.random(in: 1...80, using: &rng))
                if Bool.random(using: &rng) { b.removeSubrange(p..<(p + len)) } else {
                    b.insert(contentsOf: (0..<len).map { _ in Int32.random(in: 0..<alphabet, using: &rng) }, at: p)
                }
            default: if p < b.count { b[p] = Int32.random(in: 0..<alphabet, using: &rng) }
            }
        }
        return (a, b)
    }

    /// The banded alignment must give exactly the operations of the full-width one (same split
    /// points, same tie-breaks), and a valid optimal alignment, for direct traceback and for
    /// Hirschberg splits at several history limits.
    @Test func bandedAlignmentEqualsFullWidth() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<240 {
            let n = [0, 1, 2, 7, 63, 64, 65, 127, 128, 129, 200, 300, 700][trial % 13]
            let alphabet = Int32([2, 4, 30, 200][trial % 4])
            let edits = [0, 1, 3, max(1, n / 10), max(1, n / 3), n][trial % 6]
            let (a, b) = Self.randomPair(n, alphabet: alphabet, edits: edits, unrelated: trial % 11 == 0, using: &rng)
            let expected = Self.reference(a, b)
            for limit in [EditDistance.historyWords, 8, 64, 300] {
                let banded = EditDistance.align(a, b, historyLimit: limit)
                let full = EditDistance.fullWidthAlign(a, b, historyLimit: limit)
                #expect(banded == full, "n \(a.count) m \(b.count) limit \(limit)")
                #expect(banded.filter { $0 != .hit }.count == expected)
                let swapped = EditDistance.align(b, a, historyLimit: limit)
                #expect(swapped == EditDistance.fullWidthAlign(b, a, historyLimit: limit))
            }
        }
    }

    /// Long sequences (many blocks, several Hirschberg levels, a band far narrower than the pattern).
    @Test func bandedAlignmentEqualsFullWidthOnLongSequences() {
        var rng = SystemRandomNumberGenerator()
        for (n, alphabet, edits) in [(5000, Int32(60), 40), (6000, Int32(4), 900), (4000, Int32(90), 1500), (3000, Int32(2), 300)] {
            let (a, b) = Self.randomPair(n, alphabet: alphabet, edits: edits, unrelated: false, using: &rng)
            let expected = Self.reference(a, b)
            for limit in [EditDistance.historyWords, 20_000, 3_000] {
                let banded = EditDistance.align(a, b, historyLimit: limit)
                #expect(banded == EditDistance.fullWidthAlign(a, b, historyLimit: limit), "n \(n) limit \(limit)")
                #expect(banded.filter { $0 != .hit }.count == expected)
            }
        }
    }

    /// The band itself: exact once the bound covers the distance, an upper bound (a real
    /// alignment's cost) below it; last columns agree with the recurrence inside the band.
    @Test func bandedColumnsAreExactWhenTheBoundSuffices() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<200 {
            let n = [1, 5, 64, 65, 150, 260][trial % 6]
            let (a, b) = Self.randomPair(n, alphabet: Int32([3, 26][trial % 2]), edits: [1, n / 5 + 1, n][trial % 3],
                                         unrelated: trial % 9 == 0, using: &rng)
            guard !b.isEmpty else { continue }
            let d = Self.reference(a, b)
            for k in [abs(a.count - b.count), d / 2, d, d + 1, 2 * d + 5] where k >= abs(a.count - b.count) {
                let (lo, hi) = BandedBitParallel.band(n: a.count, m: b.count, bound: k)
                var scratch = SlotScratch(alphabet: 300)
                let run = BandedBitParallel.run(pattern: a[...], text: b[...], lo: lo, hi: hi, scratch: &scratch,
                                                keepHistory: Bool.random(using: &rng))
                if k >= d { #expect(run.score == d, "k \(k) d \(d)") } else { #expect(run.score >= d) }
                let column = run.lastColumn()
                let exact = Self.referenceLastColumn(a, b)
                for i in 0...a.count where column[i] != EditDistance.outside {
                    #expect(column[i] >= exact[i])
                }
                if k >= d { #expect(column[a.count] == d) }
            }
        }
    }

    @Test func longSequences() {
        let a = (0..<5000).map { Int32($0 % 97) }
        var b = a
        b.remove(at: 2500)
        b[10] = 1000
        b.insert(7, at: 4000)
        #expect(EditDistance.distance(a, b) == 3)
        let ops = EditDistance.align(a, b)
        #expect(ops.filter { $0 != .hit }.count == 3)
    }
}

@Suite("edge rules")
struct EdgeRuleTests {
    @Test(arguments: ScoringProfile.allCases)
    func bothEmptyIsZero(profile: ScoringProfile) {
        let s = TextScorer(profile: profile).score(reference: "", hypothesis: "")
        #expect(s.cer == 0 && s.wer == 0)
    }

    @Test func emptyReferenceWithOutputIsInfinite() throws {
        let s = TextScorer(profile: .nfc).score(reference: "", hypothesis: "abc d")
        #expect(s.cer == .infinity && s.characters.insertions == 5)
        #expect(s.wer == .infinity && s.words.insertions == 2)
        // jiwer's convention: the count itself.
        let j = TextScorer(profile: .jiwer).score(reference: "", hypothesis: "abc d")
        #expect(j.cer == 5 && j.wer == 2)
        // JSON never holds a bare Infinity.
        let json = try ScoreReport.encode(ScoreReport.Document(name: "x", score: s))
        #expect(json.contains("\"Infinity\""))
        #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
    }

    @Test func cerIsNotCapped() {
        #expect(TextScorer().score(reference: "a", hypothesis: "xyz").cer == 3)
    }

    @Test func noneKeepsCanonicalDifferencesNfcRemovesThem() {
        let decomposed = "A\u{30A}ngstro\u{308}m"
        let precomposed = "Ångström"
        #expect(TextScorer(profile: .none).score(reference: precomposed, hypothesis: decomposed).cer > 0)
        #expect(TextScorer(profile: .nfc).score(reference: precomposed, hypothesis: decomposed).cer == 0)
    }

    @Test func casefold() {
        #expect(TextScorer(profile: .casefold).score(reference: "TOTAL RM", hypothesis: "Total rm").cer == 0)
        #expect(TextScorer(profile: .nfc).score(reference: "TOTAL", hypothesis: "Total").characters.errors == 4)
    }

    @Test func orderInsensitiveFollowsReferenceLines() {
        let gt = "SHOP NAME\nTOTAL 9.00\nTHANK YOU"
        let ocr = "THANK YOU\nSHOP NAME\nTOTAL 9.0O"
        let plain = TextScorer().score(reference: gt, hypothesis: ocr)
        let bag = TextScorer(orderInsensitive: true).score(reference: gt, hypothesis: ocr)
        #expect(bag.characters.errors == 1)
        #expect(bag.words.errors == 1)
        #expect(plain.characters.errors > 10)
    }

    @Test func crlfAndTrailingNewlineInLigatureProfile() {
        let s = TextScorer(profile: .nfcLigatures).score(reference: "  ﬁne \r\nline\n", hypothesis: "fine\nline")
        #expect(s.cer == 0 && s.characters.referenceUnits == 9)
    }
}

@Suite("field scoring")
struct FieldScoringTests {
    func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8), path: "test") }

    @Test func normalisersMatchAmountsDatesSpacesAndCase() throws {
        let gt = try json(#"{"company": "BOOK TA .K  (TAMAN DAYA) SDN BHD", "date": "25/12/2018", "total": "RM 34.80"}"#)
        let out = try json(#"{"company": "Book Ta .K (Taman Daya) Sdn Bhd", "date": "25-12-18", "total": "34.8"}"#)
        #expect(FieldScorer().score(reference: gt, hypothesis: out).overall.truePositives == 0)
        let s = FieldScorer(normalizers: [.spaces, .case, .amount, .date]).score(reference: gt, hypothesis: out)
        #expect(s.overall.truePositives == 3 && s.overall.f1 == 1)
    }

    @Test(arguments: [("RM 4.95", "4.95"), ("1.234,56", "1234.56"), ("1,234.56", "1234.56"), ("$8.20", "8.20"),
                      ("9", "9.00"), ("RM7.70", "7.70"), ("-1.73", "-1.73"), ("12,5", "12.50"), ("1,234", "1234.00")])
    func amounts(text: String, expected: String) {
        #expect(FieldNormalizer.amount.apply(text) == expected)
    }

    @Test(arguments: [("25/12/2018", "2018-12-25"), ("18-11-18", "2018-11-18"), ("05 MAR 2018", "2018-03-05"),
                      ("24-MAR-2018", "2018-03-24"), ("02/JAN/2017", "2017-01-02"), ("2018-03-23", "2018-03-23"),
                      ("2018/02/22", "2018-02-22"), ("20180304", "2018-03-04"), ("25032018", "2018-03-25"),
                      ("5/3/2018", "2018-03-05"), ("28 MAR 18", "2018-03-28"), ("not a date", "not a date")])
    func dates(text: String, expected: String) {
        #expect(FieldNormalizer.date.apply(text) == expected)
    }

    @Test func pythonTruthinessAndNumbers() throws {
        // 0, "", null and [] are dropped by Donut's normalize_dict; 10.0 stays "10.0".
        let gt = try json(#"{"a": 0, "b": "", "c": null, "d": [], "e": 10.0, "f": {"g": ["x", 1]}}"#)
        let pairs = FieldScorer().normalize(gt).flattened()
        #expect(pairs == [FieldPair(key: "f.g", value: "x"), FieldPair(key: "f.g", value: "1"),
                          FieldPair(key: "e", value: "10.0")])
    }

    @Test func malformedJSONSaysWhere() {
        #expect(throws: ScoringError.malformed(path: "f.json", location: "2:9", reason: "invalid JSON: unexpected '\"' in an object, expected ',' or '}'")) {
            try JSONValue.parse(Array("{\"a\": 1,\n \"b\": 2 \"c\": 3}".utf8), path: "f.json")
        }
    }
}

@Suite("report JSON")
struct ReportJSONTests {
    static func randomText(_ rng: inout some RandomNumberGenerator) -> String {
        let pieces = ["TOTAL", "RM 4.95", " ", "\n", "\r\n", "\t", "\"", "\\", "/", "é", "e\u{301}", "—", "😀", "\u{1}",
                      "\u{1F}", "\u{7F}", "\u{8}", "\u{C}", "\r", "12,345.67", "ﬁ", "ß", "<b>", "&amp;", "", "\u{2028}"]
        return (0..<Int.random(in: 0...40, using: &rng)).map { _ in pieces.randomElement(using: &rng) ?? "" }.joined()
    }

    /// `ScoreReport.json` must give byte for byte what JSONEncoder gives (`ScoreReport.encode`).
    @Test func writerMatchesJSONEncoder() throws {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<60 {
            let profile = ScoringProfile.allCases[trial % ScoringProfile.allCases.count]
            let scorer = TextScorer(profile: profile, orderInsensitive: trial % 5 == 0)
            var documents: [DocumentResult] = []
            for k in 0..<Int.random(in: 0...4, using: &rng) {
                let reference = trial % 7 == 0 && k == 0 ? "" : Self.randomText(&rng)
                documents.append(DocumentResult.make(
                    name: "doc \(k) \"/\\" + Self.randomText(&rng), groundTruthPath: "/tmp/gt/\(k).txt",
                    outputPath: Bool.random(using: &rng) ? nil : "/tmp/ocr/\(k) é.txt", reference: reference,
                    hypothesis: Self.randomText(&rng), scorer: scorer, keepingAlignment: Bool.random(using: &rng)))
                let single = ScoreReport.Document(documents[documents.count - 1])
                #expect(ScoreReport.json(single) == (try ScoreReport.encode(single)))
            }
            let folder = ScoreReport.Folder(FolderResult(
                profile: profile, orderInsensitive: scorer.orderInsensitive, documents: documents,
                missing: trial % 3 == 0 ? [] : ["a", "b/c"], extra: trial % 4 == 0 ? ["x\ny"] : []))
            #expect(ScoreReport.json(folder) == (try ScoreReport.encode(folder)))
        }
    }

    @Test func numbersMatchJSONEncoder() throws {
        let values: [Double] = [0, 1, 2, 0.5, 1e-7, 1.0 / 3, 2.0 / 3, 1e15, 1e16, 1.5e16, 1e21, 123456, 5e-324,
                                .greatestFiniteMagnitude, .infinity, -.infinity, .nan, 0.1 + 0.2, 100, 12.5, -0.0]
        for v in values {
            let counts = ErrorCounts(referenceUnits: 3, hypothesisUnits: 4, hits: 1, substitutions: 1, deletions: 1,
                                     insertions: 2, errors: 4, rate: v)
            let score = TextScore(profile: .nfc, orderInsensitive: false, characters: counts, words: counts)
            let document = ScoreReport.Document(name: "n", score: score)
            #expect(ScoreReport.json(document) == (try ScoreReport.encode(document)), "\(v)")
        }
    }
}

@Suite("token ids")
struct TokenIDTests {
    /// Ids are dense, in order of first appearance, and equal exactly when the code points are.
    @Test func idsFollowExactCodePoints() {
        var rng = SystemRandomNumberGenerator()
        let pool = ["a", "b", "\r\n", "é", "e\u{301}", "€", "😀", "TOTAL", "TOTAL:", "total", "Å", "A\u{30A}", "ﬁ"]
            + (0..<3000).map { "w\($0)" } + (0..<600).map { String(Character(Unicode.Scalar(0x4E00 + $0)!)) }
        var ids = TokenIDs()
        var seen: [[UInt8]: Int32] = [:]
        for _ in 0..<20000 {
            let token = pool.randomElement(using: &rng) ?? ""
            let id = ids.id(token)
            let key = Array(token.utf8)
            if let known = seen[key] {
                #expect(id == known)
            } else {
                #expect(id == Int32(seen.count))
                seen[key] = id
            }
        }
        #expect(ids.count == Int32(seen.count))
    }
}
