/// Scores candidate values for a field by how likely a language model finds each one as
/// that field's value, having read the page. The candidates are spans of the OCR words (the
/// rules' picks and the other lines they could have picked), so whatever the model prefers
/// is copied from the page: the copy-from-page constraint as a choice among spans.
/// `SkiffSpanRanker.LanguageModelRanker` runs SmolLM2 for it.
public protocol CandidateRanker: Sendable {
    var name: String { get }
    /// The field kinds it ranks; the rules alone choose the others.
    var kinds: Set<FieldKind> { get }
    /// Reads one document's text (lines in reading order) once, for all its fields.
    func session(lines: [String]) throws(ExtractionError) -> any RankingSession
}

/// One document read by a ranker. Not shared between tasks.
public protocol RankingSession: AnyObject {
    /// The mean log-probability per token of each value (followed by the end of the value),
    /// in order, as the field `kind`, after the values already chosen for `context`.
    func logLikelihoods(of values: [String], kind: FieldKind, context: [(FieldKind, String)]) throws(ExtractionError) -> [Double]
}

/// How the rule engine chooses a field's value when a ranker is present.
public enum RankingMode: String, Sendable, CaseIterable {
    /// Rule strength, OCR-pass agreement and confidence only.
    case rules
    /// The ranker's likelihood alone, over the rules' candidates and the page's other lines.
    case lm
    /// Rule score plus the ranker's probability (softmax over the candidates of 3 × the mean
    /// log-probability per token).
    case combined
    /// The generator's value (a page span written under the constraint), null when it declines.
    case generate
    /// The rules' value, except for the kinds where generation measured better
    /// (`RuleEngine.generatedKinds`, none on sroie-dev) and the dates and amounts the rules found
    /// nothing for.
    case hybrid

    /// Whether the mode needs a ranker or a generator.
    public var usesRanker: Bool { self == .lm || self == .combined }
    public var usesGenerator: Bool { self == .generate || self == .hybrid }
}

/// Writes a field's value with a language model under a constraint: a span of the page's
/// words (copy-from-page) or one of a list of pattern matches found on the page (dates,
/// amounts), or null when the model declines. `SkiffSpanRanker.LanguageModelGenerator` runs
/// SmolLM2 under `SkiffConstraint`'s grammar for it.
public protocol SpanGenerator: Sendable {
    var name: String { get }
    /// The field kinds it writes; the rules alone choose the others.
    var kinds: Set<FieldKind> { get }
    /// Reads one document (its lines in reading order, each as its OCR words) once, for all its fields.
    func session(lines: [[String]]) throws(ExtractionError) -> any GenerationSession
}

/// What a generator is asked to write for one field.
public struct FieldRequest: Sendable, Hashable {
    public var kind: FieldKind
    /// nil: any run of consecutive words of the lines given to the session; otherwise the
    /// value must be one of these strings (each a span of the page the caller knows).
    public var choices: [String]?
    /// For a copied value: the lines (indexes into the session's lines) it may be copied from,
    /// a position cue (the issuer's name and address head the page); nil: any line.
    public var lines: Range<Int>?

    public init(kind: FieldKind, choices: [String]? = nil, lines: Range<Int>? = nil) {
        self.kind = kind
        self.choices = choices
        self.lines = lines
    }
}

/// One value a generator wrote.
public struct GeneratedValue: Sendable, Hashable {
    /// The value as written (a span of the page's words, or one of the request's choices).
    public var text: String
    /// For a copied value: the word indexes it came from, counting the words of all lines
    /// given to the session in order.
    public var words: Range<Int>?
    /// The probability of the tokens the model chose (geometric mean over the tokens it chose
    /// among several allowed ones, the constraint renormalised), 0–1.
    public var probability: Double

    public init(text: String, words: Range<Int>?, probability: Double) {
        self.text = text
        self.words = words
        self.probability = probability
    }
}

/// The outcome of one field's generation.
public enum GenerationOutcome: Sendable, Hashable {
    case value(GeneratedValue)
    /// The model wrote null: it found no such value on the page.
    case declined(probability: Double)
    /// No answer (the token budget ran out, or the constraint reached a dead end), with why.
    case failed(String)
}

/// One document read by a generator. Not shared between tasks.
public protocol GenerationSession: AnyObject {
    /// Each request's outcome, in order. Seconds spent are added to `seconds`.
    func generate(_ requests: [FieldRequest]) throws(ExtractionError) -> [GenerationOutcome]
    /// Model time so far in this session (prompt and generation), for the reports.
    var seconds: Double { get }
}
