public import Foundation
public import SkiffExtraction
import SkiffJSON

/// How `skiff extract` writes its results.
public enum ExtractionOutputFormat: String, Sendable, CaseIterable {
    /// `OUT/<stem>.json` (exactly the document) and `OUT/<stem>.provenance.json` per input.
    case json
    /// One `OUT/extracted.jsonl`: `{"file", "document", "provenance"}` or `{"file", "error"}` per line.
    case jsonl
    /// One `OUT/extracted.csv`: a column per schema field, plus file and error.
    case csv
}

/// Extracts many files into an output folder so that no run can lose or half-write
/// anything: every file is written to a temporary name and renamed into place, an input
/// whose output is newer than it is skipped (so a killed run resumes where it stopped),
/// and a failing input becomes an error entry while the others go on.
public struct ExtractionBatch: Sendable {
    public var pipeline: ExtractionPipeline
    public var output: URL
    public var format: ExtractionOutputFormat
    /// Redo inputs whose output is already up to date.
    public var force: Bool
    public var jobs: Int

    public init(pipeline: ExtractionPipeline, output: URL, format: ExtractionOutputFormat = .json,
                force: Bool = false, jobs: Int = 1) {
        self.pipeline = pipeline
        self.output = output
        self.format = format
        self.force = force
        self.jobs = max(1, jobs)
    }

    public enum Status: Sendable {
        case extracted(Extraction)
        case skipped
        case failed(String)
    }

    public struct Outcome: Sendable {
        public var input: InputFile
        public var status: Status
        public var seconds: Double
    }

    public struct Summary: Sendable {
        public var files = 0
        public var extracted = 0
        public var skipped = 0
        public var failures: [InputFailure] = []
        public var seconds = 0.0
        public var filesPerMinute: Double { seconds > 0 ? Double(extracted) * 60 / seconds : 0 }
    }

    /// Where per-input results live: next to the user's files for `json`, in a hidden
    /// folder (the resumable state) for the combined formats.
    var resultFolder: URL {
        format == .json ? output : output.appendingPathComponent(".skiff-extract", isDirectory: true)
    }

    /// The output stem of each input: its path relative to the folder it came from, without
    /// the extension; inputs that would collide (`a.png`, `a.jpg`) keep their extension.
    static func stems(_ inputs: [InputFile]) -> [String] {
        let plain = inputs.map { input -> String in
            let path = input.relativePath
            guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return path }
            return String(path[..<dot])
        }
        var counts: [String: Int] = [:]
        for stem in plain { counts[stem, default: 0] += 1 }
        return zip(plain, inputs).map { counts[$0]! > 1 ? $1.relativePath : $0 }
    }

    public func run(_ inputs: [InputFile], report: @Sendable (Outcome) async -> Void) async throws -> Summary {
        try FileManager.default.createDirectory(at: resultFolder, withIntermediateDirectories: true)
        AtomicFile.removeAbandoned(in: resultFolder)
        let stems = Self.stems(inputs)
        let clock = ContinuousClock()
        let start = clock.now
        var summary = Summary()
        await forEachConcurrently(inputs.count, width: jobs, operation: { index in
            await process(inputs[index], stem: stems[index], clock: clock)
        }, report: { _, outcome in
            summary.files += 1
            switch outcome.status {
            case .extracted: summary.extracted += 1
            case .skipped: summary.skipped += 1
            case .failed(let reason): summary.failures.append(InputFailure(file: outcome.input.url.path, reason: reason))
            }
            await report(outcome)
        })
        if format != .json { try writeCombined(inputs, stems: stems) }
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    private func process(_ input: InputFile, stem: String, clock: ContinuousClock) async -> Outcome {
        let began = clock.now
        let documentURL = resultFolder.appendingPathComponent(stem + ".json")
        let errorURL = resultFolder.appendingPathComponent(stem + ".error.json")
        if !force, Self.isUpToDate(documentURL, comparedWith: input.url) {
            return Outcome(input: input, status: .skipped, seconds: 0)
        }
        // An input that failed in an earlier run and has not changed since fails the same way:
        // reported again from its error entry, not redone (`--force` retries it; a file still
        // being copied gets a newer time when the copy ends, and is tried again then).
        if !force, Self.isUpToDate(errorURL, comparedWith: input.url),
           let data = try? Data(contentsOf: errorURL), let entry = try? JSONParser().parse(Array(data)),
           let reason = entry["error"]?.stringValue {
            return Outcome(input: input, status: .failed(reason + " (as in the earlier run; --force retries)"), seconds: 0)
        }
        let status: Status
        do {
            let extraction = try await pipeline.extract(contentsOf: input.url)
            // The provenance first: a document on disk always has its provenance beside it.
            try AtomicFile.write(jsonFile(extraction.provenance(file: input.url.path)),
                                     to: resultFolder.appendingPathComponent(stem + ".provenance.json"))
            try AtomicFile.write(jsonFile(extraction.document), to: documentURL)
            try? FileManager.default.removeItem(at: errorURL)
            status = .extracted(extraction)
        } catch {
            let reason = (error as? ExtractionError)?.description.dropPrefix(input.url.path + ": ") ?? "\(error)"
            var entry = JSONObject()
            entry["file"] = .string(input.url.path)
            entry["error"] = .string(reason)
            try? AtomicFile.write(jsonFile(.object(entry)), to: errorURL)
            status = .failed(reason)
        }
        return Outcome(input: input, status: status, seconds: (clock.now - began).seconds)
    }

    /// The combined file, rebuilt from the per-input results so a resumed run is complete too.
    private func writeCombined(_ inputs: [InputFile], stems: [String]) throws {
        let parser = JSONParser()
        var rows: [(file: String, document: JSONValue?, provenance: JSONValue?, error: String?)] = []
        for (input, stem) in zip(inputs, stems) {
            let base = resultFolder.appendingPathComponent(stem)
            if let d = try? Data(contentsOf: base.appendingPathExtension("json")), let document = try? parser.parse(Array(d)) {
                let p = (try? Data(contentsOf: URL(fileURLWithPath: base.path + ".provenance.json"))).flatMap { try? parser.parse(Array($0)) }
                rows.append((input.url.path, document, p, nil))
            } else if let d = try? Data(contentsOf: URL(fileURLWithPath: base.path + ".error.json")),
                      let e = try? parser.parse(Array(d)) {
                rows.append((input.url.path, nil, nil, e["error"]?.stringValue ?? "failed"))
            }
        }
        switch format {
        case .jsonl:
            var text = ""
            for row in rows {
                var o = JSONObject()
                o["file"] = .string(row.file)
                if let document = row.document {
                    o["document"] = document
                    o["provenance"] = row.provenance ?? .null
                } else {
                    o["error"] = .string(row.error ?? "failed")
                }
                text += JSONSerializer.compact.string(from: .object(o)) + "\n"
            }
            try AtomicFile.write(Data(text.utf8), to: output.appendingPathComponent("extracted.jsonl"))
        case .csv:
            let pointers = pipeline.schema.plan.fields.map(\.pointer)
            var text = (["file"] + pointers.map { String($0.dropFirst()) } + ["error"]).map(csvField).joined(separator: ",") + "\n"
            for row in rows {
                var cells = [row.file]
                for pointer in pointers {
                    let value = row.document.flatMap { Self.value(at: pointer, in: $0) }
                    switch value {
                    case .string(let s)?: cells.append(s)
                    case .null?, nil: cells.append("")
                    case let v?: cells.append(JSONSerializer.compact.string(from: v))
                    }
                }
                cells.append(row.error ?? "")
                text += cells.map(csvField).joined(separator: ",") + "\n"
            }
            try AtomicFile.write(Data(text.utf8), to: output.appendingPathComponent("extracted.csv"))
        case .json:
            break
        }
    }

    static func value(at pointer: String, in document: JSONValue) -> JSONValue? {
        var current: JSONValue? = document
        for part in pointer.split(separator: "/") {
            let key = String(part).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            current = current?[key]
        }
        return current
    }

    static func isUpToDate(_ output: URL, comparedWith input: URL) -> Bool {
        let fm = FileManager.default
        guard let out = try? fm.attributesOfItem(atPath: output.path)[.modificationDate] as? Date,
              let inp = try? fm.attributesOfItem(atPath: input.path)[.modificationDate] as? Date else { return false }
        return out >= inp
    }

}

/// Pretty JSON with a final newline, as files on disk should end.
private func jsonFile(_ value: JSONValue) -> Data {
    Data(JSONSerializer.pretty.data(from: value) + [0x0A])
}

private func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}
