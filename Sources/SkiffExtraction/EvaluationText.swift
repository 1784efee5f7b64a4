import Foundation
import SkiffJSON
import SkiffScoring

/// An evaluation report for people (a text table, a self-contained HTML page) and for
/// programs (JSON).
public enum EvaluationText {
    static func pct(_ v: Double) -> String { String(format: "%.3f", v) }

    public static func render(_ report: Evaluator.Report, passes: Int, jobs: Int) -> String {
        let fields = Set(report.documents.flatMap(\.expected.keys)).sorted()
        let truth = report.hasTruthText
        var out = "skiff eval: \(report.documents.count) documents, \(passes) OCR pass(es), \(jobs) job(s)\n"
        let width = max(10, fields.map(\.count).max() ?? 0)
        var header = "field".padding(toLength: width, withPad: " ", startingAt: 0)
            + "  skiff acc   F1    sim  | regex acc   F1"
        if truth { header += "  || on ground-truth text: skiff F1  regex F1" }
        out += header + "\n"
        func row(_ name: String, _ s: FieldTally.Counts, _ b: FieldTally.Counts, _ st: FieldTally.Counts?, _ bt: FieldTally.Counts?) -> String {
            var line = name.padding(toLength: width, withPad: " ", startingAt: 0)
                + "  \(pct(s.accuracy)) \(pct(s.f1)) \(pct(s.meanSimilarity)) | \(pct(b.accuracy)) \(pct(b.f1))"
            if let st, let bt { line += "  || \(pct(st.f1))            \(pct(bt.f1))" }
            return line + "\n"
        }
        for f in fields {
            out += row(f, report.skiff.fields[f] ?? .init(), report.baseline.fields[f] ?? .init(),
                       truth ? report.skiffOnTruth.fields[f] ?? .init() : nil,
                       truth ? report.baselineOnTruth.fields[f] ?? .init() : nil)
        }
        out += row("micro", report.skiff.overall, report.baseline.overall,
                   truth ? report.skiffOnTruth.overall : nil, truth ? report.baselineOnTruth.overall : nil)
        if !report.modes.isEmpty {
            let modes = RankingMode.allCases.filter { report.modes[$0] != nil }
            out += "ranking, F1 per field (same OCR, same run): " + "field".padding(toLength: width, withPad: " ", startingAt: 0)
                + modes.map { "  " + $0.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined() + "\n"
            for f in fields + ["micro"] {
                out += String(repeating: " ", count: 45) + f.padding(toLength: width, withPad: " ", startingAt: 0)
                    + modes.map { m in
                        let t = report.modes[m] ?? FieldTally()
                        return "  " + pct(f == "micro" ? t.overall.f1 : (t.fields[f] ?? .init()).f1) + "   "
                    }.joined() + "\n"
            }
        }
        if !report.comparisons.isEmpty {
            out += "OCR readings compared, F1 per field (the same OCR run; extraction from each set of readings alone):\n"
            let columns = report.comparisons.map { max(9, $0.name.count) }
            out += "field".padding(toLength: width, withPad: " ", startingAt: 0)
                + zip(report.comparisons, columns).map { "  " + $0.name.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined() + "\n"
            for f in fields + ["micro"] {
                out += f.padding(toLength: width, withPad: " ", startingAt: 0)
                    + zip(report.comparisons, columns).map { c, w in
                        let counts = f == "micro" ? c.tally.overall : c.tally.fields[f] ?? .init()
                        return "  " + pct(counts.f1).padding(toLength: w, withPad: " ", startingAt: 0)
                    }.joined() + "\n"
            }
        }
        let b = report.baseline.overall.f1
        out += "micro F1: skiff \(pct(report.skiff.overall.f1)), regex baseline \(pct(b))"
            + (b > 0 ? String(format: " (%.2fx)", report.skiff.overall.f1 / b) : "") + "\n"
        if let ocr = report.ocr {
            out += "OCR CER (first pass vs ground-truth lines, casefold): \(pct(ocr.rate))\n"
        }
        let models = Set(report.documents.flatMap(\.modelSeconds.keys)).sorted()
        if !models.isEmpty {
            out += "language model seconds per document (on the OCR reading, all modes from one run): "
                + models.map { m in
                    String(format: "%@ %.2f", m, report.documents.reduce(0) { $0 + ($1.modelSeconds[m] ?? 0) } / Double(max(1, report.documents.count)))
                }.joined(separator: ", ") + "\n"
        }
        let failed = report.documents.filter { $0.error != nil }
        out += String(format: "%.2f s per document wall-clock (%.1f per minute, %d jobs); %d failed\n",
                      report.seconds / Double(max(1, report.documents.count)), report.documentsPerMinute, jobs, failed.count)
        for d in failed { out += "  failed: \(d.name): \(d.error ?? "")\n" }
        return out
    }

    public static func json(_ report: Evaluator.Report) -> String {
        func tally(_ t: FieldTally) -> JSONValue {
            var o = JSONObject()
            func counts(_ c: FieldTally.Counts) -> JSONValue {
                var x = JSONObject()
                x["accuracy"] = number(c.accuracy)
                x["f1"] = number(c.f1)
                x["similarity"] = number(c.meanSimilarity)
                x["tp"] = .number(JSONNumber(c.truePositives))
                x["fp"] = .number(JSONNumber(c.falsePositives))
                x["fn"] = .number(JSONNumber(c.falseNegatives))
                return .object(x)
            }
            for (k, v) in t.fields.sorted(by: { $0.key < $1.key }) { o[k] = counts(v) }
            o["micro"] = counts(t.overall)
            return .object(o)
        }
        func strings(_ d: [String: String]?) -> JSONValue {
            guard let d else { return .null }
            var o = JSONObject()
            for (k, v) in d.sorted(by: { $0.key < $1.key }) { o[k] = .string(v) }
            return .object(o)
        }
        var root = JSONObject()
        root["skiff"] = tally(report.skiff)
        root["baseline"] = tally(report.baseline)
        for (mode, t) in report.modes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { root["ranking_" + mode.rawValue] = tally(t) }
        if !report.comparisons.isEmpty {
            var o = JSONObject()
            for c in report.comparisons { o[c.name] = tally(c.tally) }
            root["ocr_comparison"] = .object(o)
        }
        if report.hasTruthText {
            root["skiff_on_ground_truth_text"] = tally(report.skiffOnTruth)
            root["baseline_on_ground_truth_text"] = tally(report.baselineOnTruth)
        }
        root["ocr_cer"] = report.ocr.map { number($0.rate) } ?? .null
        root["seconds"] = number(report.seconds)
        root["documents_per_minute"] = number(report.documentsPerMinute)
        root["documents"] = .array(report.documents.map { d in
            var o = JSONObject()
            o["name"] = .string(d.name)
            o["expected"] = strings(d.expected)
            o["skiff"] = strings(d.skiff)
            o["baseline"] = strings(d.baseline)
            for (mode, fields) in d.modes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { o["ranking_" + mode.rawValue] = strings(fields) }
            for (mode, notes) in d.modeNotes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { o["how_" + mode.rawValue] = strings(notes) }
            if !report.comparisons.isEmpty {
                var c = JSONObject()
                for (name, _) in report.comparisons { c[name] = strings(d.comparisons[name] ?? [:]) }
                o["ocr_comparison"] = .object(c)
            }
            o["skiff_on_ground_truth_text"] = strings(d.skiffOnTruth)
            o["ocr_cer"] = d.ocr.map { number($0.cer) } ?? .null
            o["warnings"] = .array(d.warnings.map(JSONValue.string))
            o["error"] = d.error.map(JSONValue.string) ?? .null
            return .object(o)
        })
        return JSONSerializer.pretty.string(from: .object(root)) + "\n"
    }

    private static func number(_ v: Double) -> JSONValue {
        v.isFinite ? .number(JSONNumber(literal: String(format: "%.4f", v)) ?? JSONNumber(0)) : .string(v > 0 ? "Infinity" : "-Infinity")
    }

    /// One page, no network: the summary table, then every document's fields with
    /// right values in green and wrong ones in red next to the truth.
    public static func html(_ report: Evaluator.Report, summary: String) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let fields = Set(report.documents.flatMap(\.expected.keys)).sorted()
        var rows = ""
        for d in report.documents {
            for (i, f) in fields.enumerated() {
                let truth = d.expected[f] ?? ""
                func cell(_ v: String?) -> String {
                    let value = v ?? ""
                    let ok = !value.isEmpty && FieldTally.normalize(value, field: f) == FieldTally.normalize(truth, field: f)
                    return "<td class=\"\(value.isEmpty ? "none" : ok ? "ok" : "bad")\">\(esc(value))</td>"
                }
                rows += "<tr>" + (i == 0 ? "<th rowspan=\"\(fields.count)\">\(esc(d.name))"
                    + (d.ocr.map { String(format: "<br><small>CER %.2f</small>", $0.cer) } ?? "")
                    + (d.error.map { "<br><small class=\"bad\">\(esc($0))</small>" } ?? "") + "</th>" : "")
                rows += "<td>\(esc(f))</td><td>\(esc(truth))</td>" + cell(d.skiff[f]) + cell(d.baseline[f])
                    + (report.hasTruthText ? cell(d.skiffOnTruth?[f]) : "") + "</tr>\n"
            }
        }
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>skiff eval</title><style>
            body{font:14px system-ui,sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}
            table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}
            .ok{background:#e3f6e3}.bad{background:#fbe3e3}.none{background:#f3f3f3;color:#888}
            </style></head><body><h1>Extraction evaluation</h1><pre>\(esc(summary))</pre>
            <p>Green: equal to the truth after normalisation (case and spaces ignored, dates as dates, amounts as numbers); red: different; grey: nothing extracted.</p>
            <table><tr><th>document</th><th>field</th><th>truth</th><th>skiff</th><th>regex baseline</th>\(report.hasTruthText ? "<th>skiff on ground-truth text</th>" : "")</tr>
            \(rows)</table></body></html>

            """
    }
}
