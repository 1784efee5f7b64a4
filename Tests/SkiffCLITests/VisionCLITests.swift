import Foundation
import Testing

/// `skiff extract --engine vision` and `skiff generate --image` on the tiny published-layout
/// models of tools/make_vision_fixtures.py (random weights: the content is noise, the JSON valid).
@Suite("skiff with a vision-language model", .serialized)
struct VisionCLITests {
    static let model = "Tests/SkiffVisionTests/Fixtures/h2ovl-llama"

    @Test func extractWithTheVisionEngineWritesValidJSON() throws {
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: out) }
        let run = try skiff(["extract", "--engine", "vision", "--model", Self.model, "--quiet", "--out", out.path,
                             "samples/receipt-004.jpg"])
        #expect(run.status == 0, "\(run.stderr)")
        let document = out.appendingPathComponent("receipt-004.json").path
        let check = try skiff(["schema", "validate", "schemas/receipt.json", document])
        #expect(check.status == 0, "\(check.stdout)")
        let provenance = try String(contentsOf: out.appendingPathComponent("receipt-004.provenance.json"), encoding: .utf8)
        #expect(provenance.contains(#""engine": "vision (h2ovl-llama)""#))
    }

    @Test func extractFallsBackToTesseractWithoutAModel() throws {
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: out) }
        let run = try skiff(["extract", "--engine", "vision", "--model", "/nonexistent/model", "--quiet", "--out", out.path,
                             "samples/receipt-007.jpg"])
        #expect(run.status == 0)
        #expect(run.stderr.contains("no vision-language model at /nonexistent/model; using tesseract"))
        let provenance = try String(contentsOf: out.appendingPathComponent("receipt-007.provenance.json"), encoding: .utf8)
        #expect(provenance.contains("tesseract+rules (fallback: no vision-language model installed)"))
        let check = try skiff(["schema", "validate", "schemas/receipt.json", out.appendingPathComponent("receipt-007.json").path])
        #expect(check.status == 0)
    }

    @Test func generateAboutAnImagePrintsTextAndTokens() throws {
        let run = try skiff(["generate", "--model", Self.model, "--image", "samples/receipt-004.jpg", "--prompt", "Total?",
                             "--greedy", "--max-tokens", "6", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        let tokens = try #require(object?["tokens"] as? [Int])
        #expect(!tokens.isEmpty && tokens.count <= 6)
        #expect(object?["text"] is String)
        #expect(run.stderr.contains("3 tiles encoded"))
        // Not a vision model: a clear error.
        let bad = try skiff(["generate", "--model", "samples", "--image", "samples/receipt-004.jpg", "--prompt", "x"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("vision_config") || bad.stderr.contains("config.json"))
    }
}
