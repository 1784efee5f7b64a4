import CSkiffKernels
import Foundation
import Testing
@testable import SkiffDecoder

/// The one-call decoding step (`skiff_decode_token`) runs the per-operation path's
/// kernels in the same order, so it must give the same logits bit for bit, whichever
/// thread takes which unit.
@Suite("Fused decoding step")
struct FusedStepTests {
    /// Greedy steps through a fused and a per-operation session side by side; every
    /// step's logits must be identical.
    func compare(_ model: LlamaModel, prompt: [Int], steps: Int, threads: Int) throws {
        let fused = DecoderSession(model: model, capacity: prompt.count + steps + 1, threads: threads)
        let plain = DecoderSession(model: model, capacity: prompt.count + steps + 1, threads: threads)
        plain.disableFusedStep()
        #expect(fused.usesFusedStep && !plain.usesFusedStep)
        var a = try fused.prefill([.tokens(prompt)])
        var b = try plain.prefill([.tokens(prompt)])
        #expect(a == b)
        for step in 0..<steps {
            let token = try #require(Sampler.argmax(a))
            a = try fused.step(token)
            b = try plain.step(token)
            let maxDiff = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(a == b, "step \(step): max |Δlogit| = \(maxDiff)")
            if a != b { return }
        }
    }

    @Test(arguments: [1, 2, 3])
    func smolLMStepsAreBitIdentical(threads: Int) throws {
        let model = try smolLM.get()
        let prompt = Array(try greedyFixture().cases[3].prompt.prefix(40))
        // 40 steps: past 32 positions, so attention spans two blocks of the padded cache.
        try compare(model, prompt: prompt, steps: 40, threads: threads)
    }

    /// Q4_0 (not repacked), Q8_0 (repacked), and Qwen2's biases with NeoX RoPE and tied embeddings.
    @Test(arguments: ["llama-q4_0.gguf", "llama-q8_0.gguf", "qwen2-q8_0.gguf"])
    func tinyQuantizedStepsAreBitIdentical(name: String) throws {
        let model = try LlamaModel(path: try fixtureURL("tiny/" + name).path)
        let reference = try #require(try tinyReferences()[name])
        try compare(model, prompt: reference.prompt, steps: 12, threads: 2)
    }

    /// The tiny Qwen2 in Q8_0 also stays close to the float64 reference through the fused path.
    @Test func quantizedQwen2MatchesReference() throws {
        let name = "qwen2-q8_0.gguf"
        let reference = try #require(try tinyReferences()[name])
        let model = try LlamaModel(path: try fixtureURL("tiny/" + name).path)
        #expect(model.config.attentionBias && model.config.tiedEmbeddings)
        let session = DecoderSession(model: model, capacity: 32, threads: 2)
        #expect(session.usesFusedStep)
        var logits = try session.prefill([.tokens(Array(reference.prompt.dropLast()))])
        logits = try session.step(try #require(reference.prompt.last))  // the last prompt token through the fused step
        expectQuantizedClose(logits, to: reference, name)
    }

    /// Q, K and V are claimed a head at a time, so with 8-dimensional heads they stay out of
    /// the sixteen-row layout while the other matrices take it, and the fused step still runs
    /// (the bit-identity above covers the mix).
    @Test(.enabled(if: skiff_has_avx512_vnni() == 1 && WeightLayout.standard == .fastest, "the sixteen-row kernels need AVX-512 VNNI"))
    func smallHeadsKeepQKVOutOfSixteenRowGroups() throws {
        let model = try LlamaModel(path: try fixtureURL("tiny/llama-q8_0.gguf").path)
        #expect(model.config.headDim % 16 != 0)
        let layer = try #require(model.layers.first)
        #expect([layer.q, layer.k, layer.v].allSatisfy { $0.layout == "x4" })
        #expect([layer.o, layer.gate, layer.up, layer.down, model.output].allSatisfy { $0.layout == "x16" })
        #expect(DecoderSession(model: model, capacity: 16, threads: 2).usesFusedStep)
    }

    /// Float weights keep the per-operation path (BLAS products).
    @Test func floatModelsUseThePerOperationPath() throws {
        let model = try LlamaModel(path: try fixtureURL("tiny/llama.gguf").path)
        #expect(!DecoderSession(model: model, capacity: 16).usesFusedStep)
    }
}
