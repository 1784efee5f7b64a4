import Foundation

/// How text becomes the symbols BPE merges, and how tokens become bytes again.
public enum BPEModel: Sendable, Equatable {
    /// GPT-2 style: bytes mapped to printable characters, pre-tokenized by a regex (SmolLM2, Qwen2, Llama 3).
    case byteLevel
    /// SentencePiece style (Llama 2, Mistral, H2O-Danube `tokenizer.json`): spaces become U+2581,
    /// a dummy prefix U+2581 starts the text, characters missing from the vocabulary fall back to
    /// `<0xXX>` byte tokens.
    case sentencePiece(SentencePieceOptions)
}

/// Where the dummy prefix goes, as the two `tokenizer.json` layouts of SentencePiece models say.
public struct SentencePieceOptions: Sendable, Equatable {
    public enum Prefix: Sendable, Equatable {
        /// Legacy normalizer (`Prepend("▁")` + `Replace(" ", "▁")`): every text segment between
        /// special tokens gets the prefix, even one that already starts with a space.
        case everySegment
        /// `Metaspace` pre-tokenizer, `prepend_scheme: always`: every segment not already starting with ▁.
        case always
        /// `Metaspace`, `prepend_scheme: first`: only a segment at the very start of the text.
        case first
        case never
    }
    public var prefix: Prefix
    /// `Metaspace` with `split: true` cuts the text before every ▁ (BPE never merges across).
    public var split: Bool
    public var unknownToken: Int?
    public init(prefix: Prefix, split: Bool = false, unknownToken: Int? = nil) {
        self.prefix = prefix
        self.split = split
        self.unknownToken = unknownToken
    }
}

/// A BPE tokenizer, byte-level (GPT-2 style) or SentencePiece-style, built from a GGUF file's
/// `tokenizer.ggml.*` metadata or from a Hugging Face `tokenizer.json`.
public struct BPETokenizer: Sendable {
    public let tokens: [String]
    public let model: BPEModel
    /// Whether the model's prompts start with `bosToken` (`add_bos_token`, or the post-processor).
    public let addsBOS: Bool
    /// Settable so one vocabulary can be checked under each pattern.
    public var preTokenizer: PreTokenizer
    /// Tokens matched literally in text when `parseSpecial` is on (control and user-defined tokens).
    public let specialTokens: [String: Int]
    public let bosToken: Int?
    public let eosToken: Int?
    /// Tokens that end generation (eos, end-of-turn, ...).
    public let stopTokens: Set<Int>
    /// The model's Jinja chat template, when the file carries one.
    public let chatTemplateSource: String?

    private let vocab: [String: Int]
    /// (left id << 32 | right id) -> (rank, merged id)
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Token id of each byte's byte-level character.
    private let byteTokens: [Int32]
    /// Byte of each byte-level character (unicode scalar value -> byte).
    private let charToByte: [UInt32: UInt8]
    private let specialByLength: [(String, Int)]

    public var vocabularySize: Int { tokens.count }

    public init(tokens: [String], merges mergeList: [(String, String)], preTokenizer: PreTokenizer,
                specialTokens: [String: Int], bos: Int?, eos: Int?, stopTokens: Set<Int> = [],
                chatTemplate: String? = nil, model: BPEModel = .byteLevel, addsBOS: Bool = false,
                source: String = "tokenizer") throws(TokenizerError) {
        self.tokens = tokens
        self.model = model
        self.addsBOS = addsBOS
        self.preTokenizer = preTokenizer
        self.specialTokens = specialTokens
        bosToken = bos
        eosToken = eos
        self.stopTokens = stopTokens.union(eos.map { [$0] } ?? [])
        chatTemplateSource = chatTemplate
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = i }
        self.vocab = vocab
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, (a, b)) in mergeList.enumerated() {
            guard let ia = vocab[a], let ib = vocab[b], let im = vocab[a + b] else {
                throw .badMerge(index: rank, merge: "\(a) \(b)", source: source)
            }
            let key = UInt64(ia) << 32 | UInt64(ib)
            if merges[key] == nil { merges[key] = (Int32(rank), Int32(im)) }
        }
        self.merges = merges
        let table = Self.byteToUnicode()
        if case .sentencePiece = model {
            byteTokens = (0..<256).map { Int32(vocab[String(format: "<0x%02X>", $0)] ?? -1) }
        } else {
            byteTokens = table.map { Int32(vocab[String(Character($0))] ?? -1) }
        }
        var charToByte: [UInt32: UInt8] = [:]
        for (b, s) in table.enumerated() { charToByte[s.value] = UInt8(b) }
        self.charToByte = charToByte
        specialByLength = specialTokens.sorted { $0.key.utf8.count > $1.key.utf8.count }.map { ($0.key, $0.value) }
    }

    /// GPT-2's reversible map from bytes to printable Unicode characters.
    static func byteToUnicode() -> [Unicode.Scalar] {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b)) ?? " "
            } else {
                table[b] = Unicode.Scalar(256 + n) ?? " "
                n += 1
            }
        }
        return table
    }

    // MARK: encoding

    /// Token ids of `text`. With `parseSpecial`, special-token strings in the text
    /// (`<|im_start|>` ...) become their ids; otherwise they are tokenized as text.
    public func encode(_ text: String, parseSpecial: Bool = true, addBOS: Bool = false) -> [Int] {
        var out: [Int] = []
        if addBOS, let bos = bosToken { out.append(bos) }
        if parseSpecial && !specialByLength.isEmpty {
            var rest = Substring(text)
            while !rest.isEmpty {
                var found: (Range<String.Index>, Int)?
                for (s, id) in specialByLength {
                    if let r = rest.range(of: s), found.map({ r.lowerBound < $0.0.lowerBound }) ?? true {
                        found = (r, id)
                    }
                }
                guard let (range, id) = found else { break }
                encodeText(rest[rest.startIndex..<range.lowerBound], atStart: rest.startIndex == text.startIndex, into: &out)
                out.append(id)
                rest = rest[range.upperBound...]
            }
            encodeText(rest, atStart: rest.startIndex == text.startIndex, into: &out)
        } else {
            encodeText(Substring(text), atStart: true, into: &out)
        }
        return out
    }

    private func encodeText(_ text: Substring, atStart: Bool, into out: inout [Int]) {
        if text.isEmpty { return }
        if case let .sentencePiece(options) = model {
            encodeSentencePiece(text, atStart: atStart, options: options, into: &out)
            return
        }
        let scalars = Array(text.unicodeScalars)
        var cache: [ArraySlice<Unicode.Scalar>: [Int32]] = [:]
        var symbols: [Int32] = []
        for piece in preTokenizer.split(scalars) {
            let slice = scalars[piece]
            if let ids = cache[slice] {
                out.append(contentsOf: ids.lazy.map(Int.init))
                continue
            }
            symbols.removeAll(keepingCapacity: true)
            for s in slice {
                for b in String(s).utf8 where byteTokens[Int(b)] >= 0 { symbols.append(byteTokens[Int(b)]) }
            }
            bpe(&symbols)
            if slice.count < 64 { cache[slice] = symbols }
            out.append(contentsOf: symbols.lazy.map(Int.init))
        }
    }

    /// SentencePiece-style: ▁ for spaces, the dummy prefix, then BPE over characters with
    /// `<0xXX>` tokens for characters the vocabulary lacks (as `tokenizers`' BPE with byte_fallback).
    private func encodeSentencePiece(_ text: Substring, atStart: Bool, options: SentencePieceOptions,
                                     into out: inout [Int]) {
        let marker: Unicode.Scalar = "\u{2581}"
        var scalars = text.unicodeScalars.map { $0 == " " ? marker : $0 }
        switch options.prefix {
        case .everySegment: scalars.insert(marker, at: 0)
        case .always where scalars.first != marker: scalars.insert(marker, at: 0)
        case .first where atStart && scalars.first != marker: scalars.insert(marker, at: 0)
        default: break
        }
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        if options.split {
            var start = 0
            for i in scalars.indices where scalars[i] == marker && i > start {
                pieces.append(scalars[start..<i])
                start = i
            }
            pieces.append(scalars[start...])
        } else {
            pieces = [scalars[...]]
        }
        var symbols: [Int32] = []
        for piece in pieces {
            symbols.removeAll(keepingCapacity: true)
            var lastUnknown = false
            for s in piece {
                if let id = vocab[String(s)] {
                    symbols.append(Int32(id))
                    lastUnknown = false
                    continue
                }
                let bytes = Array(String(s).utf8)
                if bytes.allSatisfy({ byteTokens[Int($0)] >= 0 }) {
                    for b in bytes { symbols.append(byteTokens[Int(b)]) }
                    lastUnknown = false
                } else if let unk = options.unknownToken, !lastUnknown {
                    symbols.append(Int32(unk))  // fuse_unk: one <unk> for a run
                    lastUnknown = true
                }
            }
            bpe(&symbols)
            out.append(contentsOf: symbols.lazy.map(Int.init))
        }
    }

    /// Merges the lowest-ranked adjacent pair until none is in the merge table.
    private func bpe(_ symbols: inout [Int32]) {
        while symbols.count > 1 {
            var best: (rank: Int32, id: Int32, at: Int)?
            for i in 0..<symbols.count - 1 {
                let key = UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))
                if let m = merges[key], m.rank < (best?.rank ?? .max) { best = (m.rank, m.id, i) }
            }
            guard let b = best else { return }
            // Merge every non-overlapping occurrence of this pair, left to right.
            let left = symbols[b.at], right = symbols[b.at + 1]
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == left && symbols[i + 1] == right {
                    merged.append(b.id)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
    }

    // MARK: decoding

    /// The bytes a token stands for (special tokens: their text).
    public func bytes(of id: Int) -> [UInt8] {
        guard id >= 0, id < tokens.count else { return [] }
        let token = tokens[id]
        if specialTokens[token] != nil { return Array(token.utf8) }
        if case .sentencePiece = model {
            let u = Array(token.utf8)
            if u.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"), let b = UInt8(token.dropFirst(3).prefix(2), radix: 16) {
                return [b]
            }
            return Array(token.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
        }
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            if let b = charToByte[s.value] { out.append(b) } else { out.append(contentsOf: String(s).utf8) }
        }
        return out
    }

    /// The text of `ids`; invalid UTF-8 (a character cut between tokens) becomes U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if skipSpecial, id >= 0, id < tokens.count, specialTokens[tokens[id]] != nil { continue }
            bytes.append(contentsOf: self.bytes(of: id))
        }
        // SentencePiece decoders drop the dummy prefix's space.
        if case .sentencePiece = model, bytes.first == 0x20 { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The id of a token's exact string, if in the vocabulary.
    public func id(of token: String) -> Int? { vocab[token] }
}
