import ArgumentParser
import Foundation
import SkiffScoring
import SkiffJSON

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score OCR or extraction output against ground truth: CER, WER, field F1.",
        discussion: """
            GT and OCR are both files or both folders (matched by file stem: 000.csv ~ 000.jpg.json).
            Text: .txt plain UTF-8, .csv SROIE box rows, .json Skiff OCR JSON, .xml ALTO or PAGE.
            With --fields, .json files of extracted fields (Donut-style F1 and tree-edit-distance accuracy).
            Profiles: \(ScoringProfile.allCases.map(\.rawValue).joined(separator: ", ")) (each report prints its definition).
            """)

    @Argument(help: "Ground truth: a file or a folder.")
    var groundTruth: String

    @Argument(help: "Output to score: a file or a folder.")
    var output: String

    @Option(help: "Normalisation profile: none, nfc, nfc+ligatures, isri, jiwer, casefold.")
    var profile: String = "nfc"

    @Flag(help: "Score JSON fields (precision / recall / F1, tree-edit-distance accuracy) instead of text.")
    var fields = false

    @Option(help: "With --fields: value normalisers to apply, comma-separated (spaces, case, amount, date).")
    var normalize: String = ""

    @Flag(help: "Compare regardless of line order: output lines are matched to ground-truth lines first.")
    var orderInsensitive = false

    @Option(help: "Write report.json and a self-contained report.html into this folder.")
    var report: String?

    @Flag(help: "Print the result object (cer, wer, counts, profile) as JSON.")
    var json = false

    var invocation: ScoreInvocation {
        ScoreInvocation(groundTruth: groundTruth, output: output, profile: profile, fields: fields,
                        normalize: normalize, orderInsensitive: orderInsensitive, report: report, json: json)
    }

    func validate() throws {
        if let problem = invocation.validationProblem() { throw ValidationError(problem) }
    }

    func run() throws {
        let status = invocation.execute()
        if status != 0 { throw ExitCode(status) }
    }
}

/// `skiff score`'s options as plain values: what `ScoreCommand` parses, and what `SkiffMain`
/// reads directly for plain argument lists so that scoring a page does not wait for
/// ArgumentParser's reflection over every command (about a third of a small page's time).
struct ScoreInvocation {
    var groundTruth: String
    var output: String
    var profile = "nfc"
    var fields = false
    var normalize = ""
    var orderInsensitive = false
    var report: String?
    var json = false

    /// `score GT OCR` followed by the options above (`--name value` or `--name=value`), each
    /// at most once, no value starting with "-". Anything else — help, unknown or repeated
    /// options, a wrong number of paths, invalid values — gives nil: ArgumentParser then
    /// parses the same arguments and answers with its usual messages.
    static func fastParse(_ arguments: [String]) -> ScoreInvocation? {
        guard arguments.first == "score" else { return nil }
        // Plain variables rather than a Set or Dictionary: each new generic type costs a
        // runtime metadata lookup at start-up.
        var paths: [String] = []
        var profile: String?, normalize: String?, report: String?
        var json = false, fields = false, orderInsensitive = false
        var i = 1
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--") else {
                if argument.hasPrefix("-") || argument.isEmpty { return nil }
                paths.append(argument)
                continue
            }
            var name = Substring(argument)
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = argument[..<equals]
                value = String(argument[argument.index(after: equals)...])
            }
            switch name {
            case "--json", "--fields", "--order-insensitive":
                guard value == nil else { return nil }
                if name == "--json" {
                    if json { return nil }
                    json = true
                } else if name == "--fields" {
                    if fields { return nil }
                    fields = true
                } else {
                    if orderInsensitive { return nil }
                    orderInsensitive = true
                }
            case "--profile", "--normalize", "--report":
                if value == nil {
                    guard i < arguments.count else { return nil }
                    value = arguments[i]
                    i += 1
                }
                guard let value, !value.hasPrefix("-") else { return nil }
                if name == "--profile" {
                    if profile != nil { return nil }
                    profile = value
                } else if name == "--normalize" {
                    if normalize != nil { return nil }
                    normalize = value
                } else {
                    if report != nil { return nil }
                    report = value
                }
            default:
                return nil
            }
        }
        guard paths.count == 2 else { return nil }
        var invocation = ScoreInvocation(groundTruth: paths[0], output: paths[1])
        invocation.profile = profile ?? "nfc"
        invocation.normalize = normalize ?? ""
        invocation.report = report
        invocation.json = json
        invocation.fields = fields
        invocation.orderInsensitive = orderInsensitive
        return invocation.validationProblem() == nil ? invocation : nil
    }

    /// Why the options cannot be used together, or nil.
    func validationProblem() -> String? {
        guard ScoringProfile(rawValue: profile) != nil else {
            return "unknown profile '\(profile)'; known: \(ScoringProfile.allCases.map(\.rawValue).joined(separator: ", "))"
        }
        for name in normalizerNames where FieldNormalizer(rawValue: name) == nil {
            return "unknown normaliser '\(name)'; known: \(FieldNormalizer.allCases.map(\.rawValue).joined(separator: ", "))"
        }
        if !normalizerNames.isEmpty && !fields { return "--normalize applies to --fields only" }
        return nil
    }

    private var normalizerNames: [String] {
        normalize.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Scores and prints; the exit status (1 after printing the error).
    func execute() -> Int32 {
        do {
            try score()
            return 0
        } catch {
            printError("skiff score: \(error)")
            return 1
        }
    }

    /// Whether `path` is a folder (symbolic links followed), as FileManager's `fileExists`
    /// would say, with one stat call and without setting up FileManager.
    private func kind(_ path: String) throws(ScoringError) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .unreadable(path: path, reason: "no such file or folder")
        }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }

    private func score() throws(ScoringError) {
        let gtURL = URL(fileURLWithPath: groundTruth)
        let outURL = URL(fileURLWithPath: output)
        let gtIsFolder = try kind(groundTruth)
        let outIsFolder = try kind(output)
        guard gtIsFolder == outIsFolder else {
            throw .mismatchedInputs("\(gtIsFolder ? groundTruth : output) is a folder but \(gtIsFolder ? output : groundTruth) is a file; give two files or two folders")
        }
        if fields {
            try scoreFields(gtURL, outURL, folders: gtIsFolder)
            return
        }
        let scorer = TextScorer(profile: ScoringProfile(rawValue: profile) ?? .nfc, orderInsensitive: orderInsensitive)
        let needsAlignment = report != nil
        let result: FolderResult
        if gtIsFolder {
            result = try FolderScorer(scorer: scorer).score(groundTruth: gtURL, output: outURL,
                                                            keepingAlignments: needsAlignment)
        } else {
            let reader = DocumentReader()
            let reference = try reader.text(at: gtURL).text
            let hypothesis = try reader.text(at: outURL).text
            let document = DocumentResult.make(
                name: FolderScorer.stem(gtURL.lastPathComponent), groundTruthPath: gtURL.path, outputPath: outURL.path,
                reference: reference, hypothesis: hypothesis, scorer: scorer, keepingAlignment: needsAlignment)
            result = FolderResult(profile: scorer.profile, orderInsensitive: orderInsensitive, documents: [document],
                                  missing: [], extra: [])
        }
        let jsonText = gtIsFolder
            ? ScoreReport.json(ScoreReport.Folder(result))
            : ScoreReport.json(ScoreReport.Document(result.documents[0]))
        if let report {
            let folder = URL(fileURLWithPath: report)
            try write(jsonText + "\n", to: folder.appendingPathComponent("report.json"))
            let html = HTMLReport(title: "Skiff score: \(gtURL.lastPathComponent) vs \(outURL.lastPathComponent)").render(result)
            try write(html, to: folder.appendingPathComponent("report.html"))
        }
        if json {
            print(jsonText)
        } else {
            printSummary(result, folders: gtIsFolder)
        }
    }

    private func printSummary(_ result: FolderResult, folders: Bool) {
        let c = result.microCharacters
        let w = result.microWords
        print("profile \(result.profile.rawValue)\(result.orderInsensitive ? ", order-insensitive" : ""): \(result.profile.definition)")
        if folders { print("\(result.documents.count) documents; micro averages (Σ errors / Σ reference units):") }
        print("CER \(percent(c.rate))  (\(c.errors) errors / \(c.referenceUnits) characters: \(c.substitutions) substitutions, \(c.deletions) deletions, \(c.insertions) insertions)")
        print("WER \(percent(w.rate))  (\(w.errors) errors / \(w.referenceUnits) words: \(w.substitutions) substitutions, \(w.deletions) deletions, \(w.insertions) insertions)")
        if folders {
            print("macro (mean of documents): CER \(percent(result.macroCER)), WER \(percent(result.macroWER))")
            if !result.missing.isEmpty { print("no output for (scored as all deletions): \(result.missing.joined(separator: ", "))") }
            if !result.extra.isEmpty { print("outputs without ground truth (not scored): \(result.extra.joined(separator: ", "))") }
            let worst = result.documents.sorted { $0.score.cer > $1.score.cer }.prefix(5)
            print("highest CER: " + worst.map { "\($0.name) \(percent($0.score.cer))" }.joined(separator: ", "))
        }
        if let report { print("report: \(URL(fileURLWithPath: report).appendingPathComponent("report.html").path)") }
    }

    private func scoreFields(_ gtURL: URL, _ outURL: URL, folders: Bool) throws(ScoringError) {
        let normalizers = normalizerNames.compactMap(FieldNormalizer.init(rawValue:))
        let scorer = FieldScorer(normalizers: normalizers)
        let reader = DocumentReader()
        var documents: [(String, FieldScore)] = []
        var missing: [String] = []
        var extra: [String] = []
        if folders {
            let truths = try FolderScorer.files(in: gtURL, extensions: ["json"])
            let outputs = try FolderScorer.files(in: outURL, extensions: ["json"])
            for key in truths.keys.sorted() {
                guard let t = truths[key] else { continue }
                let hypothesis: JSONValue
                if let o = outputs[key] { hypothesis = try reader.fields(at: o) } else {
                    missing.append(key)
                    hypothesis = .object(JSONObject())
                }
                documents.append((key, scorer.score(reference: try reader.fields(at: t), hypothesis: hypothesis)))
            }
            extra = outputs.keys.filter { truths[$0] == nil }.sorted()
        } else {
            documents.append((FolderScorer.stem(gtURL.lastPathComponent),
                              scorer.score(reference: try reader.fields(at: gtURL), hypothesis: try reader.fields(at: outURL))))
        }
        let summary = ScoreReport.FieldFolder(normalizers: normalizers, documents: documents, missing: missing, extra: extra)
        let text = folders ? try ScoreReport.encode(summary) : try ScoreReport.encode(summary.documents[0])
        if let report { try write(text + "\n", to: URL(fileURLWithPath: report).appendingPathComponent("report.json")) }
        if json {
            print(text)
            return
        }
        func show(_ v: Double?) -> String { v.map(percent) ?? "n/a" }
        print("fields (Donut/SROIE: flattened key/value pairs, multiset match\(normalizers.isEmpty ? "" : "; normalisers: " + normalizers.map(\.rawValue).joined(separator: ", "))):")
        print("F1 \(show(summary.f1))  precision \(show(summary.precision))  recall \(show(summary.recall))  (TP \(summary.counts.truePositives), FP \(summary.counts.falsePositives), FN \(summary.counts.falseNegatives))")
        print("tree-edit-distance accuracy \(show(summary.treeEditDistanceAccuracy))")
        for key in summary.fields.keys.sorted() {
            guard let f = summary.fields[key] else { continue }
            print("  \(key): F1 \(show(f.f1)) (TP \(f.truePositives), FP \(f.falsePositives), FN \(f.falseNegatives))")
        }
        if !missing.isEmpty { print("no output for: \(missing.joined(separator: ", "))") }
        if !extra.isEmpty { print("outputs without ground truth: \(extra.joined(separator: ", "))") }
    }

    private func write(_ text: String, to url: URL) throws(ScoringError) {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw .unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

private func percent(_ value: Double) -> String {
    if value.isInfinite { return "Infinity" }
    return String(format: "%.2f%%", value * 100)
}
