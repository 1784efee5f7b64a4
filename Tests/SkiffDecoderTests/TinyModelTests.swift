import Foundation
import Testing
@testable import SkiffDecoder

/// One entry of tiny/reference.json (written with the models by tools/make_tiny_models.py).
struct TinyReference: Decodable {
    var prompt: [Int]
    var logits: [Float]
    var greedy: [Int]
}

func tinyReferences() throws -> [String: TinyReference] {
    try JSONDecoder().decode([String: TinyReference].self, from: Data(contentsOf: fixtureURL("tiny/reference.json")))
}

/// Quantized weights: Skiff also quantizes the activations (as llama.cpp does), so the
/// logits are checked against the reference (which uses the dequantized weights) within 5 %
/// of the logit scale, and for the same top token.
func expectQuantizedClose(_ logits: [Float], to reference: TinyReference, _ name: String) {
    let maxDiff = zip(logits, reference.logits).map { abs($0 - $1) }.max() ?? .infinity
    let scale = reference.logits.map(abs).max() ?? 1
    #expect(maxDiff < 0.05 * scale, "\(name): max |Δlogit| = \(maxDiff) (logit scale \(scale))")
    #expect(Sampler.argmax(logits) == Sampler.argmax(reference.logits))
}

@Suite("Tiny random models against a numpy reference")
struct TinyModelTests {
    /// F32/F16/BF16 weights: the products run in F32, so logits agree closely.
    @Test(arguments: ["qwen2", "llama", "mistral", "qwen2.gguf", "llama.gguf", "mistral.gguf"])
    func matchesReference(name: String) throws {
        let reference = try #require(try tinyReferences()[name])
        let model = try LlamaModel(path: try fixtureURL("tiny/" + name).path)
        let session = DecoderSession(model: model, capacity: 32, threads: 2)
        let (tokens, logits) = try greedyTokens(session, prompt: reference.prompt, steps: reference.greedy.count)
        let maxDiff = zip(logits, reference.logits).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDiff < 1e-3, "\(name): max |Δlogit| = \(maxDiff)")
        #expect(tokens == reference.greedy)
    }

    /// Quantized weights: the tolerance is wider (`expectQuantizedClose`).
    @Test(arguments: ["llama-q4_0.gguf", "llama-q8_0.gguf"])
    func quantizedMatchesReference(name: String) throws {
        let reference = try #require(try tinyReferences()[name])
        let model = try LlamaModel(path: try fixtureURL("tiny/" + name).path)
        let session = DecoderSession(model: model, capacity: 32, threads: 2)
        let (_, logits) = try greedyTokens(session, prompt: reference.prompt, steps: 1)
        expectQuantizedClose(logits, to: reference, name)
    }

    @Test func readsHyperParameters() throws {
        let qwen = try LlamaModel(path: try fixtureURL("tiny/qwen2").path)
        #expect(qwen.config.attentionBias && qwen.config.tiedEmbeddings && qwen.config.ropeStyle == .neox)
        #expect(qwen.config.kvHeadCount == 2 && qwen.config.headCount == 4 && qwen.config.ropeBase == 1e6)
        let llamaGGUF = try LlamaModel(path: try fixtureURL("tiny/llama.gguf").path)
        #expect(llamaGGUF.config.ropeStyle == .normal && !llamaGGUF.config.tiedEmbeddings)
        let mistral = try LlamaModel(path: try fixtureURL("tiny/mistral").path)
        #expect(mistral.config.headDim == 16 && mistral.config.kvHeadCount == 1 && mistral.config.layerCount == 3)
    }
}
