public import Foundation
public import SkiffDecoder
public import SkiffExtraction
import SkiffTokenizer

/// Ranks the candidate spans of a field by SmolLM2's likelihood: the page's first lines go
/// into a chat prompt once per document, then each candidate is scored as the answer after
/// `Company:` / `Address:`. Candidates share token prefixes (an address and its shorter cuts,
/// names starting alike), so they are scored as a trie over one KV cache: a shared prefix is
/// computed once and only the tokens where candidates differ cost a step, and the cue
/// tokens every candidate shares are fed in one prefill (the forced-token fast-forward).
/// Whitespace is bounded by construction: values are page words joined by single spaces.
public final class LanguageModelRanker: CandidateRanker, @unchecked Sendable {
    public let name: String
    public let kinds: Set<FieldKind>
    let model: LlamaModel
    let tokenizer: BPETokenizer
    /// Lines of the page put in the prompt: company and address sit at the top.
    let maxLines: Int
    let threads: Int
    /// Token cap per candidate: longer spans are not addresses.
    let maxValueTokens = 64
    // Idle decoder sessions (each owns a KV cache); `lock` guards the list.
    private var idle: [DecoderSession] = []
    private let lock = NSLock()

    /// The default model file, relative to the working folder (`tools/setup.sh` installs it).
    public static let defaultModel = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// - Parameters:
    ///   - threads: kernel threads per document (1 when several documents run at once).
    public init(modelPath: String = LanguageModelRanker.defaultModel, kinds: Set<FieldKind> = [.company, .address],
                maxLines: Int = 10, threads: Int = 1) throws(ExtractionError) {
        do {
            model = try LlamaModel(path: modelPath)
        } catch {
            throw .engineUnavailable("language model \(modelPath): \(error)")
        }
        guard let tokenizer = model.tokenizer else { throw .engineUnavailable("language model \(modelPath) has no tokenizer") }
        self.tokenizer = tokenizer
        self.kinds = kinds
        self.maxLines = maxLines
        self.threads = max(1, threads)
        name = "smollm2-135m"
    }

    public func session(lines: [String]) throws(ExtractionError) -> any RankingSession {
        lock.lock()
        let decoder = idle.popLast() ?? DecoderSession(model: model, capacity: 1024, threads: threads, batchSize: 64)
        lock.unlock()
        let text = lines.prefix(maxLines).map { String($0.prefix(80)) }.joined(separator: "\n")
        let prompt = "<|im_start|>system\nYou copy fields from receipts and invoices exactly as printed.<|im_end|>\n"
            + "<|im_start|>user\nThe top of the document, as read by OCR:\n\(text)\n"
            + "Give the name of the company that issued it and its address.<|im_end|>\n<|im_start|>assistant\n"
        do {
            decoder.reset()
            try decoder.prefill([.tokens(tokenizer.encode(prompt))])
        } catch {
            give(decoder)
            throw .engineUnavailable("language model prompt: \(error)")
        }
        return Session(ranker: self, decoder: decoder)
    }

    fileprivate func give(_ decoder: DecoderSession) {
        lock.lock()
        idle.append(decoder)
        lock.unlock()
    }

    fileprivate static func label(_ kind: FieldKind) -> String {
        switch kind {
        case .company: "Company"
        case .address: "Address"
        case .date: "Date"
        case .total: "Total"
        default: kind.rawValue
        }
    }

    final class Session: RankingSession {
        let ranker: LanguageModelRanker
        let decoder: DecoderSession
        /// Positions holding the prompt.
        let promptLength: Int
        /// Scores already computed, by cue and value (the ranking modes ask for the same ones).
        var known: [String: Double] = [:]

        init(ranker: LanguageModelRanker, decoder: DecoderSession) {
            self.ranker = ranker
            self.decoder = decoder
            promptLength = decoder.position
        }

        deinit { ranker.give(decoder) }

        func logLikelihoods(of values: [String], kind: FieldKind, context: [(FieldKind, String)]) throws(ExtractionError) -> [Double] {
            let cue = context.map { "\(LanguageModelRanker.label($0.0)): \($0.1)\n" }.joined() + LanguageModelRanker.label(kind) + ":"
            let missing = Array(Set(values.filter { known[cue + "\u{0}" + $0] == nil }))
            do {
                if !missing.isEmpty {
                    for (value, score) in zip(missing, try score(missing, cue: cue)) { known[cue + "\u{0}" + value] = score }
                }
                return values.map { known[cue + "\u{0}" + $0] ?? -.infinity }
            } catch {
                throw .engineUnavailable("language model ranking: \(error)")
            }
        }

        private func score(_ values: [String], cue: String) throws -> [Double] {
            let tok = ranker.tokenizer
            decoder.truncate(to: promptLength)
            let cueLogits = try decoder.prefill([.tokens(tok.encode(cue, parseSpecial: false))])
            let base = decoder.position
            let newline = tok.encode("\n", parseSpecial: false)
            let sequences = values.map { Array(tok.encode(" " + $0, parseSpecial: false).prefix(ranker.maxValueTokens)) + newline }
            let sums = try LanguageModelRanker.logProbabilities(of: sequences, decoder: decoder, base: base, cueLogits: cueLogits)
            // Per token, so a value cut short is not favoured for being short.
            return zip(sums, sequences).map { $0 / Double($1.count) }
        }
    }

    /// Log-probability of each token sequence after the decoder's position `base` (where
    /// `cueLogits` were produced), scored as a trie over one KV cache: sequences in
    /// lexicographic order, so a shared prefix is computed once and only the tokens where they
    /// differ cost a step; each sequence's last token is only scored. Empty sequences get -inf.
    static func logProbabilities(of sequences: [[Int]], decoder: DecoderSession, base: Int,
                                 cueLogits: [Float]) throws -> [Double] {
        let order = sequences.indices.sorted { sequences[$0].lexicographicallyPrecedes(sequences[$1]) }
        var path: [Int] = []                       // tokens in the cache after `base`
        var rows: [Row] = [Row(cueLogits)]         // rows[i]: next-token distribution after path[..<i]
        var cumulative: [Double] = [0]             // cumulative[i]: log p(path[..<i])
        var out = [Double](repeating: -.infinity, count: sequences.count)
        for index in order {
            let sequence = sequences[index]
            guard !sequence.isEmpty else { continue }
            var common = 0
            while common < path.count, common < sequence.count - 1, path[common] == sequence[common] { common += 1 }
            path.removeSubrange(common...)
            rows.removeSubrange((common + 1)...)
            cumulative.removeSubrange((common + 1)...)
            decoder.truncate(to: base + common)
            let fresh = Array(sequence[common..<(sequence.count - 1)])
            if !fresh.isEmpty {
                rows += try decoder.logitsAfterEach(fresh).map(Row.init)
                path += fresh
            }
            for j in common..<sequence.count {
                cumulative.append(cumulative[j] + rows[j].logProbability(sequence[j]))
            }
            out[index] = cumulative[sequence.count]
        }
        return out
    }

    /// Logits with their log-sum-exp, computed once per row.
    struct Row {
        let logits: [Float]
        let logSumExp: Double
        init(_ logits: [Float]) {
            self.logits = logits
            let top = Double(logits.max() ?? 0)
            var sum = 0.0
            for v in logits { sum += exp(Double(v) - top) }
            logSumExp = top + log(sum)
        }
        func logProbability(_ token: Int) -> Double { Double(logits[token]) - logSumExp }
    }
}
