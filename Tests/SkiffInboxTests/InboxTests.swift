import Foundation
import SkiffExtraction
import SkiffImage
import SkiffInbox
import SkiffJSON
import SkiffOCR
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-inbox-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("content hash and ignore rules")
struct HashAndIgnoreTests {
    @Test func sha256MatchesFIPSVectors() {
        #expect(ContentHash.sha256(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentHash.sha256(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ContentHash.sha256(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(ContentHash.sha256(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func defaultPatternsSkipLitterAndFilesInProgress() {
        let rules = IgnoreRules()
        for path in [".DS_Store", "Thumbs.db", "scan.jpg.part", "scan.jpg~", "upload.tmp", "@eaDir/scan.jpg", "a/.hidden/b.png",
                     "a/desktop.ini", "x.crdownload"] {
            #expect(rules.ignores(relativePath: path), "\(path) is ignored")
        }
        for path in ["scan.jpg", "mail/2026/receipt.png", "a b/c.JPG"] {
            #expect(!rules.ignores(relativePath: path), "\(path) is taken")
        }
        #expect(IgnoreRules(patterns: ["*.pdf"]).ignores(relativePath: "x/y.pdf"))
    }
}

@Suite("job journal")
struct JournalTests {
    @Test func admitsDetectsDuplicatesAndPersists() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("journal.sqlite").path
        let journal = try InboxJournal(path: path)
        guard case .new(let first) = try journal.admit(path: "a/scan.png", hash: "h1", size: 10, policy: .skip, stemTaken: { _ in false })
        else { Issue.record("a new file is new"); return }
        #expect(first.stem == "a/scan" && first.state == .seen)
        // Same bytes while the first is in progress: wait.
        guard case .wait = try journal.admit(path: "copy.png", hash: "h1", size: 10, policy: .skip, stemTaken: { _ in false })
        else { Issue.record("a copy of a job in progress waits"); return }
        try journal.start(first.id)
        try journal.committed(first.id, destination: "a/scan.png")
        try journal.finish(first.id)
        guard case .duplicate(let copy, let original) = try journal.admit(path: "copy.png", hash: "h1", size: 10, policy: .skip,
                                                                          stemTaken: { _ in false })
        else { Issue.record("a copy of a finished job is a duplicate"); return }
        #expect(original.id == first.id && copy.duplicateOf == first.id && copy.state == .written)
        // Process policy: the same bytes again are a new job; its stem is numbered, never reused.
        guard case .new(let again) = try journal.admit(path: "a/scan.png", hash: "h1", size: 10, policy: .process,
                                                       stemTaken: { $0 == "a/scan-2" })
        else { Issue.record("policy process makes a new job"); return }
        #expect(again.stem == "a/scan-3")

        // Reopened (a restart): everything is still there.
        let reopened = try InboxJournal(path: path)
        #expect(try reopened.job(first.id)?.state == .done)
        #expect(try reopened.job(first.id)?.outputsCommitted == 1)
        #expect(try reopened.openJob(path: "a/scan.png")?.id == again.id)
        #expect(try reopened.events(job: first.id).map(\.what) == ["seen", "started", "extracted", "moved"])
        #expect(try reopened.destinationReserved("a/scan.png"))
    }
}

@Suite("inbox end to end", .serialized)
struct InboxTests {
    static func pipeline() throws -> ExtractionPipeline {
        let schema = try ExtractionSchema(contentsOf: repository.appendingPathComponent("schemas/receipt.json").path)
        return try ExtractionPipeline(schema: schema, engine: .tesseract,
                                      passes: [TesseractConfiguration(model: .fast, pageSegmentationMode: 4, assumedResolution: 300)])
    }

    static func crop(_ index: Int) throws -> Data {
        let page = try DocumentLoader().load(contentsOf: repository.appendingPathComponent("samples/receipt-007.jpg")).pages[0].image
        return try page.cropped(x: 10 + index * 7, y: 40 + index * 11, width: 200, height: 60).pngData()
    }

    static func runOnce(_ root: URL, duplicates: DuplicatePolicy = .skip) async throws -> Inbox.Summary {
        let configuration = InboxConfiguration(inbox: root.appendingPathComponent("inbox"), output: root.appendingPathComponent("out"),
                                               quietPeriod: 0.1, duplicates: duplicates, retryDelay: 0.05, once: true)
        let pipeline = try Self.pipeline()
        return try await Inbox(configuration: configuration) { pipeline }.run()
    }

    @Test(.timeLimit(.minutes(2)))
    func namesNeverCollideAndFoldersBecomeTags() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let inbox = root.appendingPathComponent("inbox")
        try FileManager.default.createDirectory(at: inbox.appendingPathComponent("mail/acme"), withIntermediateDirectories: true)
        try Self.crop(0).write(to: inbox.appendingPathComponent("mail/acme/scan.png"))
        try Data("garbage".utf8).write(to: inbox.appendingPathComponent("bad.png"))
        let first = try await Self.runOnce(root)
        #expect(first.extracted == 1 && first.failed == 1)

        // The same names again, other bytes: nothing in done/, failed/ or the output is overwritten.
        try Self.crop(1).write(to: inbox.appendingPathComponent("mail/acme/scan.png"))
        try Data("other garbage".utf8).write(to: inbox.appendingPathComponent("bad.png"))
        let second = try await Self.runOnce(root)
        #expect(second.extracted == 1 && second.failed == 1)
        let done = root.appendingPathComponent("done/mail/acme"), out = root.appendingPathComponent("out/mail/acme")
        #expect(try Data(contentsOf: done.appendingPathComponent("scan.png")) == (try Self.crop(0)))
        #expect(try Data(contentsOf: done.appendingPathComponent("scan-2.png")) == (try Self.crop(1)))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("scan.json").path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("scan-2.json").path))
        let failed = root.appendingPathComponent("failed")
        #expect(try Data(contentsOf: failed.appendingPathComponent("bad.png")) == Data("garbage".utf8))
        #expect(try Data(contentsOf: failed.appendingPathComponent("bad-2.png")) == Data("other garbage".utf8))
        let report = try JSONParser().parse(Array(Data(contentsOf: failed.appendingPathComponent("bad-2.png.error.json"))))
        #expect(report["error"]?.stringValue?.contains("not a PNG or JPEG") == true)

        let provenance = try JSONParser().parse(Array(Data(contentsOf: out.appendingPathComponent("scan-2.provenance.json"))))
        #expect(provenance["inbox"]?["folder"]?.stringValue == "mail/acme")
        #expect(provenance["inbox"]?["tags"] == .array([.string("mail"), .string("acme")]))
        #expect(provenance["inbox"]?["sha256"]?.stringValue == ContentHash.sha256(try Self.crop(1)))
    }

    @Test(.timeLimit(.minutes(2)))
    func duplicatePolicies() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let inbox = root.appendingPathComponent("inbox")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        try Self.crop(2).write(to: inbox.appendingPathComponent("one.png"))
        _ = try await Self.runOnce(root)
        try Self.crop(2).write(to: inbox.appendingPathComponent("two.png"))
        let skipped = try await Self.runOnce(root)
        #expect(skipped.extracted == 0 && skipped.duplicates == 1)
        let link = root.appendingPathComponent("out/two.json").path
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "one.json")
        try Self.crop(2).write(to: inbox.appendingPathComponent("three.png"))
        let processed = try await Self.runOnce(root, duplicates: .process)
        #expect(processed.extracted == 1 && processed.duplicates == 0)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root.appendingPathComponent("out/three.json").path)) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("done").path).sorted()
                == ["one.png", "three.png", "two.png"])
    }

    @Test(.timeLimit(.minutes(2)))
    func refusesASecondWatcherOnTheSameJournal() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = InboxConfiguration(inbox: root.appendingPathComponent("inbox"), output: root.appendingPathComponent("out"),
                                               pollInterval: 0.1, quietPeriod: 0.1)
        let pipeline = try Self.pipeline()
        let first = try Inbox(configuration: configuration) { pipeline }
        let running = Task { try await first.run() }
        try await Task.sleep(for: .milliseconds(500))
        let second = try Inbox(configuration: configuration) { pipeline }
        await #expect(throws: InboxError.self) { _ = try await second.run() }
        await first.stop()
        _ = try await running.value
    }
}
