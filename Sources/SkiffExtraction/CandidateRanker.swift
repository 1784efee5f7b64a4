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
}
