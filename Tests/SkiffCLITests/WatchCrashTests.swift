import Foundation
import SkiffImage
import SkiffInbox
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The inbox's promise, tested on the real `skiff` binary: files dropped while the watcher is
/// killed with SIGKILL again and again all end up processed exactly once. Fast by default;
/// `SKIFF_CRASH_FILES`, `SKIFF_CRASH_KILLS` set a longer run (`tools/crash_watch.sh`).
@Suite("skiff watch survives kill -9", .serialized)
struct WatchCrashTests {
    static let files = Int(ProcessInfo.processInfo.environment["SKIFF_CRASH_FILES"] ?? "") ?? 200
    static let kills = Int(ProcessInfo.processInfo.environment["SKIFF_CRASH_KILLS"] ?? "") ?? 20

    @Test("inotify mode", .timeLimit(.minutes(10)))
    func eventsMode() throws {
        try CrashScenario(files: Self.files, kills: Self.kills, watchArguments: []).run()
    }

    @Test("polling mode, events disabled", .timeLimit(.minutes(10)))
    func pollingMode() throws {
        try CrashScenario(files: Self.files, kills: Self.kills, watchArguments: ["--poll", "0.2"]).run()
    }
}

@Suite("skiff watch shuts down gracefully", .serialized)
struct WatchShutdownTests {
    @Test(.timeLimit(.minutes(3)))
    func sigtermFinishesInFlightWorkAndExits() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let inbox = root.appendingPathComponent("inbox"), out = root.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        let crops = try CrashScenario.crops(40)
        for (index, crop) in crops.enumerated() { try crop.write(to: inbox.appendingPathComponent("page-\(index).png")) }
        let log = root.appendingPathComponent("watch.log").path
        let arguments = ["watch", inbox.path, "--out", out.path, "--engine", "tesseract", "--ocr", "fast", "--jobs", "2",
                         "--quiet-period", "0.2"]
        let watcher = try ChildProcess(productsFolder().appendingPathComponent("skiff").path, arguments, log: log)
        let done = root.appendingPathComponent("done")
        let deadline = Date().addingTimeInterval(90)
        while ((try? allFiles(done).count) ?? 0) < 2 && Date() < deadline { usleep(50_000) }
        watcher.kill(SIGTERM)
        let exited = watcher.wait(seconds: 60)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(exited, "SIGTERM stops the watcher; log:\n\(text.suffix(2000))")
        #expect(watcher.status == 0, "clean exit; log:\n\(text.suffix(2000))")
        #expect(text.contains("stopping"))
        let journal = try InboxJournal(path: out.appendingPathComponent(".skiff-inbox/journal.sqlite").path)
        #expect(try journal.jobs(in: [.processing, .written, .failing]).isEmpty, "jobs in progress were finished, not dropped")
        #expect(try allFiles(done).count < crops.count, "it stopped before the end (the test would not show anything otherwise)")
        // The rest is done by the next run.
        let again = try ChildProcess(productsFolder().appendingPathComponent("skiff").path, arguments + ["--once"], log: log)
        #expect(again.wait(seconds: 120))
        #expect(try allFiles(done).count == crops.count)
        #expect(try allFiles(inbox).isEmpty)
        #expect(try journal.jobs().allSatisfy { $0.state == .done && $0.outputsCommitted == 1 })
    }
}

/// A child process in its own process group, killed with its group on every exit path.
final class ChildProcess {
    let pid: pid_t
    private var reaped = false
    private(set) var status: Int32 = 0

    init(_ executable: String, _ arguments: [String], log: String) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let code = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        guard code == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "spawn: \(code)"]) }
        pid = child
    }

    func kill(_ signal: Int32) {
        guard !reaped else { return }
        Glibc.kill(-pid, signal)
    }

    /// Waits up to `seconds`; true when it exited.
    @discardableResult
    func wait(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !reaped {
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                reaped = true
                status = raw
                return true
            }
            if Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    deinit {
        if !reaped {
            Glibc.kill(-pid, SIGKILL)
            wait(seconds: 10)
        }
    }
}

struct CrashScenario {
    let files: Int
    let kills: Int
    let watchArguments: [String]

    enum Kind { case good, slow, partRename, corrupt, truncated, duplicate }
    struct Drop {
        var path: String
        var bytes: Data
        var kind: Kind
    }

    /// Small crops of the sample scans: real text for Tesseract, quick to read, all different.
    static func crops(_ count: Int) throws -> [Data] {
        let loader = DocumentLoader()
        let pages = try ["receipt-007.jpg", "receipt-004.jpg", "receipt-383.jpg", "invoice-002.jpg"].map {
            try loader.load(contentsOf: repository.appendingPathComponent("samples/" + $0)).pages[0].image
        }
        var generator = SystemRandomNumberGenerator()
        var seen: Set<Data> = []
        var crops: [Data] = []
        while crops.count < count {
            let page = pages[crops.count % pages.count]
            let width = Int.random(in: 120...220, using: &generator), height = Int.random(in: 40...70, using: &generator)
            let x = Int.random(in: 0...(page.width - width), using: &generator)
            let y = Int.random(in: 0...(page.height - height), using: &generator)
            let png = try page.cropped(x: x, y: y, width: width, height: height).pngData()
            if seen.insert(png).inserted { crops.append(png) }
        }
        return crops
    }

    func plan() throws -> [Drop] {
        let corrupt = max(8, files / 14), truncated = max(4, files / 28), duplicates = max(10, files / 12)
        let slow = max(10, files / 10), renamed = max(6, files / 20)
        let goodCount = files - corrupt - truncated - duplicates
        let images = try Self.crops(goodCount)
        let folders = ["", "", "scanner-a", "mail/2026", "mail/2026/q4"]
        var drops: [Drop] = []
        for (index, image) in images.enumerated() {
            let kind: Kind = index < slow ? .slow : index < slow + renamed ? .partRename : .good
            drops.append(Drop(path: folders[index % folders.count].appendingSlash + "scan-\(index).png", bytes: image, kind: kind))
        }
        for index in 0..<corrupt {
            var bytes = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            bytes += Data((0..<Int.random(in: 50...500)).map { _ in UInt8.random(in: 0...255) })
            if index % 3 == 0 { bytes = Data("not an image at all \(index)\n".utf8) }
            drops.append(Drop(path: folders[index % folders.count].appendingSlash + "bad-\(index).png", bytes: bytes, kind: .corrupt))
        }
        for index in 0..<truncated {
            let image = images[(index * 7) % images.count]
            drops.append(Drop(path: "cut-\(index).png", bytes: image.prefix(image.count / 2), kind: .truncated))
        }
        for index in 0..<duplicates {
            let original = images[(index * 5 + 3) % images.count]
            drops.append(Drop(path: folders[(index + 2) % folders.count].appendingSlash + "again-\(index).png", bytes: original,
                              kind: .duplicate))
        }
        return drops.shuffled()
    }

    func run() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let inbox = root.appendingPathComponent("inbox"), out = root.appendingPathComponent("out")
        let done = root.appendingPathComponent("done"), failed = root.appendingPathComponent("failed")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        let drops = try plan()
        let log = root.appendingPathComponent("watch.log").path
        let executable = productsFolder().appendingPathComponent("skiff").path
        let arguments = ["watch", inbox.path, "--out", out.path, "--engine", "tesseract", "--ocr", "fast", "--jobs", "2",
                         "--quiet-period", "0.5", "--retry-delay", "0.3", "--max-attempts", "3", "--rescan", "2",
                         "--log-level", "info"] + watchArguments

        // The dropper: files arrive over time, some slowly in pieces, some under a temporary name.
        let dropperDone = root.appendingPathComponent("dropper.done")
        let pace = useconds_t(Double(kills) * 1.1 * 0.8 / Double(drops.count) * 1e6)
        let dropThread = Thread {
            for drop in drops {
                let url = inbox.appendingPathComponent(drop.path)
                try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                switch drop.kind {
                case .slow:
                    FileManager.default.createFile(atPath: url.path, contents: nil)
                    if let handle = try? FileHandle(forWritingTo: url) {
                        let pieces = 5
                        let step = (drop.bytes.count + pieces - 1) / pieces
                        for start in stride(from: 0, to: drop.bytes.count, by: step) {
                            handle.write(drop.bytes[start..<min(drop.bytes.count, start + step)])
                            usleep(useconds_t.random(in: 40_000...150_000))
                        }
                        try? handle.close()
                    }
                case .partRename:
                    let part = URL(fileURLWithPath: url.path + ".part")
                    try? drop.bytes.write(to: part)
                    usleep(200_000)
                    rename(part.path, url.path)
                default:
                    try? drop.bytes.write(to: url)
                }
                // Spread over the kill phase, so kills land while files arrive and are processed.
                usleep(useconds_t.random(in: 0...(2 * pace)))
            }
            FileManager.default.createFile(atPath: dropperDone.path, contents: nil)
        }
        dropThread.start()

        // Kill the watcher at random moments until the drops are in and enough kills happened.
        var killed = 0
        let deadline = Date().addingTimeInterval(480)
        while killed < kills || !FileManager.default.fileExists(atPath: dropperDone.path) {
            try #require(Date() < deadline, "the kill loop took too long")
            let started = watchingLines(log)
            let watcher = try ChildProcess(executable, arguments, log: log)
            // Most kills land while it works: after it has started (recovery done), at a random
            // moment; one in four lands during start-up or recovery itself. Waiting for the start
            // keeps kills meaningful on a loaded machine, where start-up takes longer.
            if Int.random(in: 0..<4) > 0 {
                let ready = Date().addingTimeInterval(30)
                while watchingLines(log) == started && Date() < ready { usleep(20_000) }
                usleep(useconds_t.random(in: 50_000...1_200_000))
            } else {
                usleep(useconds_t.random(in: 0...400_000))
            }
            watcher.kill(SIGKILL)
            #expect(watcher.wait(seconds: 20), "a killed watcher was reaped")
            killed += 1
        }
        // Then one run to the end.
        let final = try ChildProcess(executable, arguments.filter { $0 != "--poll" && $0 != "0.2" } + ["--once"], log: log)
        let finished = final.wait(seconds: 240)
        if !finished { final.kill(SIGKILL) }
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(finished, "the final --once run finished; log tail:\n\(logText.suffix(3000))")
        #expect(final.status == 0, "final run exit status \(final.status); log tail:\n\(logText.suffix(3000))")

        try verify(drops: drops, inbox: inbox, out: out, done: done, failed: failed, killed: killed, log: logText)
    }

    func verify(drops: [Drop], inbox: URL, out: URL, done: URL, failed: URL, killed: Int, log: String) throws {
        let tail = "\nlog tail:\n" + log.suffix(2000)
        if watchArguments.isEmpty {
            #expect(log.contains("mode=inotify") && !log.contains("switching to polling"), "events were used throughout")
        } else {
            #expect(!log.contains("mode=inotify"), "polling mode never used events")
        }
        let left = try allFiles(inbox)
        #expect(left.isEmpty, "nothing left in the inbox: \(left)\(tail)")
        let outFiles = try allFiles(out).filter { !$0.hasPrefix(".skiff-inbox/") }
        #expect(outFiles.allSatisfy { !$0.hasSuffix(".tmp") }, "no temporary files left in the output")

        let hash = { (data: Data) in ContentHash.sha256(data) }
        let good = drops.filter { [.good, .slow, .partRename, .duplicate].contains($0.kind) }
        let bad = drops.filter { $0.kind == .corrupt || $0.kind == .truncated }
        let doneHashes = try allFiles(done).map { hash(try Data(contentsOf: done.appendingPathComponent($0))) }
        #expect(doneHashes.sorted() == good.map { hash($0.bytes) }.sorted(),
                "every good input sits in done/ exactly once (\(doneHashes.count) of \(good.count))\(tail)")
        let failedFiles = try allFiles(failed)
        let failedInputs = failedFiles.filter { !$0.hasSuffix(".error.json") }
        #expect(failedInputs.map { hash(try! Data(contentsOf: failed.appendingPathComponent($0))) }.sorted()
                == bad.map { hash($0.bytes) }.sorted(), "every corrupt input sits in failed/ exactly once\(tail)")
        for name in failedInputs {
            let report = failed.appendingPathComponent(name + ".error.json")
            let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any]
            #expect((object?["error"] as? String)?.isEmpty == false, "\(name) has its reason")
        }

        // Outputs: one real document per distinct good content; duplicates are links to it.
        var documents: [String: Int] = [:]
        var links = 0
        for name in outFiles where name.hasSuffix(".json") && !name.hasSuffix(".provenance.json") {
            let url = out.appendingPathComponent(name)
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)) != nil {
                links += 1
                #expect(FileManager.default.fileExists(atPath: url.path), "\(name) links to an existing output")
                continue
            }
            let provenance = out.appendingPathComponent(String(name.dropLast(5)) + ".provenance.json")
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: provenance)) as? [String: Any]
            let source = try #require((object?["inbox"] as? [String: Any])?["sha256"] as? String, "\(name) provenance names its input")
            documents[source, default: 0] += 1
            _ = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        }
        let distinct = Set(good.map { hash($0.bytes) })
        #expect(Set(documents.keys) == distinct, "every good content has an output")
        #expect(documents.values.allSatisfy { $0 == 1 }, "no content has two outputs: \(documents.filter { $0.value > 1 })")
        #expect(links == good.count - distinct.count, "each duplicate is linked to the earlier output")

        // The journal: nothing in flight, nothing committed twice.
        let journal = try InboxJournal(path: out.appendingPathComponent(".skiff-inbox/journal.sqlite").path)
        let jobs = try journal.jobs()
        #expect(jobs.filter { !$0.state.isFinished }.isEmpty, "nothing left in flight: \(jobs.filter { !$0.state.isFinished })")
        let finishedGood = jobs.filter { $0.state == .done }
        #expect(finishedGood.count == good.count, "one done job per good input")
        #expect(jobs.filter { $0.state == .failed }.count == bad.count, "one failed job per corrupt input")
        #expect(finishedGood.filter { $0.duplicateOf == nil }.allSatisfy { $0.outputsCommitted == 1 }, "outputs committed once")
        #expect(finishedGood.filter { $0.duplicateOf != nil }.allSatisfy { $0.outputsCommitted == 0 }, "duplicates not extracted")
        let events = try journal.events()
        var commits: [Int64: Int] = [:]
        for event in events where event.what == "extracted" || event.what == "outputs-found" { commits[event.job, default: 0] += 1 }
        #expect(commits.values.allSatisfy { $0 == 1 }, "no job's outputs committed twice")
        let starts = Set(events.map(\.pid)).count
        print("crash test \(watchArguments.isEmpty ? "inotify" : "polling"): \(drops.count) files (\(good.count) good, "
              + "\(distinct.count) distinct, \(bad.count) corrupt), \(killed) SIGKILLs, \(starts) watcher processes wrote the journal, "
              + "\(events.filter { $0.what == "outputs-found" }.count) outputs found after a kill, "
              + "\(events.filter { $0.what == "requeued" }.count) jobs requeued after a kill")
    }
}

/// How many times watchers logged their start in `log`.
func watchingLines(_ log: String) -> Int {
    ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").components(separatedBy: "[SkiffInbox] watching").count - 1
}

extension String {
    var appendingSlash: String { isEmpty ? "" : self + "/" }
}

func productsFolder() -> URL {
    var products = Bundle.main.bundleURL
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        products = bundle.bundleURL.deletingLastPathComponent()
    }
    return products
}

/// Every file and link below `root`, relative, sorted.
func allFiles(_ root: URL) throws -> [String] {
    guard FileManager.default.fileExists(atPath: root.path) else { return [] }
    var found: [String] = []
    let walker = FileManager.default.enumerator(atPath: root.path)
    while let name = walker?.nextObject() as? String {
        var info = stat()
        guard lstat(root.appendingPathComponent(name).path, &info) == 0 else { continue }
        if (info.st_mode & S_IFMT) != S_IFDIR { found.append(name) }
    }
    return found.sorted()
}
