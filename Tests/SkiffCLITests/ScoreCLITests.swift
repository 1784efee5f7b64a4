import Foundation
import Testing

/// `skiff score` end to end: real OCR JSON from `skiff ocr`, real ground truth, real reports.
@Suite("skiff score end to end", .serialized)
struct ScoreCLITests {
    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func scoresSkiffOCRJSONAgainstGroundTruth() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let ocr = try skiff(["ocr", "--format", "json", "--psm", "4", "--quiet", "--out", folder.path, "samples/receipt-007.jpg"])
        #expect(ocr.status == 0, "\(ocr.stderr)")
        let output = folder.appendingPathComponent("receipt-007.jpg.json").path
        let run = try skiff(["score", "samples/receipt-007.gt.txt", output, "--profile", "casefold", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try object(run.stdout)
        #expect(result["profile"] as? String == "casefold")
        let cer = try #require(result["cer"] as? Double)
        let wer = try #require(result["wer"] as? Double)
        // A clear receipt: Tesseract gets most of it, but not all.
        #expect(cer > 0 && cer < 0.3, "CER \(cer)")
        #expect(wer > 0 && wer < 0.6, "WER \(wer)")
        let characters = try #require(result["characters"] as? [String: Any])
        let gt = try String(contentsOf: repository.appendingPathComponent("samples/receipt-007.gt.txt"), encoding: .utf8)
        #expect(characters["reference"] as? Int == gt.count)
        let s = characters["substitutions"] as? Int ?? -1, d = characters["deletions"] as? Int ?? -1
        let i = characters["insertions"] as? Int ?? -1, errors = characters["errors"] as? Int ?? -2
        #expect(s + d + i == errors)
        #expect(abs(Double(errors) / Double(gt.count) - cer) < 1e-12)
        // Without casefold the upper-case ground truth makes every lower-case letter an error.
        let strict = try object(try skiff(["score", "samples/receipt-007.gt.txt", output, "--json"]).stdout)
        #expect((strict["cer"] as? Double ?? 0) > cer)
    }

    @Test func folderReportIsSelfContainedHTMLAndJSON() throws {
        let gt = try temporaryFolder()
        let out = try temporaryFolder()
        let report = try temporaryFolder()
        defer { [gt, out, report].forEach { try? FileManager.default.removeItem(at: $0) } }
        for name in ["receipt-004", "receipt-007"] {
            try FileManager.default.copyItem(at: repository.appendingPathComponent("samples/\(name).gt.txt"),
                                             to: gt.appendingPathComponent("\(name).txt"))
        }
        try FileManager.default.copyItem(at: repository.appendingPathComponent("samples/invoice-001.gt.txt"),
                                         to: gt.appendingPathComponent("invoice-001.txt"))
        let ocr = try skiff(["ocr", "--format", "json", "--psm", "4", "--quiet", "--out", out.path,
                             "samples/receipt-004.jpg", "samples/receipt-007.jpg", "samples/receipt-383.jpg"])
        #expect(ocr.status == 0, "\(ocr.stderr)")
        let run = try skiff(["score", gt.path, out.path, "--profile", "casefold", "--order-insensitive", "--report", report.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("3 documents"))
        #expect(run.stdout.contains("no output for (scored as all deletions): invoice-001"))
        #expect(run.stdout.contains("outputs without ground truth (not scored): receipt-383"))
        let html = try String(contentsOf: report.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg") && html.contains("class=\"e sub\"") && html.contains("data-k="))
        // Nothing loaded from the network.
        #expect(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("@import"))
        let json = try object(try String(contentsOf: report.appendingPathComponent("report.json"), encoding: .utf8))
        #expect((json["documents"] as? [Any])?.count == 3)
        #expect(json["missing"] as? [String] == ["invoice-001"])
        #expect((json["macro"] as? [String: Any])?["cer"] is Double)
    }

    @Test func emptyReferenceGivesInfinityAsAString() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data().write(to: folder.appendingPathComponent("gt.txt"))
        try Data("SOMETHING".utf8).write(to: folder.appendingPathComponent("ocr.txt"))
        let run = try skiff(["score", folder.appendingPathComponent("gt.txt").path, folder.appendingPathComponent("ocr.txt").path, "--json"])
        #expect(run.status == 0)
        let result = try object(run.stdout)
        #expect(result["cer"] as? String == "Infinity")
        #expect((result["characters"] as? [String: Any])?["insertions"] as? Int == 9)
    }

    @Test func fieldsWithNormalisers() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let predicted = folder.appendingPathComponent("receipt-007.json")
        try Data(#"{"company": "S.H.H. Motor (Sungai Rengit)  Sdn. Bhd.", "date": "23/01/2019", "total": "RM 20.00", "address": "NO. 343, JALAN KURAU"}"#.utf8).write(to: predicted)
        let plain = try object(try skiff(["score", "--fields", "samples/receipt-007.expected.json", predicted.path, "--json"]).stdout)
        #expect(plain["f1"] as? Double == 0)
        let run = try skiff(["score", "--fields", "--normalize", "spaces,case,amount,date", "samples/receipt-007.expected.json", predicted.path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try object(run.stdout)
        #expect(result["normalizers"] as? [String] == ["spaces", "case", "amount", "date"])
        #expect(abs((result["f1"] as? Double ?? 0) - 0.75) < 1e-12)  // 3 of 4 match
        #expect(((result["fields"] as? [String: Any])?["address"] as? [String: Any])?["falseNegatives"] as? Int == 1)
    }

    @Test func badInputsGiveClearErrors() throws {
        let mixed = try skiff(["score", "samples", "samples/receipt-007.gt.txt"])
        #expect(mixed.status == 1)
        #expect(mixed.stderr.contains("is a folder but"))
        let profile = try skiff(["score", "--profile", "fancy", "samples/receipt-007.gt.txt", "samples/receipt-007.gt.txt"])
        #expect(profile.status != 0)
        #expect(profile.stderr.contains("unknown profile 'fancy'"))
        let missing = try skiff(["score", "samples/nope.txt", "samples/receipt-007.gt.txt"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope.txt: cannot read: no such file or folder"))
    }
}
