import Foundation
import Testing

/// End-to-end tests: run the built `skiff` executable as a user would.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `skiff`; a run past `timeout` seconds is killed (SIGKILL), so a test never hangs.
func skiff(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 600) throws -> Run {
    // The test bundle sits next to the products it was built with.
    var products = Bundle.main.bundleURL
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        products = bundle.bundleURL.deletingLastPathComponent()
    }
    let process = Process()
    process.executableURL = products.appendingPathComponent("skiff")
    process.arguments = arguments
    process.currentDirectoryURL = repository
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    // stdout through a pipe, stderr into a file: two pipes could deadlock.
    let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-stderr-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errURL) }
    let out = Pipe()
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let pid = process.processIdentifier
    let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    try err.close()
    let errData = try Data(contentsOf: errURL)
    return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
               stderr: String(decoding: errData, as: UTF8.self))
}

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("skiff CLI end to end", .serialized)
struct CLITests {
    @Test func ocrJSONHasPagesWordsAndLines() throws {
        let run = try skiff(["ocr", "--format", "json", "--psm", "4", "--quiet", "samples/receipt-007.jpg"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        let pages = try #require(object?["pages"] as? [[String: Any]])
        #expect(pages.count == 1)
        let page = pages[0]
        #expect(page["width"] as? Int == 463 || (page["width"] as? Int ?? 0) > 0)
        #expect((page["text"] as? String)?.isEmpty == false)
        let words = try #require(page["words"] as? [[String: Any]])
        #expect(words.count > 10)
        #expect((words[0]["box"] as? [Int])?.count == 4)
        #expect(words[0]["confidence"] is Double)
        #expect((page["lines"] as? [[String: Any]])?.isEmpty == false)
        #expect((object?["engine"] as? [String: Any])?["psm"] as? Int == 4)
    }

    @Test func ppocrWritesEachBoxItsOwnLineUnlessAskedForRows() throws {
        let boxes = try skiff(["ocr", "--engine", "ppocr", "--quiet", "samples/receipt-007.jpg"])
        #expect(boxes.status == 0, "\(boxes.stderr)")
        let boxLines = boxes.stdout.split(separator: "\n").map(String.init)
        // The label and the amount are two detected boxes: two lines by default, one with --lines rows.
        #expect(boxLines.contains("GRAND TOTAL :") && boxLines.contains("20.00"), "\(boxLines)")
        let rows = try skiff(["ocr", "--engine", "ppocr", "--lines", "rows", "--quiet", "samples/receipt-007.jpg"])
        #expect(rows.status == 0, "\(rows.stderr)")
        #expect(rows.stdout.split(separator: "\n").contains("GRAND TOTAL : 20.00"), "\(rows.stdout)")
        // bfloat16 recognition (fp32 where the CPU lacks AVX512-BF16) reads the same lines here.
        let bf16 = try skiff(["ocr", "--engine", "ppocr", "--precision", "bfloat16", "--quiet", "samples/receipt-007.jpg"])
        #expect(bf16.status == 0, "\(bf16.stderr)")
        #expect(bf16.stdout.split(separator: "\n").contains("GRAND TOTAL :") && bf16.stdout.contains("20.00"), "\(bf16.stdout)")
        let bad = try skiff(["ocr", "--engine", "ppocr", "--precision", "int4", "samples/receipt-007.jpg"])
        #expect(bad.status != 0 && bad.stderr.contains("int4"), "\(bad.stderr)")
    }

    /// A folder with PP-OCR reads its pages two at a time on one thread each (the default for
    /// several files on 2 cores); each page's text is the same as read alone on all cores.
    @Test func ppocrFolderReadsPagesInParallelWithTheSameText() throws {
        let input = try temporaryFolder(), output = try temporaryFolder()
        defer {
            try? FileManager.default.removeItem(at: input)
            try? FileManager.default.removeItem(at: output)
        }
        let names = ["receipt-004.jpg", "receipt-007.jpg", "receipt-383.jpg"]
        for name in names {
            try FileManager.default.copyItem(at: repository.appendingPathComponent("samples/\(name)"),
                                             to: input.appendingPathComponent(name))
        }
        let batch = try skiff(["ocr", "--engine", "ppocr", "--jobs", "2", "--quiet", "--out", output.path, input.path])
        #expect(batch.status == 0, "\(batch.stderr)")
        for name in names {
            let alone = try skiff(["ocr", "--engine", "ppocr", "--threads", "2", "--quiet", "samples/\(name)"])
            #expect(alone.status == 0, "\(alone.stderr)")
            let text = try String(contentsOf: output.appendingPathComponent("\(name).txt"), encoding: .utf8)
            #expect(!text.isEmpty)
            #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == alone.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(name)")
        }
    }

    @Test func ocrFolderWithABadFileReportsAndContinues() throws {
        let input = try temporaryFolder(), output = try temporaryFolder()
        defer {
            try? FileManager.default.removeItem(at: input)
            try? FileManager.default.removeItem(at: output)
        }
        try FileManager.default.createDirectory(at: input.appendingPathComponent("shop"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: repository.appendingPathComponent("samples/receipt-007.jpg"),
                                         to: input.appendingPathComponent("shop/r1.jpg"))
        try Data("not an image".utf8).write(to: input.appendingPathComponent("broken.png"))
        let run = try skiff(["ocr", "--out", output.path, "--jobs", "2", input.path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("broken.png"))
        #expect(run.stderr.contains("2 file(s), 1 page(s)"))
        #expect(run.stderr.contains("1 failed"))
        let text = try String(contentsOf: output.appendingPathComponent("shop/r1.jpg.txt"), encoding: .utf8)
        #expect(!text.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("broken.png.txt").path))
        #expect(FileManager.default.fileExists(atPath: input.appendingPathComponent("broken.png").path))
    }

    @Test func ocrRejectsBadOptions() throws {
        #expect(try skiff(["ocr", "--psm", "99", "samples"]).status != 0)
        #expect(try skiff(["ocr", "--jobs", "0", "samples"]).status != 0)
        let missing = try skiff(["ocr", "/nonexistent/folder"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/folder"))
        let model = try skiff(["ocr", "--model", "/nonexistent/tessdata", "samples/receipt-007.jpg"])
        #expect(model.status != 0)
        #expect(model.stderr.contains("not found"))
    }

    @Test func tilesPrintsGridsAsJSON() throws {
        let run = try skiff(["tiles", "samples/invoice-001.png", "--max", "6", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "{\"grids\": [[2, 3]], \"tiles\": 7}\n")
        let msac = try skiff(["tiles", "samples/invoice-001.png", "--max", "6", "--msac", "--json"])
        #expect(msac.stdout == "{\"grids\": [[3, 2], [2, 3]], \"tiles\": 13}\n")
    }

    @Test func tilesWritesViewablePNGs() throws {
        let output = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: output) }
        let run = try skiff(["tiles", "samples/receipt-007.jpg", "--max", "6", "--out", output.path])
        #expect(run.status == 0, "\(run.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: output.path).filter { $0.hasSuffix(".png") }
        #expect(files.count >= 2)
        #expect(files.contains { $0.contains("thumbnail") })
        // PNG signature and a 448x448 IHDR.
        let data = try Data(contentsOf: output.appendingPathComponent(files.sorted()[0]))
        #expect(data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(Array(data[16..<24]) == [0, 0, 1, 0xC0, 0, 0, 1, 0xC0])
    }

    @Test func tilesOnACorruptFileFailsClearly() throws {
        let run = try skiff(["tiles", "Tests/SkiffImageTests/Fixtures/malformed/truncated_baseline.jpg"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("truncated_baseline.jpg"))
        #expect(run.stderr.contains("truncated"))
    }
}

@Suite("skiff CLI without Tesseract")
struct CLIMissingLibraryTests {
    @Test func missingLibraryIsExplained() throws {
        let run = try skiff(["ocr", "samples/receipt-007.jpg"],
                            environment: ["SKIFF_TESSERACT_LIBRARY": "/nonexistent/libtesseract.so.5"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("Tesseract is not available"))
        #expect(run.stderr.contains("/nonexistent/libtesseract.so.5"))
    }
}
