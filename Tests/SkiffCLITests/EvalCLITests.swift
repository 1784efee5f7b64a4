import Foundation
import Testing

/// `skiff eval` on the dev sets beside the repository (skipped where ../shared/data is absent).
@Suite("skiff eval end to end", .serialized)
struct EvalCLITests {
    let data = repository.deletingLastPathComponent().appendingPathComponent("shared/data")

    @Test func receiptsScoreNextToTheBaselineWithAReport() throws {
        let root = data.appendingPathComponent("sroie-dev")
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        let report = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: report) }
        let run = try skiff(["eval", root.path, "--limit", "2", "--ocr", "fast", "--jobs", "2", "--quiet", "--report", report.path])
        #expect(run.status == 0, "\(run.stderr)")
        for field in ["company", "date", "address", "total", "micro"] { #expect(run.stdout.contains("\n\(field) ")) }
        #expect(run.stdout.contains("micro F1: skiff "))
        #expect(run.stdout.contains("regex baseline"))
        #expect(run.stdout.contains("OCR CER"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: report.appendingPathComponent("report.json"))) as? [String: Any]
        #expect((json?["documents"] as? [Any])?.count == 2)
        #expect(FileManager.default.fileExists(atPath: report.appendingPathComponent("report.html").path))
    }

    /// `skiff bench ppocr --jobs 2` also reads the pages two at a time and finds each page's text
    /// the same as in the one-at-a-time pass.
    @Test func ppocrBenchReadsPagesTwoAtATimeWithTheSameText() throws {
        let root = data.appendingPathComponent("sroie-dev")
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        let run = try skiff(["bench", "ppocr", root.path, "--pages", "2", "--skip-tesseract", "--jobs", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let output = run.stdout + run.stderr
        #expect(output.contains("ppocr, 2 pages at a time x 1 thread: "), "\(output)")
        #expect(output.contains("; 2/2 pages with the same text as one at a time"), "\(output)")
    }

    /// --compare-ocr scores Tesseract's readings, PP-OCR's and both from one recognition.
    @Test func compareOCRPrintsTesseractPPOCRAndBothSideBySide() throws {
        let root = data.appendingPathComponent("sroie-dev")
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        let report = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: report) }
        let run = try skiff(["eval", root.path, "--limit", "1", "--ocr", "fast", "--compare-ocr", "--jobs", "1", "--quiet",
                             "--report", report.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("2 OCR pass(es)"))
        #expect(run.stdout.contains("OCR readings compared"))
        let header = run.stdout.split(separator: "\n").first { $0.hasPrefix("field") && $0.contains("tesseract") }
        #expect(header?.contains("ppocr") == true && header?.contains("both") == true, "\(run.stdout)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: report.appendingPathComponent("report.json"))) as? [String: Any])
        let comparison = try #require(json["ocr_comparison"] as? [String: [String: Any]])
        #expect(Set(comparison.keys) == ["tesseract", "ppocr", "both"])
        // The first receipt (004) prints its total clearly: every reading finds it.
        let documents = try #require(json["documents"] as? [[String: Any]])
        let fields = try #require(documents.first?["ocr_comparison"] as? [String: [String: String]])
        let expected = try #require(documents.first?["expected"] as? [String: String])
        for name in ["tesseract", "ppocr", "both"] {
            #expect(fields[name]?["total"].map { Double($0) } == expected["total"].map { Double($0) }, "\(name): \(fields[name] ?? [:])")
        }
    }

    /// A ZUGFeRD PDF is rendered, read and scored under the invoice schema's keys.
    @Test func zugferdInvoicesScoreUnderTheInvoiceSchema() throws {
        let root = data.appendingPathComponent("zugferd-xrechnung-dev")
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        let cache = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        let run = try skiff(["eval", root.path, "--limit", "1", "--ocr", "fast", "--quiet", "--ocr-cache", cache.path])
        #expect(run.status == 0, "\(run.stderr)")
        for field in ["invoice_number", "invoice_date", "vendor.name", "vendor.tax_id", "total", "total_tax", "micro"] {
            #expect(run.stdout.contains("\n\(field) "), "\(field) in \(run.stdout)")
        }
        #expect(run.stdout.contains("1 documents"))
        #expect(run.stdout.contains("0 failed"))
        let rendered = try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("pages").path)
        #expect(rendered.contains { $0.hasSuffix(".png") })
    }

    @Test func anUnknownLayoutOrStepIsAnError() throws {
        let empty = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: empty) }
        let run = try skiff(["eval", empty.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("not an evaluation set"))
        let step = try skiff(["eval", empty.path, "--preprocess", "sharpen"])
        #expect(step.status != 0)
    }
}
