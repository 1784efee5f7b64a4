import Foundation
import Testing

/// The products folder the tests were built into (where `skiff` is).
func skiffExecutable() -> URL {
    var products = Bundle.main.bundleURL
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        products = bundle.bundleURL.deletingLastPathComponent()
    }
    return products.appendingPathComponent("skiff")
}

func modificationDate(_ url: URL) throws -> Date {
    try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date)
}

@Suite("skiff extract end to end", .serialized)
struct ExtractCLITests {
    /// `count` copies of a sample receipt (one OCR pass keeps the test quick).
    func inbox(_ count: Int) throws -> URL {
        let folder = try temporaryFolder()
        for i in 0..<count {
            try FileManager.default.copyItem(at: repository.appendingPathComponent("samples/receipt-007.jpg"),
                                             to: folder.appendingPathComponent(String(format: "r%02d.jpg", i)))
        }
        return folder
    }

    @Test func documentsValidateAndARerunSkipsThem() throws {
        let input = try inbox(2), output = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
        try Data("not an image".utf8).write(to: input.appendingPathComponent("broken.jpg"))
        let first = try skiff(["extract", input.path, "--out", output.path, "--ocr", "fast", "--jobs", "2"])
        #expect(first.status == 1, "a broken input makes the exit status 1")
        #expect(first.stderr.contains("broken.jpg"))
        #expect(first.stderr.contains("2 extracted"))
        for name in ["r00", "r01"] {
            let document = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("\(name).json")))
            let object = try #require(document as? [String: String])
            #expect(object.keys.sorted() == ["address", "company", "date", "total"])
            #expect(object["total"] == "20.00")
            let check = try skiff(["schema", "validate", "schemas/receipt.json", output.appendingPathComponent("\(name).json").path])
            #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
            let provenance = try JSONSerialization.jsonObject(
                with: Data(contentsOf: output.appendingPathComponent("\(name).provenance.json"))) as? [String: Any]
            #expect((provenance?["fields"] as? [[String: Any]])?.count == 4)
        }
        let error = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("broken.error.json")))
        #expect((error as? [String: String])?["error"]?.isEmpty == false)
        #expect(FileManager.default.fileExists(atPath: input.appendingPathComponent("broken.jpg").path), "input kept")

        let before = try modificationDate(output.appendingPathComponent("r00.json"))
        let second = try skiff(["extract", input.path, "--out", output.path, "--ocr", "fast"])
        #expect(second.stderr.contains("0 extracted, 2 up to date"))
        #expect(try modificationDate(output.appendingPathComponent("r00.json")) == before)
        let forced = try skiff(["extract", input.path, "--out", output.path, "--ocr", "fast", "--force"])
        #expect(forced.stderr.contains("2 extracted"))
    }

    @Test func ppocrAsTheOnlyReading() throws {
        let input = try inbox(1), output = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
        let run = try skiff(["extract", input.path, "--out", output.path, "--ocr", "ppocr"])
        #expect(run.status == 0, "\(run.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("r00.json")))
        #expect((document as? [String: String])?["total"] == "20.00")
        let provenance = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: output.appendingPathComponent("r00.provenance.json"))) as? [String: Any])
        let fields = try #require(provenance["fields"] as? [[String: Any]])
        let total = try #require(fields.first { $0["pointer"] as? String == "/total" })
        #expect(total["ocr"] as? String == "ppocr")
        #expect((total["box"] as? [Int])?.count == 4)
        // Extraction reads PP-OCR's rows: `GRAND TOTAL :` and `20.00` are two boxes, one line.
        #expect((total["rule"] as? String)?.hasPrefix("last amount on a line with a total cue") == true, "\(total)")
        // `ppocr-bf16`: the same reading with bfloat16 recognition products.
        let bf16Out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: bf16Out) }
        let bf16 = try skiff(["extract", input.path, "--out", bf16Out.path, "--ocr", "ppocr-bf16"])
        #expect(bf16.status == 0, "\(bf16.stderr)")
        let bf16Document = try JSONSerialization.jsonObject(with: Data(contentsOf: bf16Out.appendingPathComponent("r00.json")))
        #expect((bf16Document as? [String: String])?["total"] == "20.00")
        let bad = try skiff(["extract", input.path, "--out", output.path, "--ocr", ","])
        #expect(bad.status != 0 && bad.stderr.contains("--ocr needs at least one model"))
    }

    @Test func combinedJSONLinesAndCSV() throws {
        let input = try inbox(2), output = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
        let jsonl = try skiff(["extract", input.path, "--out", output.path, "--ocr", "fast", "--format", "jsonl"])
        #expect(jsonl.status == 0, "\(jsonl.stderr)")
        let lines = try String(contentsOf: output.appendingPathComponent("extracted.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect((first?["document"] as? [String: String])?["total"] == "20.00")
        #expect(first?["provenance"] is [String: Any])
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("r00.json").path))
        let csv = try skiff(["extract", input.path, "--out", output.path, "--ocr", "fast", "--format", "csv"])
        #expect(csv.status == 0)
        let rows = try String(contentsOf: output.appendingPathComponent("extracted.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "file,company,date,address,total,error")
        #expect(rows.count == 3)
    }

    /// Kill a batch midway (SIGKILL, a real process), run it again: the rest is done, nothing
    /// finished is redone or lost, nothing is half-written, every document validates, and the
    /// corrupt input is an error entry both times without stopping the batch.
    @Test func aKilledBatchResumesWithoutLosingOrRedoingAnything() throws {
        let count = 6
        let input = try inbox(count), output = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
        // Sorted first, so the killed run has already met it.
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46]).write(to: input.appendingPathComponent("a-corrupt.jpg"))
        let process = Process()
        process.executableURL = skiffExecutable()
        process.arguments = ["extract", input.path, "--out", output.path, "--ocr", "fast", "--jobs", "1", "--quiet"]
        process.currentDirectoryURL = repository
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the first finished document, then kill without warning.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let done = (try? FileManager.default.contentsOfDirectory(atPath: output.path))?.filter { $0.hasPrefix("r") && $0.hasSuffix(".json") && !$0.contains("provenance") } ?? []
            if !done.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the batch was killed, not finished")
        func documents() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: output.path)
                .filter { $0.hasPrefix("r") && $0.hasSuffix(".json") && !$0.contains("provenance") }.sorted()
        }
        let survivors = try documents()
        #expect(!survivors.isEmpty && survivors.count < count, "killed midway: \(survivors)")
        let errorEntry = output.appendingPathComponent("a-corrupt.error.json")
        let errorDate = try modificationDate(errorEntry)
        var dates: [String: Date] = [:]
        for name in survivors {
            // Whatever is there is whole, and its provenance is beside it.
            _ = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent(name)))
            #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent(name.replacingOccurrences(of: ".json", with: ".provenance.json")).path))
            dates[name] = try modificationDate(output.appendingPathComponent(name))
        }
        let rerun = try skiff(["extract", input.path, "--out", output.path, "--ocr", "fast", "--jobs", "2"])
        #expect(rerun.status == 1, "the corrupt input still fails: \(rerun.stderr)")
        #expect(rerun.stderr.contains("\(count + 1) file(s): \(count - survivors.count) extracted, \(survivors.count) up to date, 1 failed"), "\(rerun.stderr)")
        #expect(rerun.stderr.contains("a-corrupt.jpg"))
        let all = try FileManager.default.contentsOfDirectory(atPath: output.path)
        #expect(all.filter { $0.hasSuffix(".provenance.json") }.count == count)
        #expect(try documents().count == count)
        #expect(all.filter { $0.hasSuffix(".tmp") }.isEmpty, "the killed run's temporary file is cleaned up")
        for (name, date) in dates { #expect(try modificationDate(output.appendingPathComponent(name)) == date, "\(name) not redone") }
        #expect(try modificationDate(errorEntry) == errorDate, "the failed input is not redone")
        let entry = try JSONSerialization.jsonObject(with: Data(contentsOf: errorEntry)) as? [String: String]
        #expect(entry?["error"]?.isEmpty == false)
        // Every document validates against the schema.
        let check = try skiff(["schema", "validate", "schemas/receipt.json"] + (try documents()).map { output.appendingPathComponent($0).path })
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: input.path).count == count + 1, "inputs untouched")
    }
}
