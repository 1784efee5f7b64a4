public import Foundation

/// Matches ground-truth files to output files by stem and scores each pair.
public struct FolderScorer: Sendable {
    public var scorer: TextScorer
    public var reader = DocumentReader()

    public init(scorer: TextScorer) {
        self.scorer = scorer
    }

    /// The file's name without its known extensions: `000.jpg.json` and `000.csv` are both `000`.
    public static func stem(_ name: String) -> String {
        var stem = name
        // An array, not a Set: a Set<String> costs a runtime conformance lookup at start-up.
        let known = ["txt", "csv", "json", "xml", "jpg", "jpeg", "png", "tif", "tiff", "gt", "ocr", "alto", "page"]
        while let dot = stem.lastIndex(of: "."), dot != stem.startIndex,
              known.contains(stem[stem.index(after: dot)...].lowercased())
        {
            stem = String(stem[..<dot])
        }
        return stem
    }

    /// Files under `folder` (recursively) that Skiff can read, keyed by relative folder + stem.
    public static func files(in folder: URL, extensions: Set<String>) throws(ScoringError) -> [String: URL] {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
        else { throw .unreadable(path: folder.path, reason: "cannot list the folder") }
        var result: [String: URL] = [:]
        let base = folder.standardizedFileURL.path
        for case let url as URL in enumerator {
            guard extensions.contains(url.pathExtension.lowercased()),
                  (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
            else { continue }
            let full = url.standardizedFileURL
            var relative = full.deletingLastPathComponent().path
            relative = relative.hasPrefix(base) ? String(relative.dropFirst(base.count)) : relative
            while relative.hasPrefix("/") { relative.removeFirst() }
            let key = (relative.isEmpty ? "" : relative + "/") + stem(full.lastPathComponent)
            if let other = result[key] {
                throw .duplicateStem(stem: key, paths: [other.path, full.path].sorted())
            }
            result[key] = full
        }
        return result
    }

    public static let textExtensions: Set<String> = ["txt", "csv", "json", "xml"]

    /// Scores every ground-truth document; a missing output scores as an empty text.
    public func score(groundTruth: URL, output: URL, keepingAlignments: Bool) throws(ScoringError) -> FolderResult {
        let truths = try Self.files(in: groundTruth, extensions: Self.textExtensions)
        let outputs = try Self.files(in: output, extensions: Self.textExtensions)
        var documents: [DocumentResult] = []
        for key in truths.keys.sorted() {
            guard let gtURL = truths[key] else { continue }
            let reference = try reader.text(at: gtURL).text
            var hypothesis = ""
            var outPath: String?
            if let outURL = outputs[key] {
                hypothesis = try reader.text(at: outURL).text
                outPath = outURL.path
            }
            documents.append(DocumentResult.make(name: key, groundTruthPath: gtURL.path, outputPath: outPath,
                                                 reference: reference, hypothesis: hypothesis, scorer: scorer,
                                                 keepingAlignment: keepingAlignments))
        }
        let missing = documents.filter { $0.outputPath == nil }.map(\.name)
        let extra = outputs.keys.filter { truths[$0] == nil }.sorted()
        return FolderResult(profile: scorer.profile, orderInsensitive: scorer.orderInsensitive, documents: documents,
                            missing: missing, extra: extra)
    }
}

/// One scored document, with the texts and alignment kept when a report needs them.
public struct DocumentResult: Sendable {
    public var name: String
    public var groundTruthPath: String
    public var outputPath: String?
    public var score: TextScore
    public var reference: String
    public var hypothesis: String
    public var alignment: TextAlignment?

    public static func make(name: String, groundTruthPath: String, outputPath: String?, reference: String,
                            hypothesis: String, scorer: TextScorer, keepingAlignment: Bool) -> DocumentResult
    {
        if keepingAlignment {
            let (score, alignment) = scorer.scoreWithAlignment(reference: reference, hypothesis: hypothesis)
            return DocumentResult(name: name, groundTruthPath: groundTruthPath, outputPath: outputPath, score: score,
                                  reference: reference, hypothesis: hypothesis, alignment: alignment)
        }
        return DocumentResult(name: name, groundTruthPath: groundTruthPath, outputPath: outputPath,
                              score: scorer.score(reference: reference, hypothesis: hypothesis),
                              reference: reference, hypothesis: hypothesis, alignment: nil)
    }
}

/// A folder's documents with micro and macro averages.
public struct FolderResult: Sendable {
    public var profile: ScoringProfile
    public var orderInsensitive: Bool
    public var documents: [DocumentResult]
    /// Ground-truth stems with no output (scored as all deletions).
    public var missing: [String]
    /// Output stems with no ground truth (not scored).
    public var extra: [String]

    public init(profile: ScoringProfile, orderInsensitive: Bool, documents: [DocumentResult], missing: [String],
                extra: [String])
    {
        self.profile = profile
        self.orderInsensitive = orderInsensitive
        self.documents = documents
        self.missing = missing
        self.extra = extra
    }

    /// Σ errors / Σ reference units.
    public var microCharacters: ErrorCounts { ErrorCounts.sum(documents.map(\.score.characters), profile: profile) }
    public var microWords: ErrorCounts { ErrorCounts.sum(documents.map(\.score.words), profile: profile) }
    /// Mean of the documents' rates (+∞ if any document's is).
    public var macroCER: Double { mean(documents.map(\.score.cer)) }
    public var macroWER: Double { mean(documents.map(\.score.wer)) }

    private func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
}
