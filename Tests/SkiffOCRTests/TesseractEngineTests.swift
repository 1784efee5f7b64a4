import Foundation
import Testing
@testable import Skiff

/// The repository's samples/ folder (real scans, committed).
let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("samples")

func samplePage(_ name: String) throws -> PixelBuffer {
    try DocumentLoader().load(contentsOf: samples.appendingPathComponent(name)).pages[0].image
}

/// Runs the `tesseract` CLI as a person would, for comparison.
func tesseractCLI(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["tesseract"] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(["OMP_THREAD_LIMIT": "1"]) { $1 }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

@Suite("Tesseract through its C API", .serialized)
struct TesseractEngineTests {
    @Test func readsAReceiptLikeTheCLI() throws {
        let engine = try TesseractEngine(configuration: TesseractConfiguration(pageSegmentationMode: 4))
        let path = samples.appendingPathComponent("receipt-007.jpg").path
        let page = try engine.recognize(try samplePage("receipt-007.jpg"))
        #expect(page.text == (try tesseractCLI([path, "-", "--psm", "4"])))
        #expect(page.text.uppercased().contains("TOTAL"))
    }

    @Test func layoutIsConsistent() throws {
        let engine = try TesseractEngine()
        let image = try samplePage("invoice-002.jpg")
        let page = try engine.recognize(image, page: 3)
        #expect(page.page == 3)
        #expect(page.width == image.width && page.height == image.height)
        #expect(page.dpi == 150)
        #expect(page.words.count > 50)
        #expect(!page.blocks.isEmpty)
        for word in page.words {
            #expect(!word.text.isEmpty)
            #expect((0...1).contains(word.confidence))
            #expect(word.box.x0 >= 0 && word.box.y0 >= 0 && word.box.x1 <= page.width && word.box.y1 <= page.height)
            #expect(word.box.x0 < word.box.x1 && word.box.y0 < word.box.y1)
            #expect(page.lines[word.line].words.contains(page.words.firstIndex(of: word) ?? -1))
        }
        // Lines tile the word list in order; blocks tile the line list.
        #expect(page.lines.first?.words.lowerBound == 0)
        #expect(page.lines.last?.words.upperBound == page.words.count)
        for (a, b) in zip(page.lines, page.lines.dropFirst()) { #expect(a.words.upperBound == b.words.lowerBound) }
        #expect(page.blocks.last?.lines.upperBound == page.lines.count)
        for (i, line) in page.lines.enumerated() {
            #expect(page.blocks[line.block].lines.contains(i))
            #expect(line.text == page.words[line.words].map(\.text).joined(separator: " "))
        }
        // Every word of the plain text appears in the structured words, in order.
        let textWords = page.text.split(whereSeparator: \.isWhitespace).map(String.init)
        #expect(textWords == page.words.map(\.text))
        #expect(page.text.contains("INVOICE") || page.text.contains("Invoice"))
    }

    @Test func jsonShapeIsStable() throws {
        let page = OCRPage(page: 0, width: 10, height: 20, dpi: nil, text: "a b\n",
                           words: [OCRWord(text: "a", box: BoundingBox(x0: 1, y0: 2, x1: 3, y1: 4), confidence: 0.5, line: 0),
                                   OCRWord(text: "b", box: BoundingBox(x0: 5, y0: 2, x1: 7, y1: 4), confidence: 1, line: 0)],
                           lines: [OCRLine(text: "a b", box: BoundingBox(x0: 1, y0: 2, x1: 7, y1: 4), confidence: 0.75,
                                           block: 0, words: 0..<2)],
                           blocks: [OCRBlock(box: BoundingBox(x0: 1, y0: 2, x1: 7, y1: 4), lines: 0..<1)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(page), as: UTF8.self)
        #expect(json.contains(#""box":[1,2,3,4]"#))
        #expect(json.contains(#""words":[0,2]"#))
        #expect(try JSONDecoder().decode(OCRPage.self, from: Data(json.utf8)) == page)
    }

    @Test func standardModelLoads() throws {
        let engine = try TesseractEngine(configuration: TesseractConfiguration(model: .standard, pageSegmentationMode: 4))
        #expect(engine.location.datapath.hasSuffix("tessdata-standard"))
        let page = try engine.recognize(try samplePage("invoice-001.png"))
        #expect(page.text.contains("Invoice") || page.text.contains("INVOICE"))
    }

    @Test func modelFromATraineddataPath() throws {
        let location = try TesseractModel.fast.locate(language: "eng")
        let model = TesseractModel(argument: location.datapath + "/eng.traineddata")
        let found = try model.locate(language: "ignored")
        #expect(found.language == "eng")
        #expect(found.datapath == location.datapath)
    }

    @Test func missingModelSaysWhereItLooked() {
        #expect {
            try TesseractEngine(configuration: TesseractConfiguration(model: .path("/nonexistent/tessdata")))
        } throws: { error in
            guard case .modelNotFound(_, let searched) = error as? OCRError else { return false }
            return searched == ["/nonexistent/tessdata"]
        }
    }

    @Test func unknownLanguageFailsToInitialise() throws {
        let fast = try TesseractModel.fast.locate(language: "eng")
        // A folder that exists but has no such language.
        #expect(throws: OCRError.self) {
            try TesseractEngine(configuration: TesseractConfiguration(model: .path(fast.datapath), language: "xx_nope"))
        }
    }

    @Test func deadlineStopsAPage() throws {
        let engine = try TesseractEngine(configuration: TesseractConfiguration(deadline: 0.000_1))
        #expect(throws: OCRError.deadlineExceeded(seconds: 0.000_1)) {
            try engine.recognize(try samplePage("invoice-001.png"))
        }
        // The engine stays usable after a stopped page.
        let relaxed = try TesseractEngine(configuration: TesseractConfiguration(deadline: 60))
        #expect(try relaxed.recognize(try samplePage("receipt-007.jpg")).words.count > 10)
    }

    @Test func blankAndOversizedPages() throws {
        let engine = try TesseractEngine()
        let blank = try engine.recognize(PixelBuffer(width: 300, height: 200, layout: .gray, filledWith: 255))
        #expect(blank.words.isEmpty)
        #expect(throws: OCRError.self) {
            try engine.recognize(PixelBuffer(width: 40_000, height: 1, layout: .gray, filledWith: 255))
        }
        #expect(throws: OCRError.self) {
            try engine.recognize(PixelBuffer(width: 0, height: 0, layout: .gray))
        }
    }

    @Test func openMPIsLimited() throws {
        _ = try TesseractEngine.libraryVersion()
        #expect(ProcessInfo.processInfo.environment["OMP_THREAD_LIMIT"] != nil
                || String(cString: getenv("OMP_THREAD_LIMIT")) == "1")
    }
}

@Suite("Engine pool and batches", .serialized)
struct OCRBatchTests {
    @Test func poolGivesSameResultsAsOneEngine() async throws {
        let configuration = TesseractConfiguration(pageSegmentationMode: 4)
        let pool = TesseractEnginePool(configuration: configuration, capacity: 2)
        let image = try samplePage("receipt-007.jpg")
        let reference = try TesseractEngine(configuration: configuration).recognize(image)
        let results = try await withThrowingTaskGroup(of: OCRPage.self) { group in
            for _ in 0..<3 { group.addTask { try await pool.recognize(image) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 3)
        #expect(results.allSatisfy { $0 == reference })
    }

    @Test func batchKeepsGoingPastBadFiles() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-batch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: samples.appendingPathComponent("receipt-007.jpg"),
                                         to: folder.appendingPathComponent("a.jpg"))
        let good = try Data(contentsOf: samples.appendingPathComponent("receipt-004.jpg"))
        try good.prefix(good.count / 2).write(to: folder.appendingPathComponent("b.jpg"))  // a copy in progress
        try Data().write(to: folder.appendingPathComponent("c.png"))
        try Data("hidden".utf8).write(to: folder.appendingPathComponent(".d.png"))

        let (files, missing) = InputFiles.collect([folder.path, "/nonexistent.png"])
        #expect(files.map(\.relativePath) == ["a.jpg", "b.jpg", "c.png"])
        #expect(missing == ["/nonexistent.png"])

        let collected = Outcomes()
        let batch = OCRBatch(configuration: TesseractConfiguration(pageSegmentationMode: 4), jobs: 2)
        let summary = try await batch.run(files) { await collected.add($0) }
        #expect(summary.files == 3)
        #expect(summary.pages == 1)
        #expect(summary.failures.count == 2)
        let reasons = summary.failures.map(\.reason).sorted()
        #expect(reasons.contains { $0.contains("empty") })
        #expect(reasons.contains { $0.contains("truncated") })
        #expect(await collected.count == 3)
        // The truncated file is still there, untouched.
        #expect(try Data(contentsOf: folder.appendingPathComponent("b.jpg")).count == good.count / 2)
    }
}

actor Outcomes {
    var count = 0
    func add(_ outcome: OCRBatch.Outcome) { count += 1 }
}

@Suite("Bad models and cancellation", .serialized)
struct TesseractFailureTests {
    @Test func truncatedModelFileIsAnError() throws {
        let fast = try TesseractModel.fast.locate(language: "eng")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try Data(contentsOf: URL(fileURLWithPath: fast.datapath + "/eng.traineddata"))
        let truncated = folder.appendingPathComponent("eng.traineddata")
        try model.prefix(model.count / 3).write(to: truncated)
        #expect {
            try TesseractEngine(configuration: TesseractConfiguration(model: .path(folder.path)))
        } throws: { error in
            guard case .initializationFailed(let datapath, let language) = error as? OCRError else { return false }
            return datapath == folder.path && language == "eng"
        }
        #expect(try Data(contentsOf: truncated).count == model.count / 3)
    }

    @Test func cancellationStopsRecognition() throws {
        let engine = try TesseractEngine(configuration: TesseractConfiguration(deadline: nil))
        let cancellation = TesseractEngine.Cancellation()
        cancellation.cancel()
        #expect(throws: OCRError.cancelled) {
            try engine.recognize(try samplePage("invoice-003.png"), cancellation: cancellation)
        }
        // The engine is reusable afterwards.
        #expect(try engine.recognize(try samplePage("receipt-007.jpg")).words.count > 10)
    }

    @Test func cancelledTasksDoNotRecognize() async throws {
        let pool = TesseractEnginePool(configuration: TesseractConfiguration(deadline: nil), capacity: 1)
        let image = try samplePage("invoice-003.png")
        let task = Task {
            // Cancelled before it reaches the pool.
            withUnsafeCurrentTask { $0?.cancel() }
            return try await pool.recognize(image)
        }
        await #expect(throws: OCRError.cancelled) { try await task.value }
        let page = try await pool.recognize(try samplePage("receipt-007.jpg"))
        #expect(page.words.count > 10)
    }
}
