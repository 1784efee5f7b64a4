public import Foundation
public import SkiffExtraction
import SkiffConstraint
import SkiffDecoder
import SkiffJSON
import SkiffTokenizer

/// Writes field values with SmolLM2 under the schema constraint: the page's OCR lines go into a
/// chat prompt once per document, then each field is generated as a one-key JSON object whose
/// value must be null or a run of the page's words (`x-copy-from-page`), or for dates and amounts
/// one of the page's date- or amount-shaped spans (an `enum`). The model can only copy or
/// decline, never invent. Fields reuse the prefilled page: the KV cache is truncated back to the
/// end of the page after each field. Tokens the constraint forces (the key, the quotes) are
/// appended without a model step and fed to the model in one batch when it next has to choose
/// (forced-token fast-forward); whitespace outside strings is bounded (`maxWhitespace`).
public final class LanguageModelGenerator: SpanGenerator, @unchecked Sendable {
    public struct Options: Sendable {
        /// Lines of the page in the prompt (receipts run to 60 lines; the total is near the end).
        public var maxLines = 64
        /// Words kept per line: long lines are item rows, and the prompt is the cost.
        public var maxWordsPerLine = 14
        /// All fields in one JSON object instead of one generation per field.
        public var together = false
        /// A made-up receipt with its answer before the page (the same for every document, so
        /// its KV cache is kept between documents).
        public var example = true
        /// Whitespace allowed between JSON tokens (0: compact).
        public var maxWhitespace = 0
        /// A copied value is a run of whole OCR lines (names and addresses start and end at
        /// line breaks) instead of any run of words.
        public var wholeLines = true
        /// For a field with a short list of choices (dates, amounts) in its own generation: the
        /// answer the model finds most likely as a whole (each choice's answer scored to its end,
        /// over one KV cache as a trie) instead of token-by-token greedy decoding (on 15 sroie-dev
        /// receipts: total F1 0.40 greedy, 0.73 exact).
        public var exactChoices = true
        public init() {}
    }

    public let name = "smollm2-135m"
    public let kinds: Set<FieldKind>
    public let options: Options
    let model: LlamaModel
    let tokenizer: BPETokenizer
    let vocabulary: TokenVocabulary
    let threads: Int
    // Idle decoder sessions with the prompt header they hold; `lock` guards the list.
    private var idle: [(DecoderSession, [Int])] = []
    private let lock = NSLock()
    /// The tokens every document's prompt starts with (system message, the example).
    let header: [Int]

    public init(modelPath: String = LanguageModelRanker.defaultModel,
                kinds: Set<FieldKind> = [.company, .address, .date, .total],
                options: Options = Options(), threads: Int = 1) throws(ExtractionError) {
        do {
            model = try LlamaModel(path: modelPath)
        } catch {
            throw .engineUnavailable("language model \(modelPath): \(error)")
        }
        guard let tokenizer = model.tokenizer else { throw .engineUnavailable("language model \(modelPath) has no tokenizer") }
        self.tokenizer = tokenizer
        vocabulary = TokenVocabulary(tokenizer: tokenizer)
        self.kinds = kinds
        self.options = options
        self.threads = max(1, threads)
        var text = "<|im_start|>system\nYou copy fields from receipts and invoices exactly as printed, as JSON. "
            + "A field that is not printed is null.<|im_end|>\n"
        if options.example {
            text += "<|im_start|>user\n" + Self.pageText(Self.exampleLines) + Self.question(Self.exampleKinds)
                + "<|im_end|>\n<|im_start|>assistant\n" + Self.exampleAnswer + "<|im_end|>\n"
        }
        text += "<|im_start|>user\n"
        header = tokenizer.encode(text)
    }

    /// A made-up receipt (no real shop) showing the answer's form: values copied as printed.
    /// Its values are runs of whole lines, as copies are.
    static let exampleLines = ["KEDAI RUNCIT MAJU JAYA SDN BHD", "(123456-X)", "NO 12, JALAN MERDEKA 3,", "43000 KAJANG, SELANGOR.",
                               "TEL: 03-8736 1234", "INVOICE NO: 10021", "DATE: 02/03/2018 14:05", "MILO 1KG 1 x 18.90",
                               "TOTAL 18.90", "CASH 20.00", "CHANGE 1.10"]
    static let exampleKinds: [FieldKind] = [.company, .date, .address, .total]
    static let exampleAnswer = #"{"company":"KEDAI RUNCIT MAJU JAYA SDN BHD","date":"02/03/2018","address":"NO 12, JALAN MERDEKA 3, 43000 KAJANG, SELANGOR.","total":"18.90"}"#

    static func pageText(_ lines: [String]) -> String {
        "The document, as read by OCR:\n" + lines.joined(separator: "\n") + "\n\n"
    }

    static func key(_ kind: FieldKind) -> String {
        switch kind {
        case .invoiceNumber: "invoice_number"
        case .dueDate: "due_date"
        case .taxId: "tax_id"
        default: kind.rawValue
        }
    }

    static func describe(_ kind: FieldKind) -> String {
        switch kind {
        case .company: "company (who issued it)"
        case .address: "address (the company's)"
        case .date: "date"
        case .total: "total (the amount to pay)"
        case .dueDate: "due date"
        case .subtotal: "subtotal"
        case .tax: "tax amount"
        case .invoiceNumber: "invoice number"
        case .taxId: "tax id (VAT number)"
        case .currency: "currency"
        case .other: "value"
        }
    }

    static func question(_ kinds: [FieldKind]) -> String {
        let names = kinds.map(describe)
        let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + (names.last ?? "")
        return "Copy the \(list) as printed."
    }

    public func session(lines: [[String]]) throws(ExtractionError) -> any GenerationSession {
        lock.lock()
        let entry = idle.popLast()
        lock.unlock()
        let decoder = entry?.0 ?? DecoderSession(model: model, capacity: 2048, threads: threads, batchSize: 64)
        // The words the model reads, each OCR word split at spaces (copying works on single-space
        // runs), with the OCR word each piece belongs to.
        var shown: [String] = []
        var words: [String] = []
        var origin: [Int] = []
        var lineOf: [Int] = []
        var flat = 0
        for (index, line) in lines.enumerated() {
            var kept: [String] = []
            for (i, word) in line.enumerated() {
                defer { flat += 1 }
                guard i < options.maxWordsPerLine, shown.count < options.maxLines else { continue }
                for piece in word.split(whereSeparator: \.isWhitespace) {
                    words.append(String(piece))
                    origin.append(flat)
                    lineOf.append(index)
                    kept.append(String(piece))
                }
            }
            if !kept.isEmpty && shown.count < options.maxLines { shown.append(kept.joined(separator: " ")) }
        }
        do {
            if let entry, entry.1 == header {
                decoder.truncate(to: header.count)
            } else {
                decoder.reset()
                try decoder.prefill([.tokens(header)])
            }
            let started = ContinuousClock.now
            try decoder.prefill([.tokens(tokenizer.encode(Self.pageText(shown), parseSpecial: false))])
            let session = Session(generator: self, decoder: decoder, words: words, origin: origin, lineOf: lineOf)
            session.seconds += (ContinuousClock.now - started).seconds
            return session
        } catch {
            give(decoder)
            throw .engineUnavailable("language model prompt: \(error)")
        }
    }

    fileprivate func give(_ decoder: DecoderSession) {
        lock.lock()
        idle.append((decoder, header))
        lock.unlock()
    }

    /// Tokens a field's value may take, beyond the key: names are short, addresses run to a few lines.
    static func budget(_ kind: FieldKind) -> Int {
        switch kind {
        case .address: 96
        case .company: 48
        default: 24
        }
    }

    /// The value schema of one request: null, or a copied span / one of the choices.
    static func valueSchema(_ request: FieldRequest) -> JSONValue {
        let value: JSONValue
        if let choices = request.choices {
            value = ["enum": .array(choices.map(JSONValue.string))]
        } else {
            value = ["type": "string", Grammar.copyFromPageKeyword: true]
        }
        return ["anyOf": [["type": "null"], value]]
    }

    final class Session: GenerationSession {
        /// The first run of consecutive units joined by single spaces that equals `value`.
        static func locate(_ value: String, in units: [String]) -> ClosedRange<Int>? {
            for start in units.indices where value.hasPrefix(units[start]) {
                var text = units[start]
                var end = start
                while text.count < value.count, end + 1 < units.count {
                    end += 1
                    text += " " + units[end]
                }
                if text == value { return start...end }
            }
            return nil
        }

        let generator: LanguageModelGenerator
        let decoder: DecoderSession
        /// The page's words as the model read them, and the OCR word (flat index) of each.
        let words: [String]
        let origin: [Int]
        /// The line (index into the session's lines) of each word.
        let lineOf: [Int]
        let pageLength: Int
        var seconds = 0.0

        init(generator: LanguageModelGenerator, decoder: DecoderSession, words: [String], origin: [Int], lineOf: [Int]) {
            self.generator = generator
            self.decoder = decoder
            self.words = words
            self.origin = origin
            self.lineOf = lineOf
            pageLength = decoder.position
        }

        deinit { generator.give(decoder) }

        func generate(_ requests: [FieldRequest]) throws(ExtractionError) -> [GenerationOutcome] {
            let started = ContinuousClock.now
            defer { seconds += (ContinuousClock.now - started).seconds }
            var out: [GenerationOutcome] = []
            // A request without choices on a page without words, or with no choices, has nothing to copy.
            let groups: [[Int]] = generator.options.together ? [Array(requests.indices)] : requests.indices.map { [$0] }
            var results: [Int: GenerationOutcome] = [:]
            for group in groups {
                var asked: [Int] = []
                for i in group {
                    let r = requests[i]
                    let nothing = r.choices.map(\.isEmpty) ?? !lineOf.contains { r.lines?.contains($0) ?? true }
                    if nothing { results[i] = .declined(probability: 1) } else { asked.append(i) }
                }
                guard !asked.isEmpty else { continue }
                if generator.options.exactChoices, asked.count == 1, let choices = requests[asked[0]].choices, choices.count <= 64 {
                    do {
                        results[asked[0]] = try choose(requests[asked[0]], among: choices)
                    } catch {
                        results[asked[0]] = .failed("\(error)")
                    }
                    continue
                }
                do {
                    for (i, outcome) in zip(asked, try run(asked.map { requests[$0] })) { results[i] = outcome }
                } catch {
                    for i in asked { results[i] = .failed("\(error)") }
                }
            }
            for i in requests.indices { out.append(results[i] ?? .failed("not generated")) }
            return out
        }

        /// The most likely whole answer among null and `choices`: every answer `{"key":…}` is
        /// scored to its closing brace (the sum of its tokens' log-probabilities); answers sharing
        /// a token prefix share its cache positions.
        private func choose(_ request: FieldRequest, among choices: [String]) throws -> GenerationOutcome {
            let tok = generator.tokenizer
            decoder.truncate(to: pageLength)
            let cue = LanguageModelGenerator.question([request.kind]) + "<|im_end|>\n<|im_start|>assistant\n"
            let cueLogits = try decoder.prefill([.tokens(tok.encode(cue))])
            let base = decoder.position
            let key = JSONSerializer.compact.string(from: .string(LanguageModelGenerator.key(request.kind)))
            let answers: [String?] = [nil] + choices
            let sequences = answers.map { a in
                tok.encode("{" + key + ":" + (a.map { JSONSerializer.compact.string(from: .string($0)) } ?? "null") + "}", parseSpecial: false)
            }
            let scores = try LanguageModelRanker.logProbabilities(of: sequences, decoder: decoder, base: base, cueLogits: cueLogits)
            let top = scores.max() ?? 0
            let total = scores.reduce(0) { $0 + exp($1 - top) }
            guard let best = scores.indices.max(by: { scores[$0] < scores[$1] }) else { return .failed("no choices") }
            let probability = 1 / total
            guard let text = answers[best] else { return .declined(probability: probability) }
            return .value(GeneratedValue(text: text, words: nil, probability: probability))
        }

        /// One constrained generation for `requests` (one JSON object with a key per request).
        private func run(_ requests: [FieldRequest]) throws -> [GenerationOutcome] {
            var properties = JSONObject()
            for r in requests { properties[LanguageModelGenerator.key(r.kind)] = LanguageModelGenerator.valueSchema(r) }
            let schema: JSONValue = [
                "type": "object", "properties": .object(properties), "additionalProperties": false,
                "required": .array(requests.map { JSONValue.string(LanguageModelGenerator.key($0.kind)) }),
            ]
            // The words copies may come from: the union of the requests' line windows.
            let copies = requests.filter { $0.choices == nil }
            let allowed = words.indices.filter { i in
                copies.contains { r in r.lines.map { $0.contains(lineOf[i]) } ?? true }
            }
            // The units a copy is made of (the constraint's "words"): single words, or whole lines.
            var units: [[Int]] = []
            for i in allowed {
                if generator.options.wholeLines, let last = units.last?.last, lineOf[last] == lineOf[i] {
                    units[units.count - 1].append(i)
                } else {
                    units.append([i])
                }
            }
            let pageWords = units.map { $0.map { words[$0] }.joined(separator: " ") }
            var options = ConstraintOptions()
            options.pageWords = pageWords.isEmpty ? ["-"] : pageWords
            options.maxWhitespace = generator.options.maxWhitespace
            let grammar = try Grammar(schema: schema, options: options)
            let tok = generator.tokenizer
            decoder.truncate(to: pageLength)
            let cue = LanguageModelGenerator.question(requests.map(\.kind)) + "<|im_end|>\n<|im_start|>assistant\n"
            var logits = try decoder.prefill([.tokens(tok.encode(cue))])
            let matcher = try ConstraintMatcher(grammar: grammar, vocabulary: generator.vocabulary)
            var mask = TokenMask(count: generator.vocabulary.size)
            // (byte offset where the token starts, log-probability) of each token the model chose.
            var chosen: [(offset: Int, logProbability: Double)] = []
            var pending: [Int] = []       // forced tokens not yet run through the model
            let budget = requests.reduce(8) { $0 + LanguageModelGenerator.budget($1.kind) + 8 }
            var count = 0
            while !matcher.isFinished && count < budget {
                matcher.fillMask(&mask)
                if let f = matcher.failure { throw f }
                let token: Int
                switch mask.population {
                case 0:
                    throw ConstraintError.deadEnd("after \(String(decoding: matcher.output, as: UTF8.self).suffix(60).debugDescription)")
                case 1:
                    token = mask.ids[0]
                default:
                    if !pending.isEmpty {
                        logits = try decoder.prefill([.tokens(pending)])
                        pending.removeAll()
                    }
                    var best = -1
                    var top = -Float.infinity
                    for i in 0..<min(logits.count, mask.count) where mask.contains(i) && logits[i] > top {
                        top = logits[i]
                        best = i
                    }
                    guard best >= 0 else { throw ConstraintError.deadEnd("no allowed token has a logit") }
                    var sum = 0.0
                    for i in 0..<min(logits.count, mask.count) where mask.contains(i) { sum += exp(Double(logits[i] - top)) }
                    chosen.append((matcher.output.count, -log(sum)))
                    token = best
                }
                if token == generator.vocabulary.eos { break }
                guard matcher.consume(token: token) else { throw ConstraintError.deadEnd("token \(token) was allowed but not accepted") }
                count += 1
                if matcher.isFinished { break }
                if mask.population == 1 {
                    pending.append(token)
                } else {
                    logits = try decoder.step(token)
                }
                if decoder.position + pending.count >= decoder.capacity - 1 { break }
            }
            let output = matcher.output
            guard matcher.isAccepting else {
                throw ConstraintError.incomplete("stopped after \(count) tokens: \(String(decoding: output, as: UTF8.self).suffix(60).debugDescription)")
            }
            let value = try JSONParser().parse(output)
            // Where each key's value starts in the output (compact JSON, keys in schema order).
            let text = Array(output)
            var starts: [Int] = []
            for r in requests {
                let needle = Array(("\"" + LanguageModelGenerator.key(r.kind) + "\":").utf8)
                var at = text.count
                if needle.count <= text.count {
                    for i in 0...(text.count - needle.count) where Array(text[i..<(i + needle.count)]) == needle {
                        at = i + needle.count
                        break
                    }
                }
                starts.append(at)
            }
            var outcomes: [GenerationOutcome] = []
            for (i, r) in requests.enumerated() {
                let from = starts[i]
                let to = starts.filter { $0 > from }.min() ?? text.count
                let mine = chosen.filter { $0.offset >= from && $0.offset < to }.map(\.logProbability)
                let probability = mine.isEmpty ? 1 : exp(mine.reduce(0, +) / Double(mine.count))
                let v = value[LanguageModelGenerator.key(r.kind)]
                guard let s = v?.stringValue else {
                    outcomes.append(.declined(probability: probability))
                    continue
                }
                if r.choices != nil {
                    outcomes.append(.value(GeneratedValue(text: s, words: nil, probability: probability)))
                } else if let range = Self.locate(s, in: pageWords), let first = units[range.lowerBound].first,
                          let last = units[range.upperBound].last {
                    let ocrWords = origin[first]..<(origin[last] + 1)
                    outcomes.append(.value(GeneratedValue(text: s, words: ocrWords, probability: probability)))
                } else {
                    outcomes.append(.failed("“\(s)” is not a span of the page"))
                }
            }
            return outcomes
        }
    }
}
