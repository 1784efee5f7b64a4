import ArgumentParser
import Foundation
import Skiff

/// `skiff bench masks`: the MaskBench protocol on jsonschemabench-dev with SmolLM2's vocabulary,
/// and (with `--python`) llguidance and xgrammar on the same token streams.
struct MaskBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "masks",
        abstract: "Constrained-decoding masks: compile time, time per mask, correctness per schema (MaskBench).")

    @Option(help: "The jsonschemabench-dev folder.")
    var data: String = "../shared/data/jsonschemabench-dev"

    @Option(help: "GGUF whose vocabulary to use.")
    var gguf: String = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "Python with llguidance and xgrammar (runs tools/bench_masks_ref.py on the same corpus); omit to skip.")
    var python: String?

    @Option(help: "Engines for the Python side.")
    var engines: String = "llguidance,xgrammar"

    @Option(help: "Only corpus files whose path contains this text.")
    var only: String?

    @Flag(help: "Enforce only what the automaton captures exactly: keywords that need a finished-value check are compile errors.")
    var noCompletionChecks = false

    @Flag(help: "Print one JSON object (totals, per subset, per file) instead of text.")
    var json = false

    @Flag(help: "List every file that does not pass, with the reason.")
    var failures = false

    @Option(help: "List the N files with the slowest masks.")
    var slowest = 0

    func run() async throws {
        let root = URL(fileURLWithPath: data)
        let files = corpusFiles(root)
        guard !files.isEmpty else {
            printError("skiff bench masks: no corpus files under \(data)")
            throw ExitCode(1)
        }
        let tokenizer: BPETokenizer
        do { tokenizer = try BPETokenizer(gguf: GGUFFile(path: gguf)) } catch {
            printError("skiff bench masks: \(gguf): \(error)")
            throw ExitCode(1)
        }
        let vocabulary = TokenVocabulary(tokenizer: tokenizer)
        var options = MaskBench.anyOrder
        options.completionChecks = !noCompletionChecks
        var results: [MaskBenchResult] = []
        for (rel, url) in files {
            let doc = try JSONParser().parse(Array(try Data(contentsOf: url)))
            results.append(MaskBench.run(file: rel, document: doc, tokenizer: tokenizer, vocabulary: vocabulary, options: options))
        }
        let reference = try python.map { try runReference($0) } ?? [:]
        if json {
            let data = try JSONSerialization.data(withJSONObject: jsonReport(results, reference), options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        } else {
            textReport(results, reference)
        }
    }

    func corpusFiles(_ root: URL) -> [(String, URL)] {
        var out: [(String, URL)] = []
        let fm = FileManager.default
        guard let subsets = try? fm.contentsOfDirectory(atPath: root.path) else { return [] }
        for sub in subsets.sorted() {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: root.appendingPathComponent(sub).path, isDirectory: &isDir), isDir.boolValue else { continue }
            let names = (try? fm.contentsOfDirectory(atPath: root.appendingPathComponent(sub).path)) ?? []
            for n in names.sorted() where n.hasSuffix(".json") {
                let rel = sub + "/" + n
                if let only, !rel.contains(only) { continue }
                out.append((rel, root.appendingPathComponent(sub).appendingPathComponent(n)))
            }
        }
        return out
    }

    // MARK: Reference engines

    struct RefFile {
        var status: String
        var error: String?
        var compileUS: Double
        var maskUS: [Double]
        var instances: [Int: (tokens: [Int], accepted: Bool, valid: Bool)]
    }

    /// Runs tools/bench_masks_ref.py and reads its JSONL: engine → file → result.
    func runReference(_ python: String) throws -> [String: [String: RefFile]] {
        let script = "tools/bench_masks_ref.py"
        guard FileManager.default.fileExists(atPath: script) else {
            printError("skiff bench masks: \(script) is missing; skipping the reference engines")
            return [:]
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-masks-ref-\(getpid()).jsonl")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        // The script runs the whole corpus; lines for files outside --only are dropped below.
        process.arguments = [script, "--data", data, "--gguf", gguf, "--out", out.path, "--engines", engines]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            printError("skiff bench masks: \(script) exited with status \(process.terminationStatus)")
            throw ExitCode(1)
        }
        defer { try? FileManager.default.removeItem(at: out) }
        let text = try String(contentsOf: out, encoding: .utf8)
        var result: [String: [String: RefFile]] = [:]
        for line in text.split(separator: "\n") where !line.isEmpty {
            let v = try JSONParser().parse(String(line))
            guard let engine = v["engine"]?.stringValue, let file = v["file"]?.stringValue else { continue }
            if let only, !file.contains(only) { continue }
            var r = RefFile(status: v["status"]?.stringValue ?? "?", error: v["error"]?.stringValue,
                            compileUS: v["compile_us"]?.numberValue?.doubleValue ?? .nan,
                            maskUS: (v["mask_us"]?.arrayValue ?? []).compactMap { $0.numberValue?.doubleValue },
                            instances: [:])
            for inst in v["instances"]?.arrayValue ?? [] {
                guard let i = inst["index"]?.numberValue?.int64Value else { continue }
                r.instances[Int(i)] = ((inst["tokens"]?.arrayValue ?? []).compactMap { $0.numberValue?.int64Value.map(Int.init) },
                                       inst["accepted"]?.boolValue ?? false, inst["valid"]?.boolValue ?? false)
            }
            result[engine, default: [:]][file] = r
        }
        return result
    }

    // MARK: Reports

    struct Summary {
        var schemas = 0, passing = 0, compileErrors = 0, validationErrors = 0, invalidationErrors = 0
        var mismatches = 0, forced = 0, masks: [Double] = [], compile: [Double] = []
        var withChecks = 0

        mutating func add(_ r: MaskBenchResult) {
            schemas += 1
            if r.passing { passing += 1 }
            if r.compileError != nil { compileErrors += 1 } else { compile.append(r.compileMicroseconds) }
            validationErrors += r.validationErrors
            invalidationErrors += r.invalidationErrors
            mismatches += r.maskMismatches
            forced += r.forcedMasks
            masks += r.maskMicroseconds
            if !r.checkedKeywords.isEmpty { withChecks += 1 }
        }

        func line(_ label: String) -> String {
            let m = masks.sorted(), c = compile.sorted()
            return String(format: "%@ schemas %3d  passing %3d  compile errors %3d  validation errors %d  invalidation errors %d  mask mismatches %d  | masks %d (forced %d): p50 %.1f µs  p99 %.1f µs  max %.0f µs | compile p50 %.2f ms  p99 %.1f ms",
                          label.padding(toLength: 16, withPad: " ", startingAt: 0), schemas, passing, compileErrors,
                          validationErrors, invalidationErrors, mismatches, m.count, forced,
                          MaskBench.percentile(m, 0.5), MaskBench.percentile(m, 0.99), m.last ?? .nan,
                          MaskBench.percentile(c, 0.5) / 1000, MaskBench.percentile(c, 0.99) / 1000)
        }
    }

    func subset(_ file: String) -> String { String(file.split(separator: "/").first ?? "") }

    func textReport(_ results: [MaskBenchResult], _ reference: [String: [String: RefFile]]) {
        var total = Summary()
        var per: [String: Summary] = [:]
        for r in results {
            total.add(r)
            per[subset(r.file), default: Summary()].add(r)
        }
        emit("skiff bench masks: \(results.count) schemas, \(URL(fileURLWithPath: gguf).lastPathComponent) vocabulary, any key order, completion checks \(noCompletionChecks ? "off" : "on")")
        for k in per.keys.sorted() { emit(per[k]!.line(k)) }
        emit(total.line("total"))
        emit("schemas using finished-value checks: \(total.withChecks)")
        if failures {
            for r in results where !r.passing {
                if let e = r.compileError {
                    emit("  \(r.file): compile error: \(e)")
                } else {
                    let bad = r.instances.filter { $0.valid != $0.accepted }.map { "#\($0.index) valid=\($0.valid) rejectedAt=\($0.rejectedAt.map(String.init) ?? "-")" }
                    emit("  \(r.file): \(bad.joined(separator: ", ")) mismatches=\(r.maskMismatches)")
                }
            }
        }
        if slowest > 0 {
            for r in results.sorted(by: { ($0.maskMicroseconds.max() ?? 0) > ($1.maskMicroseconds.max() ?? 0) }).prefix(slowest) {
                let m = r.maskMicroseconds.sorted()
                emit(String(format: "  slow %@: masks %d, over 1 ms %d, max %.0f µs, p99 %.0f µs; checks: %@", r.file, m.count,
                            m.filter { $0 > 1000 }.count, m.last ?? 0, MaskBench.percentile(m, 0.99),
                            r.checkedKeywords.prefix(4).joined(separator: ", ")))
            }
        }
        for engine in reference.keys.sorted() {
            guard let files = reference[engine] else { continue }
            var passing = 0, compileErrors = 0, vErr = 0, iErr = 0, sameTokens = 0, instances = 0
            var differing: [String] = []
            var masks: [Double] = [], compile: [Double] = []
            for (file, f) in files {
                if f.status != "ok" { compileErrors += 1; continue }
                compile.append(f.compileUS)
                masks += f.maskUS
                var ok = true
                for (_, inst) in f.instances {
                    if inst.valid && !inst.accepted { vErr += 1; ok = false }
                    if !inst.valid && inst.accepted { iErr += 1; ok = false }
                }
                if ok { passing += 1 }
                if let ours = results.first(where: { $0.file == file }) {
                    for inst in ours.instances {
                        instances += 1
                        if f.instances[inst.index]?.tokens == inst.tokens {
                            sameTokens += 1
                        } else if differing.count < 5 {
                            differing.append("\(file)#\(inst.index)")
                        }
                    }
                }
            }
            masks.sort()
            compile.sort()
            let om = total.masks.sorted(), oc = total.compile.sorted()
            emit(String(format: "%@ schemas %3d  passing %3d  compile errors %3d  validation errors %d  invalidation errors %d | masks %d: p50 %.1f µs  p99 %.1f µs  max %.0f µs | compile p50 %.2f ms  p99 %.1f ms",
                        engine.padding(toLength: 16, withPad: " ", startingAt: 0), files.count, passing, compileErrors, vErr, iErr,
                        masks.count, MaskBench.percentile(masks, 0.5), MaskBench.percentile(masks, 0.99), masks.last ?? .nan,
                        MaskBench.percentile(compile, 0.5) / 1000, MaskBench.percentile(compile, 0.99) / 1000))
            emit(String(format: "  %@ / skiff: mask p50 %.2fx  p99 %.2fx  compile p50 %.2fx; identical token streams %d of %d instances",
                        engine, MaskBench.percentile(masks, 0.5) / MaskBench.percentile(om, 0.5),
                        MaskBench.percentile(masks, 0.99) / MaskBench.percentile(om, 0.99),
                        MaskBench.percentile(compile, 0.5) / MaskBench.percentile(oc, 0.5), sameTokens, instances))
            if !differing.isEmpty { emit("  token streams differ (our compact serialisation vs theirs): \(differing.joined(separator: ", "))") }
        }
        if python == nil { emit("(give --python PY with llguidance and xgrammar installed to compare; runs tools/bench_masks_ref.py)") }
    }

    func jsonReport(_ results: [MaskBenchResult], _ reference: [String: [String: RefFile]]) -> [String: Any] {
        func summary(_ s: Summary) -> [String: Any] {
            let m = s.masks.sorted(), c = s.compile.sorted()
            func num(_ x: Double) -> Any { x.isFinite ? (x * 1000).rounded() / 1000 : NSNull() }
            return [
                "schemas": s.schemas, "passing": s.passing, "compile_errors": s.compileErrors,
                "validation_errors": s.validationErrors, "invalidation_errors": s.invalidationErrors,
                "mask_mismatches": s.mismatches, "masks": m.count, "forced_masks": s.forced,
                "schemas_with_checks": s.withChecks,
                "mask_us_p50": num(MaskBench.percentile(m, 0.5)), "mask_us_p99": num(MaskBench.percentile(m, 0.99)),
                "mask_us_max": num(m.last ?? .nan),
                "compile_ms_p50": num(MaskBench.percentile(c, 0.5) / 1000), "compile_ms_p99": num(MaskBench.percentile(c, 0.99) / 1000),
            ]
        }
        var total = Summary()
        var per: [String: Summary] = [:]
        var files: [[String: Any]] = []
        for r in results {
            total.add(r)
            per[subset(r.file), default: Summary()].add(r)
            files.append([
                "file": r.file, "passing": r.passing, "compile_error": r.compileError ?? NSNull(),
                "validation_errors": r.validationErrors, "invalidation_errors": r.invalidationErrors,
                "forced_masks": r.forcedMasks, "checked_keywords": r.checkedKeywords,
            ])
        }
        var out: [String: Any] = ["total": summary(total), "subsets": per.mapValues(summary), "files": files]
        var refs: [String: Any] = [:]
        for (engine, fs) in reference {
            var s = Summary()
            for (_, f) in fs {
                s.schemas += 1
                if f.status != "ok" { s.compileErrors += 1; continue }
                s.compile.append(f.compileUS)
                s.masks += f.maskUS
                let bad = f.instances.values.filter { $0.valid != $0.accepted }
                s.validationErrors += bad.filter { $0.valid }.count
                s.invalidationErrors += bad.filter { !$0.valid }.count
                if bad.isEmpty { s.passing += 1 }
            }
            refs[engine] = summary(s)
        }
        if !reference.isEmpty { out["reference"] = refs }
        return out
    }
}
