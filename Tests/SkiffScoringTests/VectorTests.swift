import Foundation
import SkiffJSON
import SkiffScoring
import Testing

/// Every record of the shared metric vectors, reproduced by the matching profile.
@Suite("reference-tool vectors")
struct VectorTests {
    static var records: [[String: Any]] { (try? Fixture.jsonLines("vectors.jsonl")) ?? [] }

    static func cases(_ tool: String) -> [String] {
        records.filter { $0["tool"] as? String == tool }.compactMap { $0["id"] as? String }
    }

    static func record(_ id: String, _ tool: String) throws -> [String: Any] {
        try #require(records.first { $0["id"] as? String == id && $0["tool"] as? String == tool })
    }

    static func texts(_ r: [String: Any]) throws -> (String, String) {
        (try #require(r["reference"] as? String), try #require(r["hypothesis"] as? String))
    }

    /// The vectors write non-finite rates as strings.
    static func rate(_ value: Any?) -> Double? {
        if let s = value as? String { return s == "Infinity" ? .infinity : .nan }
        return (value as? NSNumber)?.doubleValue
    }

    @Test func allThirtyTwoRecordsPresent() {
        #expect(Self.records.count == 32)
        #expect(Self.cases("dinglehopper-api").count == 8)
    }

    @Test(arguments: cases("dinglehopper-api"))
    func dinglehopperAPI(id: String) throws {
        let r = try Self.record(id, "dinglehopper-api")
        let (ref, hyp) = try Self.texts(r)
        let (score, alignment) = TextScorer(profile: .nfc).scoreWithAlignment(reference: ref, hypothesis: hyp)
        #expect(score.characters.referenceUnits == r["n_characters"] as? Int)
        #expect(score.characters.errors == r["char_distance"] as? Int)
        #expect(score.words.referenceUnits == r["n_words"] as? Int)
        #expect(score.words.errors == r["word_distance"] as? Int)
        #expect(score.cer == Self.rate(r["cer"]))
        #expect(score.wer == Self.rate(r["wer"]))
        #expect(alignment.words.reference == r["ref_words"] as? [String])
        #expect(alignment.words.hypothesis == r["hyp_words"] as? [String])
    }

    @Test(arguments: cases("dinglehopper-cli"))
    func dinglehopperCLI(id: String) throws {
        let r = try Self.record(id, "dinglehopper-cli")
        let (ref, hyp) = try Self.texts(r)
        let (score, alignment) = TextScorer(profile: .nfcLigatures).scoreWithAlignment(reference: ref, hypothesis: hyp)
        #expect(score.characters.referenceUnits == r["n_characters"] as? Int)
        #expect(score.words.referenceUnits == r["n_words"] as? Int)
        #expect(score.cer == Self.rate(r["cer"]))
        #expect(score.wer == Self.rate(r["wer"]))
        // The tool's "GT :: OCR" difference tables, character and word level.
        let differences = try #require(r["differences"] as? [String: [String: Int]])
        #expect(Confusions.pairs(alignment.characters, alignment.characterOperations) == differences["character_level"])
        #expect(Confusions.pairs(alignment.words, alignment.wordOperations) == differences["word_level"])
    }

    @Test(arguments: cases("jiwer"))
    func jiwer(id: String) throws {
        let r = try Self.record(id, "jiwer")
        let (ref, hyp) = try Self.texts(r)
        let (score, alignment) = TextScorer(profile: .jiwer).scoreWithAlignment(reference: ref, hypothesis: hyp)
        #expect(score.cer == Self.rate(r["cer"]))
        #expect(score.wer == Self.rate(r["wer"]))
        let w = score.words
        #expect([w.hits, w.substitutions, w.deletions, w.insertions]
            == ["word_hits", "word_substitutions", "word_deletions", "word_insertions"].map { r[$0] as? Int ?? -1 })
        let c = score.characters
        #expect([c.hits, c.substitutions, c.deletions, c.insertions]
            == ["char_hits", "char_substitutions", "char_deletions", "char_insertions"].map { r[$0] as? Int ?? -1 })
        #expect(alignment.words.reference == r["ref_words"] as? [String])
        #expect(alignment.words.hypothesis == r["hyp_words"] as? [String])
        let extra = JiwerMeasures(w)
        #expect(abs(extra.mer - (Self.rate(r["mer"]) ?? -1)) < 1e-12)
        #expect(abs(extra.wil - (Self.rate(r["wil"]) ?? -1)) < 1e-12)
        #expect(abs(extra.wip - (Self.rate(r["wip"]) ?? -1)) < 1e-12)
    }

    @Test(arguments: cases("ocreval"))
    func ocreval(id: String) throws {
        let r = try Self.record(id, "ocreval")
        let (ref, hyp) = try Self.texts(r)
        let (score, alignment) = TextScorer(profile: .isri).scoreWithAlignment(reference: ref, hypothesis: hyp)
        let c = score.characters
        #expect(c.referenceUnits == r["characters"] as? Int)
        #expect(c.errors == r["errors"] as? Int)
        // ISRI names them the other way round: its insertions are our deletions.
        #expect(c.deletions == r["isri_ins"] as? Int)
        #expect(c.insertions == r["isri_del"] as? Int)
        #expect(c.substitutions == r["isri_subst"] as? Int)
        #expect(score.words.referenceUnits == r["words"] as? Int)
        #expect(score.words.errors == r["misrecognized"] as? Int)
        // The vectors derived these rates as 1 - accuracy, so the last bit may differ.
        if let cer = Self.rate(r["cer"]) { #expect(abs(score.cer - cer) < 1e-12) } else { #expect(c.referenceUnits == 0 && score.cer == 0) }
        if let wer = Self.rate(r["wer"]) { #expect(abs(score.wer - wer) < 1e-12) }
        if let pct = (r["accuracy_pct"] as? NSNumber)?.doubleValue {
            #expect(abs(ISRIReport.accuracyPercent(c) - pct) < 0.006)
        }
        let expected = try #require(r["confusions"] as? [[String: Any]]).map {
            ISRIConfusion(key: $0["key"] as? String ?? "", errors: $0["errors"] as? Int ?? -1)
        }
        #expect(Confusions.isriRuns(alignment.characters, alignment.characterOperations) == expected)
    }
}

@Suite("Donut field vectors")
struct KIEVectorTests {
    static var records: [[String: Any]] { (try? Fixture.jsonLines("kie-vectors.jsonl")) ?? [] }

    @Test func allThreeRecordsPresent() { #expect(Self.records.count == 3) }

    @Test(arguments: records.compactMap { $0["id"] as? String })
    func donut(id: String) throws {
        let r = try #require(Self.records.first { $0["id"] as? String == id })
        func json(_ key: String) throws -> JSONValue {
            let data = try JSONSerialization.data(withJSONObject: try #require(r[key]))
            return try JSONValue.parse(Array(data), path: key)
        }
        let score = FieldScorer().score(reference: try json("reference"), hypothesis: try json("hypothesis"))
        let f1 = try #require((r["f1"] as? NSNumber)?.doubleValue)
        let ted = try #require((r["ted_accuracy"] as? NSNumber)?.doubleValue)
        #expect(abs((score.overall.f1 ?? -1) - f1) < 1e-9)
        #expect(abs((score.treeEditDistanceAccuracy ?? -1) - ted) < 1e-9)
        #expect(score.overall.truePositives == r["derived_tp"] as? Int)
        #expect(score.overall.falsePositives == r["derived_fp"] as? Int)
        #expect(score.overall.falseNegatives == r["derived_fn"] as? Int)
    }
}
