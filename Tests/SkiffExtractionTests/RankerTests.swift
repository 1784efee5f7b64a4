import Foundation
import SkiffExtraction
import SkiffImage
import SkiffJSON
import SkiffSpanRanker
import Testing

/// SmolLM2 (the real GGUF from tools/setup.sh) ranking candidate spans.
@Suite("language-model ranking of candidate spans", .serialized)
struct RankerTests {
    static let modelPath = repository.appendingPathComponent(LanguageModelRanker.defaultModel).path
    static let lines = ["BOOK TA .K (TAMAN DAYA) SDN BHD", "NO.5: 55,57 & 59, JALAN SAGU 18,", "TAMAN DAYA,",
                        "81100 JOHOR BAHRU,", "JOHOR.", "DOCUMENT NO : TD01167104", "DATE: 25/12/2018 8:13:39 PM",
                        "TOTAL: 9.00"]

    /// Scored together (sharing cache prefixes as a trie) each value gets exactly the
    /// likelihood it gets alone. The model prefers the shop's name line to the total line as
    /// the company, and the engine's choice keeps the words' page, box and OCR confidence.
    /// (One test: loading the model and reading the prompt is most of its time.)
    @Test func trieScoresEqualScoresAloneAndRankedFieldsKeepTheirProvenance() throws {
        let ranker = try LanguageModelRanker(modelPath: Self.modelPath, threads: 2)
        let values = ["81100 JOHOR BAHRU", "NO.5: 55,57 & 59, JALAN SAGU 18, TAMAN DAYA,",
                      "NO.5: 55,57 & 59, JALAN SAGU 18,", "NO.5: 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU,"]
        let session = try ranker.session(lines: Self.lines)
        let together = try session.logLikelihoods(of: values, kind: .address, context: [(.company, "BOOK TA .K (TAMAN DAYA) SDN BHD")])
        for (value, score) in zip(values, together) {
            let alone = try session.logLikelihoods(of: [value], kind: .address, context: [(.company, "BOOK TA .K (TAMAN DAYA) SDN BHD")])
            #expect(abs(alone[0] - score) < 1e-3, "\(value): \(alone[0]) vs \(score)")
            #expect(score < 0 && score.isFinite)
        }
        let scores = try session.logLikelihoods(of: ["BOOK TA .K (TAMAN DAYA) SDN BHD", "TOTAL: 9.00"], kind: .company, context: [])
        #expect(scores[0] > scores[1], "\(scores)")

        let schema = try ExtractionSchema(contentsOf: repository.appendingPathComponent("schemas/receipt.json").path)
        let engine = RuleEngine(ranker: ranker, mode: .combined)
        let all = try engine.extractAll(ocr: [reading(Self.lines)], schema: schema, modes: RankingMode.allCases)
        #expect(Set(all.keys) == Set(RankingMode.allCases))
        for (mode, extraction) in all {
            #expect(try schema.validator.validate(extraction.document).errors.isEmpty, "\(mode) validates")
            let company = try #require(extraction.fields.first { $0.field.kind == .company })
            let source = try #require(company.source, "\(mode): company has a source")
            #expect(source.box.width > 0 && source.page == 0 && !source.words.isEmpty)
            #expect(company.confidence > 0 && company.confidence <= 1)
            if mode.usesRanker { #expect(company.rule?.contains("ranked by smollm2") == true, "\(company.rule ?? "")") }
        }
        #expect(all[.combined]?.document["company"]?.stringValue == "BOOK TA .K (TAMAN DAYA) SDN BHD")
    }
}
