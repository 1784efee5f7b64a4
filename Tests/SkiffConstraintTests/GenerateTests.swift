import Foundation
import SkiffConstraint
import SkiffDecoder
import SkiffJSON
import SkiffSchema
import SkiffTokenizer
import Testing

/// SmolLM2 writing invoices under schemas/invoice.json: every output must be valid JSON that
/// validates. 2 prompts by default, all 50 with SKIFF_SLOW_TESTS=1.
@Suite struct GenerateTests {
    static let vendors = ["ACME GmbH", "Blue Harbor Ltd", "Café Müller", "Northwind Traders Inc.", "Tanaka Shoji K.K.",
                          "O'Brien & Sons", "Zephyr Solar SA", "Kowalski Sp. z o.o.", "Rio Verde Ltda", "Fjord Fisk AS"]
    static let items = ["consulting hours", "steel bolts", "coffee beans", "web hosting", "office chairs"]

    static func prompt(_ i: Int) -> String {
        let v = vendors[i % vendors.count], item = items[(i / vendors.count) % items.count]
        let total = Double(100 + i * 37) + Double(i % 100) / 100
        return """
        Extract the invoice as JSON.
        INVOICE \(1000 + i)   Date: 2025-0\(1 + i % 9)-1\(i % 10)
        From: \(v), \(10 + i) Main Street
        To: Customer \(i)
        \(1 + i % 7) x \(item)
        TOTAL EUR \(String(format: "%.2f", total))
        """
    }

    @Test(.enabled(if: TestData.hasModel))
    func invoiceSchemaAlwaysValid() throws {
        let model = try LlamaModel(path: TestData.gguf.path)
        guard let tokenizer = model.tokenizer else { return }
        let schemaValue = try TestData.load(TestData.repoRoot.appendingPathComponent("schemas/invoice.json"))
        var options = ConstraintOptions()
        options.maxNumberLength = 16
        options.maxStringLength = 80
        let grammar = try Grammar(schema: schemaValue, options: options)
        let vocab = TokenVocabulary(tokenizer: tokenizer)
        let count = TestData.slow ? 50 : 2
        var forced = 0, tokens = 0
        for i in 0..<count {
            let text = ChatTemplate(jinja: tokenizer.chatTemplateSource).render([ChatMessage(role: .user, content: Self.prompt(i))])
            let ids = tokenizer.encode(text)
            let session = DecoderSession(model: model, capacity: ids.count + 400)
            let gen = ConstrainedGenerator(session: session, grammar: grammar, vocabulary: vocab)
            let params = GenerationParameters(maxTokens: 400, temperature: 0.7, topK: 40, topP: 0.95, seed: UInt64(i))
            let out = try gen.generate(prompt: ids, parameters: params)
            #expect(try grammar.schema.isValid(try JSONParser().parse(out.text)), "prompt \(i): \(out.text)")
            forced += out.forcedTokens
            tokens += out.tokens.count
        }
        print("[generate] \(count) prompts: all valid; \(tokens) tokens, \(forced) forced")
    }

    @Test(.enabled(if: TestData.hasModel))
    func logitsProcessorWithTokenIterator() throws {
        let model = try LlamaModel(path: TestData.gguf.path)
        guard let tokenizer = model.tokenizer else { return }
        let grammar = try Grammar(schema: try JSONParser().parse(
            #"{"type": "object", "properties": {"paid": {"type": "boolean"}}, "required": ["paid"], "additionalProperties": false}"#))
        let matcher = try ConstraintMatcher(grammar: grammar, vocabulary: TokenVocabulary(tokenizer: tokenizer))
        let text = ChatTemplate(jinja: tokenizer.chatTemplateSource).render([ChatMessage(role: .user, content: "Was the invoice paid? Answer in JSON.")])
        let ids = tokenizer.encode(text)
        let session = DecoderSession(model: model, capacity: ids.count + 24)
        var it = try TokenIterator(session: session, prompt: [.tokens(ids)], parameters: .greedy(maxTokens: 20),
                                   logitsProcessor: SchemaLogitsProcessor(matcher: matcher))
        var out: [Int] = []
        while let t = try it.next() { out.append(t) }
        for t in out.dropFirst(matcher.tokenCount) { _ = matcher.consume(token: t) }
        let doc = tokenizer.decode(out, skipSpecial: true)
        #expect(matcher.isAccepting, "\(doc)")
        #expect(doc == #"{"paid":true}"# || doc == #"{"paid":false}"#, "\(doc)")
    }
}
