import ArgumentParser
import Foundation
import SkiffJSON
import SkiffSchema

/// JSON parsing and JSON Schema validation speed, next to Foundation's JSONSerialization and
/// (with `--python`) Python `jsonschema` and `jsonschema-rs`, all in one run on the same corpus.
struct JSONBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "Parse MB/s vs JSONSerialization; validation instances/s vs jsonschema and jsonschema-rs.")

    @Option(help: "The jsonschemabench corpus folder.")
    var corpus: String = "../shared/data/jsonschemabench-dev"

    @Option(help: "Python with jsonschema and jsonschema-rs installed (tools/bench_json.sh makes one); omit to skip.")
    var python: String?

    @Option(help: "Seconds to spend on each measurement (at least one full pass).")
    var seconds: Double = 2

    @Option(help: "List the N schemas that take longest to validate their instances.")
    var slowest = 0

    @Flag(help: .hidden) var profileFast = false
    @Option(help: "Only corpus files whose path contains this text.") var only: String?

    @Flag(help: "Skip the parse measurement (for profiling validation).")
    var validationOnly = false

    func run() async throws {
        let files = corpusFiles()
        guard !files.isEmpty else {
            printError("skiff bench json: no JSON files under \(corpus)")
            throw ExitCode(1)
        }
        let blobs = try files.map { try Data(contentsOf: $0) }
        let bytes = blobs.reduce(0) { $0 + $1.count }
        let megabytes = Double(bytes) / 1_000_000
        emit("skiff bench json: \(files.count) files, \(String(format: "%.2f", megabytes)) MB, \(ProcessInfo.processInfo.activeProcessorCount) cores; best pass, thread CPU time")

        // Parsing.
        let arrays = blobs.map { Array($0) }
        let parser = JSONParser()
        if !validationOnly {
        let skiffParse = try measure {
            for a in arrays { _ = try parser.parse(a) }
        }
        let foundationParse = try measure {
            for d in blobs { _ = try JSONSerialization.jsonObject(with: d, options: [.fragmentsAllowed]) }
        }
        let skiffMBs = megabytes / skiffParse
        let foundationMBs = megabytes / foundationParse
        emit(String(format: "parse   skiff %8.1f MB/s   JSONSerialization %8.1f MB/s   ratio %.2fx", skiffMBs, foundationMBs, skiffMBs / foundationMBs))
        }

        // Validation (format assertion on: the corpus labels were made that way).
        var options = SkiffSchema.SchemaOptions()
        options.formatAssertion = true
        var cases: [(JSONSchema, [(JSONValue, Bool)])] = []
        var caseFiles: [String] = []
        var instanceCount = 0
        let compileTime = try measure(minimum: 0) {
            cases.removeAll()
            caseFiles.removeAll()
            instanceCount = 0
            for (a, file) in zip(arrays, files) {
                let doc = try parser.parse(a)
                guard let s = doc["schema"], let tests = doc["tests"]?.arrayValue, !tests.isEmpty else { continue }
                let compiled = try JSONSchema(s, options: options)
                let list = tests.compactMap { t -> (JSONValue, Bool)? in
                    guard let d = t["data"], let v = t["valid"]?.boolValue else { return nil }
                    return (d, v)
                }
                cases.append((compiled, list))
                caseFiles.append(file.lastPathComponent)
                instanceCount += list.count
            }
        }
        var agree = 0
        for (schema, list) in cases { for (d, v) in list where (try schema.isValid(d)) == v { agree += 1 } }
        if slowest > 0 {
            var per: [(Double, Int)] = []
            for (i, (schema, list)) in cases.enumerated() {
                let t = try measure(minimum: 0) { for _ in 0..<20 { for (d, _) in list { _ = try schema.isValid(d) } } }
                per.append((t / 20, i))
            }
            for (t, i) in per.sorted(by: { $0.0 > $1.0 }).prefix(slowest) {
                emit(String(format: "  slow: %@ (%d instances): %.1f µs per pass", caseFiles[i], cases[i].1.count, t * 1e6))
            }
        }
        let validateTime = try measure {
            for (schema, list) in cases { for (d, _) in list { _ = try schema.isValid(d) } }
        }
        let detailedTime = profileFast ? .infinity : try measure {
            for (schema, list) in cases { for (d, _) in list { _ = try schema.validate(d) } }
        }
        let skiffRate = Double(instanceCount) / validateTime
        emit(String(format: "validate skiff %9.0f instances/s (isValid), %9.0f instances/s (all errors); %d schemas compiled in %.1f ms; %d/%d labels agree",
            skiffRate, Double(instanceCount) / detailedTime, cases.count, compileTime * 1000, agree, instanceCount))

        guard let python else {
            emit("(give --python to compare with jsonschema and jsonschema-rs; tools/bench_json.sh does)")
            return
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/bench_validators.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, corpus, String(seconds)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let results = try? JSONParser().parse(Array(out)).objectValue else {
            printError("skiff bench json: \(script.path) failed (status \(process.terminationStatus))")
            throw ExitCode(1)
        }
        for (name, r) in results.members {
            guard let rate = r["instances_per_s"]?.numberValue?.doubleValue else { continue }
            let agreeing = r["agree"]?.numberValue?.int64Value ?? 0
            let compile = r["compile_ms"]?.numberValue?.doubleValue ?? 0
            emit(String(format: "validate %-13@ %9.0f instances/s; compiled in %.1f ms; %d/%d labels agree   skiff/%@ speed ratio %.2fx",
                name as NSString, rate, compile, agreeing, instanceCount, name as NSString, skiffRate / rate))
        }
    }

    func corpusFiles() -> [URL] {
        let root = URL(fileURLWithPath: corpus)
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var out: [URL] = []
        for case let url as URL in e where url.pathExtension == "json" {
            if let only, !url.path.contains(only) { continue }
            out.append(url)
        }
        return out.sorted { $0.path < $1.path }
    }

    /// CPU time of this thread: other processes on a shared machine do not inflate it
    /// (tools/bench_validators.py uses Python's `time.thread_time`, the same clock).
    func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU seconds per pass: passes repeat until `seconds` have gone by (at least `minimum` passes), best pass kept.
    func measure(minimum: Int = 1, _ body: () throws -> Void) throws -> Double {
        var best = Double.infinity
        let start = Date()
        var passes = 0
        repeat {
            let t0 = threadCPUSeconds()
            try body()
            best = min(best, threadCPUSeconds() - t0)
            passes += 1
        } while passes < max(minimum, 1) || (minimum > 0 && Date().timeIntervalSince(start) < seconds)
        return best
    }
}
