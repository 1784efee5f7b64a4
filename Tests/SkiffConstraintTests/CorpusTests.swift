import Foundation
import SkiffConstraint
import SkiffJSON
import SkiffSchema
import Testing

/// The engine against the corpora: MaskBench on jsonschemabench-dev (every valid instance's
/// token stream allowed and completable, every invalid one rejected) and the
/// JSON-Schema-Test-Suite used as a generator. A quick sample by default; everything with
/// SKIFF_SLOW_TESTS=1.
@Suite struct CorpusTests {
    @Test(.enabled(if: TestData.exists(TestData.bench) && TestData.hasModel))
    func maskBenchNoValidationOrInvalidationErrors() throws {
        guard let (tokenizer, vocab) = TestData.smol else { return }
        var files: [(String, URL)] = []
        for sub in try FileManager.default.contentsOfDirectory(atPath: TestData.bench.path).sorted() {
            let dir = TestData.bench.appendingPathComponent(sub)
            let list = TestData.jsonFiles(in: dir)
            for f in TestData.slow ? list : Array(list.prefix(2)) { files.append((sub + "/" + f.lastPathComponent, f)) }
        }
        var passing = 0, compileErrors = 0, vErr = 0, iErr = 0, mismatches = 0
        for (name, url) in files {
            let r = MaskBench.run(file: name, document: try TestData.load(url), tokenizer: tokenizer, vocabulary: vocab, timeMasks: false)
            if r.passing { passing += 1 }
            if r.compileError != nil { compileErrors += 1 }
            vErr += r.validationErrors
            iErr += r.invalidationErrors
            mismatches += r.maskMismatches
            if r.validationErrors + r.invalidationErrors + r.maskMismatches > 0 { print("FAIL \(name)") }
        }
        print("[maskbench] \(files.count) schemas: passing \(passing), compile errors \(compileErrors), validation errors \(vErr), invalidation errors \(iErr), mask mismatches \(mismatches)")
        #expect(vErr == 0)
        #expect(iErr == 0)
        #expect(mismatches == 0)
        if TestData.slow { #expect(passing >= 251) }
    }

    /// Valid instances must be producible (their compact serialisation accepted byte by byte,
    /// the document complete) and invalid ones unreachable. A schema the engine refuses counts
    /// every one of its tests as a disagreement.
    @Test(.enabled(if: TestData.exists(TestData.suite)))
    func testSuiteAsGenerator() throws {
        var registry = SchemaRegistry()
        try registry.addDirectory(TestData.suite.appendingPathComponent("remotes").path, baseURI: "http://localhost:1234/")
        let dir = TestData.suite.appendingPathComponent("tests/draft2020-12")
        var agree = 0, total = 0
        var options = ConstraintOptions()
        options.propertyOrder = .any
        for file in TestData.jsonFiles(in: dir) {
            guard case .array(let cases) = try TestData.load(file) else { continue }
            var fileAgree = 0, fileTotal = 0
            for c in cases {
                guard let sv = c["schema"], let tests = c["tests"]?.arrayValue else { continue }
                let grammar: Grammar? = {
                    guard let s = try? JSONSchema(sv, registry: registry) else { return nil }
                    return try? Grammar(schema: s, options: options)
                }()
                for t in tests {
                    guard let data = t["data"], let valid = t["valid"]?.boolValue else { continue }
                    fileTotal += 1
                    guard let grammar, let m = try? ConstraintMatcher(grammar: grammar, vocabulary: TestData.byteVocabulary) else { continue }
                    let accepted = m.consume(bytes: JSONSerializer.compact.data(from: data)) && m.isAccepting
                    if accepted == valid { fileAgree += 1 }
                }
            }
            print("[suite] \(file.deletingPathExtension().lastPathComponent): \(fileAgree)/\(fileTotal)")
            agree += fileAgree
            total += fileTotal
        }
        let pct = Double(agree) * 100 / Double(max(total, 1))
        print(String(format: "[suite] draft2020-12 as a generator: %d/%d tests agree (%.1f%%; llguidance 49%%)", agree, total, pct))
        #expect(pct >= 75)
    }
}
