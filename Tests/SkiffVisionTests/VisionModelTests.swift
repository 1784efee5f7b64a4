import CSkiffKernels
import Foundation
import SkiffConstraint
import SkiffDecoder
import SkiffExtraction
import SkiffImage
import SkiffJSON
import Testing
@testable import SkiffVision

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The tiny models of tools/make_vision_fixtures.py, one per decoder type.
let fixtureModels = ["internvl2-qwen2", "h2ovl-llama", "h2ovl-mistral-msac"]

func fixtureFolder(_ name: String) throws -> String {
    let base = try #require(Bundle.module.resourceURL)
    return base.appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

/// expected.json: what transformers' InternVLForConditionalGeneration produced.
struct VisionReference: Decodable {
    struct Case: Decodable {
        var text: String
        var ids: [Int]
    }
    var tiles: Int
    var grids: [[Int]]
    var tile_fnv1a: [String]
    var features_shape: [Int]
    var projector_shape: [Int]
    var question: String
    var prompt_ids: [Int]
    var image_token_id: Int
    var logits: [Float]
    var greedy: [Int]
    var tokenizer_cases: [Case]
}

func reference(_ name: String) throws -> VisionReference {
    try JSONDecoder().decode(VisionReference.self, from: Data(contentsOf: URL(fileURLWithPath: try fixtureFolder(name) + "/expected.json")))
}

func floats(_ path: String) throws -> [Float] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
}

func receipt() throws -> PixelBuffer {
    let document = try DocumentLoader().load(contentsOf: repository.appendingPathComponent("samples/receipt-004.jpg"))
    return try #require(document.pages.first).image
}

/// FNV-1a 64 over the tile's RGB bytes, as the fixture script hashes PIL's tiles.
func fnv1a(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// Models are loaded once per test process (each test reads them; loading is fast but not free).
final class ModelCache: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    static let shared = ModelCache()
    private let lock = NSLock()
    private var models: [String: VisionLanguageModel] = [:]
    func model(_ name: String) throws -> VisionLanguageModel {
        lock.lock()
        defer { lock.unlock() }
        if let m = models[name] { return m }
        let m = try VisionLanguageModel(folder: try fixtureFolder(name))
        models[name] = m
        return m
    }
}

@Suite("Tiny InternVL2 / H2OVL models against transformers' InternVL")
struct VisionModelTests {
    @Test(arguments: fixtureModels)
    func tilesAreBitExact(name: String) throws {
        let ref = try reference(name)
        let model = try ModelCache.shared.model(name)
        let tiles = model.tiles(of: try receipt())
        #expect(tiles.count == ref.tiles)
        #expect(tiles.map { fnv1a($0.image.pixels) } == ref.tile_fnv1a)
        let plan = Tiler(configuration: model.config.tiling).plan(for: try receipt())
        #expect(plan.grids.map { [$0.columns, $0.rows] } == ref.grids)
    }

    @Test(arguments: fixtureModels)
    func featuresAndProjectorMatch(name: String) throws {
        let ref = try reference(name)
        let model = try ModelCache.shared.model(name)
        let tiles = model.tiles(of: try receipt())
        let out = try model.encoder.encode(VisionLanguageModel.pixels(of: tiles), tiles: tiles.count, batch: 2,
                                           threads: 2, keepFeatures: true)
        let features = try floats(try fixtureFolder(name) + "/features.bin")
        let projected = try floats(try fixtureFolder(name) + "/projector.bin")
        #expect(features.count == ref.features_shape.reduce(1, *))
        #expect(projected.count == ref.projector_shape.reduce(1, *))
        let df = maxDifference(try #require(out.features), features)
        let dp = maxDifference(out.embeddings, projected)
        print("\(name): \(tiles.count) tiles, max |Δ ViT feature| = \(df), max |Δ projector| = \(dp)")
        #expect(df < 1e-4, "\(name): max |Δ feature| = \(df)")
        #expect(dp < 1e-4, "\(name): max |Δ projector| = \(dp)")
    }

    @Test(arguments: fixtureModels)
    func promptLogitsAndGreedyTokensMatch(name: String) throws {
        let ref = try reference(name)
        let model = try ModelCache.shared.model(name)
        let (prompt, _) = try model.prompt(question: ref.question, pages: [try receipt()], threads: 2)
        #expect(prompt.ids == ref.prompt_ids)
        #expect(model.imageContextToken == ref.image_token_id)
        let session = DecoderSession(model: model.decoder, capacity: prompt.ids.count + ref.greedy.count + 1,
                                     threads: 2, batchSize: 256)
        var logits = try session.prefill(prompt.inputs)
        let d = maxDifference(logits, ref.logits)
        print("\(name): \(prompt.ids.count) prompt ids, max |Δ logit| = \(d) (largest logit \(ref.logits.map(abs).max() ?? 0))")
        #expect(d < 1e-4, "\(name): max |Δ logit| = \(d) (scale \(ref.logits.map(abs).max() ?? 0))")
        var tokens: [Int] = []
        for _ in ref.greedy {
            let t = try #require(Sampler.argmax(logits))
            tokens.append(t)
            logits = try session.step(t)
        }
        #expect(tokens == ref.greedy)
    }

    @Test(arguments: fixtureModels)
    func tokenizerMatchesTokenizersLibrary(name: String) throws {
        let ref = try reference(name)
        let tokenizer = try ModelCache.shared.model(name).tokenizer
        var mismatches = 0
        for c in ref.tokenizer_cases where tokenizer.encode(c.text) != c.ids {
            mismatches += 1
            if mismatches <= 5 { Issue.record("\(name): \(c.text.debugDescription): \(tokenizer.encode(c.text)) vs \(c.ids)") }
        }
        #expect(mismatches == 0)
        #expect(ref.tokenizer_cases.count > 60)
    }

    @Test(arguments: fixtureModels)
    func constrainedAnswerValidates(name: String) throws {
        let model = try ModelCache.shared.model(name)
        let schema = try JSONParser().parse(Array(try Data(contentsOf: repository.appendingPathComponent("schemas/receipt.json"))))
        var options = ConstraintOptions()
        options.maxStringLength = 12
        let grammar = try Grammar(schema: schema, options: options)
        let out = try model.generate(question: "Extract the receipt as JSON.", pages: [try receipt()],
                                     parameters: .greedy(maxTokens: 200), grammar: grammar, threads: 2)
        let value = try #require(out.value)
        #expect(try grammar.schema.validate(value).isValid)
        #expect(out.tiles == (try reference(name)).tiles)
    }

    @Test func templatesRenderAsTheReference() throws {
        let hermes = try #require(ConversationTemplate(named: "Hermes-2"))
        #expect(hermes.render(question: "Q") == "<|im_start|>system\n" + ConversationTemplate.internVLSystemMessage
            + "<|im_end|><|im_start|>user\nQ<|im_end|><|im_start|>assistant\n")
        let h2o = try #require(ConversationTemplate(named: "h2ogpt2"))
        #expect(h2o.render(question: "Q") == "<|prompt|>Q<|end|><|answer|>")
        #expect(ConversationTemplate(named: "vicuna") == nil)
    }

    @Test func imagePlaceholderGoesWhereThePromptSays() throws {
        let model = try ModelCache.shared.model("h2ovl-llama")
        let t = model.config.tokensPerTile
        let inline = model.promptText(question: "Look: <image> ok?", tileCounts: [1])
        #expect(inline == "<|prompt|>Look: <img>" + String(repeating: "<IMG_CONTEXT>", count: t) + "</img> ok?<|end|><|answer|>")
        let before = model.promptText(question: "ok?", tileCounts: [1])
        #expect(before.hasPrefix("<|prompt|><img><IMG_CONTEXT>") && before.hasSuffix("</img>\nok?<|end|><|answer|>"))
    }

    @Test func badFoldersGiveClearErrors() throws {
        #expect(throws: VisionError.self) { try VisionLanguageModel(folder: "/nonexistent/model") }
        // A text-only folder (the decoder's tiny Qwen2 fixture has no vision_config).
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-vision-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        try Data(#"{"model_type": "qwen2", "hidden_size": 8}"#.utf8).write(to: temp.appendingPathComponent("config.json"))
        do {
            _ = try VisionLanguageModel(folder: temp.path)
            Issue.record("a folder without vision_config loaded")
        } catch {
            #expect(error.description.contains("vision_config"))
        }
        // A truncated shard names the file.
        try FileManager.default.removeItem(atPath: temp.path + "/config.json")
        let source = try fixtureFolder("h2ovl-llama")
        for file in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: temp.path + "/" + file)
        }
        let shard = temp.path + "/model-00002-of-00002.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: shard))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: shard))
        do {
            _ = try VisionLanguageModel(folder: temp.path)
            Issue.record("a truncated shard loaded")
        } catch {
            #expect(error.description.contains("model-00002-of-00002.safetensors"))
        }
    }
}

@Suite("Vision kernels")
struct VisionKernelTests {
    @Test func erfAndExpApproximations() {
        var worstErf = 0.0, worstExp = 0.0
        for i in 0...20000 {
            let x = -6 + 12 * Float(i) / 20000
            worstErf = max(worstErf, abs(Double(skiff_erf_approx(x)) - erf(Double(x))))
            let y = -80 + 80 * Float(i) / 20000
            worstExp = max(worstExp, abs(Double(skiff_exp_approx(y)) / exp(Double(y)) - 1))
        }
        #expect(worstErf < 5e-7)
        #expect(worstExp < 5e-7)
    }

    @Test func geluLayerNormAndSoftmax() {
        var x = (0..<5000).map { Float($0) / 250 - 10 }
        let original = x
        skiff_gelu_erf(&x, Int64(x.count), 2)
        var geluError = 0.0
        for (got, v) in zip(x, original) {
            let d = Double(v)
            let exact: Double = 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
            geluError = max(geluError, abs(Double(got) - exact))
        }
        #expect(geluError < 2e-6)

        let n = 96
        let row = (0..<n).map { Float(sin(Double($0))) * 3 + 1 }
        let w = (0..<n).map { 1 + Float($0) / 100 }, b = (0..<n).map { Float($0) / 50 }
        var y = [Float](repeating: 0, count: n)
        skiff_layernorm(row, w, b, &y, Int64(n), 1, 1e-6, 1)
        let values = row.map(Double.init)
        let mean: Double = values.reduce(0, +) / Double(n)
        let variance: Double = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        let rstd: Double = 1 / (variance + 1e-6).squareRoot()
        var lnError = 0.0
        for i in 0..<n {
            let exact: Double = (values[i] - mean) * rstd * Double(w[i]) + Double(b[i])
            lnError = max(lnError, abs(Double(y[i]) - exact))
        }
        #expect(lnError < 1e-5)

        var s = (0..<1025).map { Float($0 % 37) * 0.9 - 20 }
        let input = s
        skiff_softmax_rows(&s, 1, 1025, 1025, 1)
        let m = Double(input.max() ?? 0)
        let total = input.reduce(0.0) { $0 + exp(Double($1) - m) }
        let smError = zip(s, input).map { abs(Double($0) - exp(Double($1) - m) / total) }.max() ?? 1
        #expect(smError < 1e-7)
    }
}

@Suite("Vision extraction engine")
struct VisionEngineTests {
    static let schemaPath = repository.appendingPathComponent("schemas/receipt.json").path

    @Test func writesASchemaValidDocument() async throws {
        let schema = try ExtractionSchema(contentsOf: Self.schemaPath)
        let engine = VisionExtractionEngine(model: try ModelCache.shared.model("internvl2-qwen2"), maxTokens: 400, threads: 2,
                                            maxStringLength: 24)
        let pipeline = try ExtractionPipeline(schema: schema, engine: .vision, vision: engine)
        let result = try await pipeline.extract(contentsOf: repository.appendingPathComponent("samples/receipt-004.jpg"))
        #expect(result.engine == "vision (internvl2-qwen2)")
        #expect(try schema.validator.validate(result.document).isValid)
        #expect(result.fields.map(\.field.pointer) == ["/company", "/date", "/address", "/total"])
        #expect(result.fields.allSatisfy { $0.value?.stringValue != nil })
        #expect(VisionExtractionEngine.question(for: schema).contains("- total: Total amount paid as printed"))
    }

    /// An answer cut off before the document is complete does not validate: Tesseract takes over.
    @Test func fallsBackToTesseractWhenTheAnswerFails() async throws {
        let schema = try ExtractionSchema(contentsOf: Self.schemaPath)
        let engine = VisionExtractionEngine(model: try ModelCache.shared.model("h2ovl-llama"), maxTokens: 3, threads: 2)
        let pipeline = try ExtractionPipeline(schema: schema, engine: .auto, vision: engine)
        let result = try await pipeline.extract(contentsOf: repository.appendingPathComponent("samples/receipt-007.jpg"))
        #expect(result.engine.hasPrefix("tesseract+rules (fallback: vision (h2ovl-llama) gave no valid answer"))
        #expect(try schema.validator.validate(result.document).isValid)
    }
}
