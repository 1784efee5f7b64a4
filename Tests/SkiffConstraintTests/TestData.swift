import Foundation
import SkiffJSON

/// Paths to the shared data sets beside the repository (`../shared/data`); tests that need
/// them are skipped with a message when they are absent.
enum TestData {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    static let suite = shared.appendingPathComponent("json-schema-test-suite")
    static let bench = shared.appendingPathComponent("jsonschemabench-dev")

    static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

    static func load(_ url: URL) throws -> JSONValue {
        let data = try Data(contentsOf: url)
        return try JSONParser().parse(Array(data))
    }

    static func jsonFiles(in dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { dir.appendingPathComponent($0) }
    }
}

import SkiffConstraint
import SkiffModelFiles
import SkiffTokenizer

extension TestData {
    static let gguf = repoRoot.appendingPathComponent("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    static var hasModel: Bool { exists(gguf) }
    /// Slow corpus and generation runs: `SKIFF_SLOW_TESTS=1`.
    static var slow: Bool { ProcessInfo.processInfo.environment["SKIFF_SLOW_TESTS"] == "1" }

    /// SmolLM2's tokenizer and the mask vocabulary built from it, loaded once.
    static let smol: (BPETokenizer, TokenVocabulary)? = {
        guard let f = try? GGUFFile(path: gguf.path), let t = try? BPETokenizer(gguf: f) else { return nil }
        return (t, TokenVocabulary(tokenizer: t))
    }()

    /// One token per byte value, plus an end-of-sequence token (id 256): masks over it are byte sets.
    static let byteVocabulary = TokenVocabulary(tokenBytes: (0..<256).map { [UInt8($0)] } + [[]], eos: 256)
}
