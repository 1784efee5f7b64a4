import Foundation
public import SkiffModelFiles

extension BPETokenizer {
    /// Token strings that end a turn in the chat formats Skiff supports.
    static let endOfTurnTexts: Set<String> = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>", "<|end|>"]

    /// Builds the tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata.
    public init(gguf: GGUFFile) throws(TokenizerError) {
        let m = gguf.metadata
        let source = gguf.path
        guard let model = m["tokenizer.ggml.model"]?.stringValue else { throw .missingField("tokenizer.ggml.model", source: source) }
        guard model == "gpt2" else { throw .unsupportedModel(model, source: source) }
        let preName = m["tokenizer.ggml.pre"]?.stringValue ?? "gpt2"
        let pre: PreTokenizer
        switch preName {
        case "smollm": pre = .smollm
        case "gpt2", "default": pre = .gpt2
        case "qwen2": pre = .qwen2
        case "llama-bpe", "llama3": pre = .llamaBPE
        default: throw .unsupportedPreTokenizer(preName, source: source)
        }
        guard let tokenValues = m["tokenizer.ggml.tokens"]?.arrayValue else { throw .missingField("tokenizer.ggml.tokens", source: source) }
        var tokens: [String] = []
        tokens.reserveCapacity(tokenValues.count)
        for v in tokenValues {
            guard let s = v.stringValue else { throw .missingField("tokenizer.ggml.tokens", source: source) }
            tokens.append(s)
        }
        guard let mergeValues = m["tokenizer.ggml.merges"]?.arrayValue else { throw .missingField("tokenizer.ggml.merges", source: source) }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeValues.count)
        for (i, v) in mergeValues.enumerated() {
            guard let s = v.stringValue, let space = s.firstIndex(of: " ") else {
                throw .badMerge(index: i, merge: v.stringValue ?? "?", source: source)
            }
            merges.append((String(s[..<space]), String(s[s.index(after: space)...])))
        }
        let types = m["tokenizer.ggml.token_type"]?.arrayValue?.map { $0.intValue ?? 1 } ?? []
        var special: [String: Int] = [:]
        for (i, t) in types.enumerated() where (t == 3 || t == 4) && i < tokens.count { special[tokens[i]] = i }
        let bos = m["tokenizer.ggml.bos_token_id"]?.intValue
        let eos = m["tokenizer.ggml.eos_token_id"]?.intValue
        var stops = Set(special.filter { Self.endOfTurnTexts.contains($0.key) }.values)
        if let eot = m["tokenizer.ggml.eot_token_id"]?.intValue { stops.insert(eot) }
        for id in [bos, eos].compactMap({ $0 }) where id >= tokens.count {
            throw .tokenOutOfRange(id: id, vocabularySize: tokens.count)
        }
        try self.init(tokens: tokens, merges: merges, preTokenizer: pre, specialTokens: special, bos: bos, eos: eos,
                      stopTokens: stops, chatTemplate: m["tokenizer.chat_template"]?.stringValue, source: source)
    }

    /// Builds the tokenizer of a Hugging Face `tokenizer.json` (BPE model, byte-level).
    /// `tokenizer_config.json` next to it, when present, supplies bos/eos and the chat template.
    public init(tokenizerJSON path: String) throws(TokenizerError) {
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw .missingField("(file)", source: path) }
        guard let model = json["model"] as? [String: Any] else { throw .missingField("model", source: path) }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw .unsupportedModel(type, source: path) }
        let sentencePiece = try Self.sentencePieceOptions(json, model: model, source: path)
        guard let vocabDict = model["vocab"] as? [String: Int] else { throw .missingField("model.vocab", source: path) }
        var added: [(String, Int)] = []
        for entry in json["added_tokens"] as? [[String: Any]] ?? [] {
            if let content = entry["content"] as? String, let id = entry["id"] as? Int { added.append((content, id)) }
        }
        let size = max(vocabDict.values.max() ?? -1, added.map(\.1).max() ?? -1) + 1
        var tokens = [String](repeating: "", count: size)
        for (t, id) in vocabDict where id >= 0 { tokens[id] = t }
        for (t, id) in added where id >= 0 { tokens[id] = t }
        var merges: [(String, String)] = []
        for (i, item) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let s = item as? String, let space = s.firstIndex(of: " ") {
                merges.append((String(s[..<space]), String(s[s.index(after: space)...])))
            } else if let pair = item as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw .badMerge(index: i, merge: "\(item)", source: path)
            }
        }
        let pre = sentencePiece == nil ? try Self.preTokenizer(json["pre_tokenizer"], source: path) : .gpt2
        let special = Dictionary(added, uniquingKeysWith: { a, _ in a })
        var bos: Int?, eos: Int?, template: String?
        var addBOS: Bool?
        let configPath = (path as NSString).deletingLastPathComponent + "/tokenizer_config.json"
        if let cdata = FileManager.default.contents(atPath: configPath),
           let config = try? JSONSerialization.jsonObject(with: cdata) as? [String: Any] {
            func tokenName(_ v: Any?) -> String? { (v as? String) ?? ((v as? [String: Any])?["content"] as? String) }
            bos = tokenName(config["bos_token"]).flatMap { special[$0] ?? vocabDict[$0] }
            eos = tokenName(config["eos_token"]).flatMap { special[$0] ?? vocabDict[$0] }
            template = config["chat_template"] as? String
            addBOS = config["add_bos_token"] as? Bool
        }
        // Without add_bos_token in tokenizer_config.json, the post-processor decides: a
        // TemplateProcessing whose single-sequence template starts with a special token.
        let postBOS = Self.postProcessorPrefix(json["post_processor"]).flatMap { special[$0] ?? vocabDict[$0] }
        if bos == nil { bos = postBOS }
        let stops = Set(special.filter { Self.endOfTurnTexts.contains($0.key) }.values)
        var bpeModel = BPEModel.byteLevel
        if var options = sentencePiece {
            options.unknownToken = (model["unk_token"] as? String).flatMap { special[$0] ?? vocabDict[$0] }
            bpeModel = .sentencePiece(options)
        }
        try self.init(tokens: tokens, merges: merges, preTokenizer: pre, specialTokens: special, bos: bos, eos: eos,
                      stopTokens: stops, chatTemplate: template, model: bpeModel,
                      addsBOS: bos != nil && (addBOS ?? (postBOS != nil)), source: path)
    }

    /// The SentencePiece layout of a `tokenizer.json`, or nil for a byte-level one. Recognised:
    /// the legacy normalizer `Sequence[Prepend("▁"), Replace(" ", "▁")]` with no pre-tokenizer,
    /// and the `Metaspace` pre-tokenizer (`prepend_scheme` always/first/never, or the older
    /// `add_prefix_space`). Anything else in a byte-fallback model is refused rather than guessed.
    static func sentencePieceOptions(_ json: [String: Any], model: [String: Any], source: String) throws(TokenizerError)
        -> SentencePieceOptions? {
        let marker = "\u{2581}"
        let normalizer = json["normalizer"] as? [String: Any]
        let pre = json["pre_tokenizer"] as? [String: Any]
        if let pre, pre["type"] as? String == "Metaspace" {
            guard normalizer == nil, (pre["replacement"] as? String ?? marker) == marker else {
                throw .unsupportedModel("Metaspace with a normalizer or another replacement", source: source)
            }
            let prefix: SentencePieceOptions.Prefix
            switch pre["prepend_scheme"] as? String {
            case "always": prefix = .always
            case "first": prefix = .first
            case "never": prefix = .never
            case nil: prefix = (pre["add_prefix_space"] as? Bool ?? true) ? .always : .never
            case let other?: throw .unsupportedModel("Metaspace prepend_scheme \(other)", source: source)
            }
            return SentencePieceOptions(prefix: prefix, split: pre["split"] as? Bool ?? true)
        }
        if let normalizer {
            let steps = normalizer["type"] as? String == "Sequence"
                ? normalizer["normalizers"] as? [[String: Any]] ?? [] : [normalizer]
            let types = steps.compactMap { $0["type"] as? String }
            let prepend = steps.first { $0["type"] as? String == "Prepend" }?["prepend"] as? String
            let replace = steps.first { $0["type"] as? String == "Replace" }
            let pattern = (replace?["pattern"] as? [String: Any])?["String"] as? String
            if types == ["Prepend", "Replace"], prepend == marker, pattern == " ", replace?["content"] as? String == marker,
               pre == nil {
                return SentencePieceOptions(prefix: .everySegment, split: false)
            }
            if types.contains("Prepend") || model["byte_fallback"] as? Bool == true {
                throw .unsupportedModel("SentencePiece normalizer \(types)", source: source)
            }
        }
        if model["byte_fallback"] as? Bool == true {
            throw .unsupportedModel("byte_fallback without a Metaspace or Prepend/Replace layout", source: source)
        }
        return nil
    }

    /// The special token a TemplateProcessing post-processor puts before a single sequence.
    static func postProcessorPrefix(_ value: Any?) -> String? {
        guard let post = value as? [String: Any] else { return nil }
        if post["type"] as? String == "Sequence" {
            for item in post["processors"] as? [Any] ?? [] { if let s = postProcessorPrefix(item) { return s } }
            return nil
        }
        guard post["type"] as? String == "TemplateProcessing", let single = post["single"] as? [[String: Any]],
              let first = single.first, let special = first["SpecialToken"] as? [String: Any] else { return nil }
        return special["id"] as? String
    }

    /// Recognises the pre-tokenizer configurations of the supported models.
    static func preTokenizer(_ value: Any?, source: String) throws(TokenizerError) -> PreTokenizer {
        guard let pre = value as? [String: Any], let type = pre["type"] as? String else { return .gpt2 }
        switch type {
        case "ByteLevel": return .gpt2
        case "Sequence":
            let items = pre["pretokenizers"] as? [[String: Any]] ?? []
            let types = items.compactMap { $0["type"] as? String }
            if types.contains("Digits") && items.contains(where: { ($0["individual_digits"] as? Bool) == true }) {
                return .smollm
            }
            for item in items where item["type"] as? String == "Split" {
                let regex = ((item["pattern"] as? [String: Any])?["Regex"] as? String) ?? ""
                if regex.contains("\\p{N}{1,3}") { return .llamaBPE }
                if regex.contains("\\p{N}|") || regex.contains("\\p{N}|") { return .qwen2 }
                throw .unsupportedPreTokenizer("Split regex \(regex)", source: source)
            }
            if types == ["ByteLevel"] { return .gpt2 }
            throw .unsupportedPreTokenizer("Sequence \(types)", source: source)
        default: throw .unsupportedPreTokenizer(type, source: source)
        }
    }
}
