import Foundation
import SkiffModelFiles
import Testing
@testable import SkiffTokenizer

/// The repository root (three levels above this file).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
/// Installed by tools/setup.sh.
let smolLMPath = repoRoot.appendingPathComponent("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path

func smolLMTokenizer() throws -> BPETokenizer {
    #expect(FileManager.default.fileExists(atPath: smolLMPath), "run tools/setup.sh to install the SmolLM2 GGUF")
    return try BPETokenizer(gguf: GGUFFile(path: smolLMPath))
}

/// One reference case: a string and the Hugging Face `tokenizers` ids for each pre-tokenizer.
struct ReferenceCase {
    var text: String
    var ids: [String: [Int]]
}

/// Reads the fixture written by tools/make_tokenizer_fixtures.py (gzip'd; see the script for the layout).
func referenceCases() throws -> [ReferenceCase] {
    let url = try #require(Bundle.module.url(forResource: "tokenizer_reference.bin", withExtension: "gz", subdirectory: "Fixtures"))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["gzip", "-dc", url.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let bytes = [UInt8](data)
    var at = 0
    func u32() throws -> Int {
        try #require(at + 4 <= bytes.count)
        defer { at += 4 }
        return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
    }
    try #require(Array(bytes.prefix(5)) == Array("SKTK1".utf8))
    at = 5
    let count = try u32()
    let preCount = Int(bytes[at])
    at += 1
    var names: [String] = []
    for _ in 0..<preCount {
        let n = Int(bytes[at])
        names.append(String(decoding: bytes[at + 1..<at + 1 + n], as: UTF8.self))
        at += 1 + n
    }
    var cases: [ReferenceCase] = []
    for _ in 0..<count {
        let n = try u32()
        let text = String(decoding: bytes[at..<at + n], as: UTF8.self)
        at += n
        var ids: [String: [Int]] = [:]
        for name in names {
            let m = try u32()
            ids[name] = (0..<m).map { Int(bytes[at + 2 * $0]) | Int(bytes[at + 2 * $0 + 1]) << 8 }
            at += 2 * m
        }
        cases.append(ReferenceCase(text: text, ids: ids))
    }
    return cases
}

@Suite("Byte-level BPE against Hugging Face tokenizers")
struct BPETokenizerTests {
    @Test("identical ids on >= 10,000 strings for each pre-tokenizer", arguments: PreTokenizer.allCases)
    func matchesReference(pre: PreTokenizer) throws {
        var tokenizer = try smolLMTokenizer()
        tokenizer.preTokenizer = pre
        let cases = try referenceCases()
        #expect(cases.count >= 10_000)
        var mismatches = 0
        for c in cases {
            let expected = try #require(c.ids[pre.rawValue])
            let got = tokenizer.encode(c.text)
            if got != expected {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(pre) \(c.text.debugDescription): got \(got.prefix(40)), expected \(expected.prefix(40))") }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func decodeRoundTrips() throws {
        let tokenizer = try smolLMTokenizer()
        for c in try referenceCases().prefix(3000) {
            #expect(tokenizer.decode(tokenizer.encode(c.text)) == c.text)
        }
    }

    @Test func readsGGUFMetadata() throws {
        let t = try smolLMTokenizer()
        #expect(t.vocabularySize == 49_152)
        #expect(t.preTokenizer == .smollm)
        #expect(t.bosToken == 1 && t.eosToken == 2)
        #expect(t.specialTokens["<|im_start|>"] == 1)
        #expect(t.stopTokens.contains(2))
        #expect(t.encode("<|im_end|>", parseSpecial: true) == [2])
        #expect(t.encode("<|im_end|>", parseSpecial: false).count > 1)
        #expect(t.encode("hi", addBOS: true).first == 1)
    }

    @Test func smolLMChatTemplate() throws {
        let t = try smolLMTokenizer()
        let template = ChatTemplate(jinja: t.chatTemplateSource)
        #expect(template == .chatML(defaultSystem: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        let text = template.render([ChatMessage(role: .user, content: "Total?")])
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nTotal?<|im_end|>\n<|im_start|>assistant\n")
        #expect(t.encode(text).first == 1)
        let withSystem = template.render([ChatMessage(role: .system, content: "S"), ChatMessage(role: .user, content: "U")])
        #expect(withSystem == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n")
        #expect(ChatTemplate(jinja: "{{ '<|prompt|>' + message['content'] + eos_token }}") == .danube)
        #expect(ChatTemplate.danube.render([ChatMessage(role: .user, content: "Hi")]) == "<|prompt|>Hi</s><|answer|>")
    }

    @Test func rejectsBadVocabularies() {
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: ["a", "b"], merges: [("a", "b")], preTokenizer: .gpt2, specialTokens: [:], bos: nil, eos: nil)
        }
    }
}

struct TokenizerJSONReference: Decodable {
    var cases: [String]
    var smollm: [[Int]]
    var gpt2: [[Int]]
    var llamaBPE: [[Int]]
    var qwen2: [[Int]]
    enum CodingKeys: String, CodingKey { case cases, smollm, gpt2, llamaBPE = "llama-bpe", qwen2 }
}

@Suite("tokenizer.json files written by Hugging Face tokenizers")
struct TokenizerJSONTests {
    @Test(arguments: PreTokenizer.allCases)
    func loadsAndMatches(pre: PreTokenizer) throws {
        let folder = try #require(Bundle.module.url(forResource: "tokenizer_json", withExtension: nil, subdirectory: "Fixtures"))
        let reference = try JSONDecoder().decode(TokenizerJSONReference.self, from: Data(contentsOf: folder.appendingPathComponent("reference.json")))
        let tokenizer = try BPETokenizer(tokenizerJSON: folder.appendingPathComponent(pre.rawValue + ".json").path)
        #expect(tokenizer.preTokenizer == pre, "pre-tokenizer detected from the JSON")
        #expect(tokenizer.specialTokens["<|im_end|>"] != nil)
        let expected = switch pre {
        case .smollm: reference.smollm
        case .gpt2: reference.gpt2
        case .llamaBPE: reference.llamaBPE
        case .qwen2: reference.qwen2
        }
        var mismatches = 0
        for (text, ids) in zip(reference.cases, expected) where tokenizer.encode(text) != ids {
            mismatches += 1
            if mismatches <= 3 { Issue.record("\(pre) \(text.debugDescription)") }
        }
        #expect(mismatches == 0 && reference.cases.count == 500)
    }

    @Test func rejectsUnsupportedFiles() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wordpiece-\(UUID().uuidString).json")
        try Data(#"{"model": {"type": "WordPiece", "vocab": {"a": 0}}}"#.utf8).write(to: url)
        #expect(throws: TokenizerError.unsupportedModel("WordPiece", source: url.path)) { try BPETokenizer(tokenizerJSON: url.path) }
        #expect(throws: TokenizerError.self) { try BPETokenizer(tokenizerJSON: "/nonexistent/tokenizer.json") }
        // A byte-fallback model with a normalizer Skiff does not know is refused, not tokenized wrongly.
        try Data(#"{"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "NFKC"}}"#.utf8).write(to: url)
        #expect(throws: TokenizerError.self) { try BPETokenizer(tokenizerJSON: url.path) }
        // The Metaspace (SentencePiece) layout loads.
        try Data(#"{"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0, "\u2581": 1}, "merges": []}, "pre_tokenizer": {"type": "Metaspace", "prepend_scheme": "first", "split": false}}"#.utf8).write(to: url)
        #expect(try BPETokenizer(tokenizerJSON: url.path).encode("a") == [1, 0])
    }
}
