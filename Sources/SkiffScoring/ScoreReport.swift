internal import Foundation

/// The JSON written by `skiff score --json` and `--report`: every count, the profile and
/// its definition. Non-finite rates are written as the strings "Infinity" / "NaN".
public enum ScoreReport {
    public struct Counts: Codable, Sendable {
        public var reference: Int
        public var hypothesis: Int
        public var hits: Int
        public var substitutions: Int
        public var deletions: Int
        public var insertions: Int
        public var errors: Int
        public var rate: Double

        init(_ c: ErrorCounts) {
            reference = c.referenceUnits
            hypothesis = c.hypothesisUnits
            hits = c.hits
            substitutions = c.substitutions
            deletions = c.deletions
            insertions = c.insertions
            errors = c.errors
            rate = c.rate
        }
    }

    public struct Document: Codable, Sendable {
        public var name: String
        public var groundTruth: String?
        public var output: String?
        public var profile: String
        public var definition: String
        public var orderInsensitive: Bool
        public var cer: Double
        public var wer: Double
        public var characters: Counts
        public var words: Counts
        public var confusions: [ISRIConfusion]?

        public init(name: String, groundTruth: String? = nil, output: String? = nil, score: TextScore,
                    confusions: [ISRIConfusion]? = nil)
        {
            self.name = name
            self.groundTruth = groundTruth
            self.output = output
            profile = score.profile.rawValue
            definition = score.profile.definition
            orderInsensitive = score.orderInsensitive
            cer = score.cer
            wer = score.wer
            characters = Counts(score.characters)
            words = Counts(score.words)
            self.confusions = confusions
        }

        public init(_ d: DocumentResult) {
            self.init(name: d.name, groundTruth: d.groundTruthPath, output: d.outputPath, score: d.score,
                      confusions: d.alignment.map { Confusions.isriRuns($0.characters, $0.characterOperations) })
        }
    }

    public struct Average: Codable, Sendable {
        public var cer: Double
        public var wer: Double
    }

    public struct Folder: Codable, Sendable {
        public var profile: String
        public var definition: String
        public var orderInsensitive: Bool
        /// Micro averages: Σ errors / Σ reference units.
        public var cer: Double
        public var wer: Double
        public var characters: Counts
        public var words: Counts
        public var micro: Average
        /// Mean of per-document rates.
        public var macro: Average
        public var documents: [Document]
        public var missing: [String]
        public var extra: [String]

        public init(_ f: FolderResult) {
            profile = f.profile.rawValue
            definition = f.profile.definition
            orderInsensitive = f.orderInsensitive
            let c = f.microCharacters
            let w = f.microWords
            cer = c.rate
            wer = w.rate
            characters = Counts(c)
            words = Counts(w)
            micro = Average(cer: c.rate, wer: w.rate)
            macro = Average(cer: f.macroCER, wer: f.macroWER)
            documents = f.documents.map(Document.init)
            missing = f.missing
            extra = f.extra
        }
    }

    public struct FieldDocument: Codable, Sendable {
        public var name: String
        public var normalizers: [String]
        public var precision: Double?
        public var recall: Double?
        public var f1: Double?
        public var treeEditDistanceAccuracy: Double?
        public var counts: FieldCounts
        public var fields: [String: FieldSummary]
        public var missed: [FieldPair]
        public var spurious: [FieldPair]

        public init(name: String, normalizers: [FieldNormalizer], score: FieldScore) {
            self.name = name
            self.normalizers = normalizers.map(\.rawValue)
            precision = score.overall.precision
            recall = score.overall.recall
            f1 = score.overall.f1
            treeEditDistanceAccuracy = score.treeEditDistanceAccuracy
            counts = score.overall
            fields = score.fields.mapValues(FieldSummary.init)
            missed = score.missed
            spurious = score.spurious
        }
    }

    public struct FieldSummary: Codable, Sendable {
        public var precision: Double?
        public var recall: Double?
        public var f1: Double?
        public var truePositives: Int
        public var falsePositives: Int
        public var falseNegatives: Int

        init(_ c: FieldCounts) {
            precision = c.precision
            recall = c.recall
            f1 = c.f1
            truePositives = c.truePositives
            falsePositives = c.falsePositives
            falseNegatives = c.falseNegatives
        }
    }

    public struct FieldFolder: Codable, Sendable {
        public var normalizers: [String]
        /// Micro averages over all documents (Donut's corpus F1).
        public var precision: Double?
        public var recall: Double?
        public var f1: Double?
        /// Mean tree-edit-distance accuracy over documents that have one.
        public var treeEditDistanceAccuracy: Double?
        public var counts: FieldCounts
        public var fields: [String: FieldSummary]
        public var documents: [FieldDocument]
        public var missing: [String]
        public var extra: [String]

        public init(normalizers: [FieldNormalizer], documents: [(String, FieldScore)], missing: [String], extra: [String]) {
            self.normalizers = normalizers.map(\.rawValue)
            var total = FieldCounts()
            var perField: [String: FieldCounts] = [:]
            for (_, s) in documents {
                total += s.overall
                for (k, v) in s.fields { perField[k, default: FieldCounts()] += v }
            }
            precision = total.precision
            recall = total.recall
            f1 = total.f1
            let accuracies = documents.compactMap(\.1.treeEditDistanceAccuracy)
            treeEditDistanceAccuracy = accuracies.isEmpty ? nil : accuracies.reduce(0, +) / Double(accuracies.count)
            counts = total
            fields = perField.mapValues(FieldSummary.init)
            self.documents = documents.map { FieldDocument(name: $0.0, normalizers: normalizers, score: $0.1) }
            self.missing = missing
            self.extra = extra
        }
    }

    /// Pretty JSON with sorted keys; never a bare Infinity or NaN.
    public static func encode(_ value: some Encodable) throws(ScoringError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw .unsupportedFormat(path: "report", reason: "cannot encode JSON: \(error)")
        }
    }
}
