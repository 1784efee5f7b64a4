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
