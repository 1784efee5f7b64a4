import Foundation
import Testing

@Suite("skiff generate, end to end")
struct GenerateCommandTests {
    @Test func greedyJSONMatchesLlamaCpp() throws {
        let run = try skiff(["generate", "--prompt", "The quick brown fox", "--greedy", "--max-tokens", "8", "--json", "--threads", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        // llama.cpp's first 8 greedy tokens for this prompt (Tests/SkiffDecoderTests/Fixtures/smollm2_greedy.json).
        #expect(object["tokens"] as? [Int] == [351, 253, 2365, 6354, 7012, 30, 198, 198])
        #expect((object["text"] as? String)?.hasPrefix(" with a quick brown bear.") == true)
        #expect(run.stderr.contains("tok/s"))
    }

    @Test func chatStopsAndBadUsageFails() throws {
        let chat = try skiff(["generate", "--chat", "What's 2+2? Answer with a number only.", "--greedy", "--max-tokens", "40"])
        #expect(chat.status == 0)
        #expect(chat.stdout.contains("4"))
        let both = try skiff(["generate", "--prompt", "a", "--chat", "b"])
        #expect(both.status != 0)
        let missing = try skiff(["generate", "--model", "/nonexistent.gguf", "--prompt", "a"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent.gguf"))
    }
}
