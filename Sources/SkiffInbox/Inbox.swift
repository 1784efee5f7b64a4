public import Foundation
public import Logging
public import SkiffExtraction
public import SkiffImage
import Skiff
import SkiffJSON
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The watched inbox: finds complete files, records each in the journal before anything else
/// happens to it, extracts it with one of `jobs` workers, writes its outputs atomically, and only
/// then moves it to done/ (or, with the reason beside it, to failed/). Every step is a journal
/// transaction, so a restart after a crash at any moment finishes exactly the unfinished work.
public actor Inbox {
    public let configuration: InboxConfiguration
    public nonisolated let journal: InboxJournal
    private let logger: Logger
    private let makePipeline: @Sendable () throws -> ExtractionPipeline
    private let loader: DocumentLoader

    private var scanner: InboxScanner
    private let queue = WorkQueue()
    /// Jobs queued or being worked on.
    private var inFlight: Set<Int64> = []
    private var stopping = false
    private var wakeUp: AsyncStream<Void>.Continuation?
    private var events: FileEvents?
    private var lastRescan = 0.0
    private var summary = Summary()
    /// Serialises the choice of names in done/ and failed/ between workers.
    private let naming = NSLock()

    /// What one run did.
    public struct Summary: Sendable {
        public var extracted = 0
        public var duplicates = 0
        public var failed = 0
        public var retried = 0
        public var recovered = 0
    }

    public init(configuration: InboxConfiguration, logger: Logger = Logger(label: "skiff.inbox"),
                decoding: DecodingOptions = .default,
                makePipeline: @escaping @Sendable () throws -> ExtractionPipeline) throws(InboxError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.makePipeline = makePipeline
        loader = DocumentLoader(options: decoding)
        for folder in [configuration.inbox, configuration.output, configuration.done, configuration.failed] {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw .folder(path: folder.path, reason: "cannot create: \(error)")
            }
        }
        journal = try InboxJournal(path: configuration.journal.path)
        scanner = InboxScanner(root: configuration.inbox, ignore: configuration.ignore,
                               excluded: configuration.excludedFromScan, quietPeriod: configuration.quietPeriod)
    }

    /// Asks a running inbox to stop: no new jobs start, the ones in progress finish, queued ones
    /// stay in the journal for the next run.
    public func stop() {
        guard !stopping else { return }
        stopping = true
        logger.info("stopping: finishing the jobs in progress")
        wakeUp?.yield()
    }

    /// Runs until `stop()` (or, with `once`, until nothing is left to do).
    public func run() async throws(InboxError) -> Summary {
        let lock = try takeLock()
        defer { close(lock) }
        for folder in [configuration.output, configuration.done, configuration.failed] { removeAbandoned(under: folder) }
        try recover()

        let pipelines: [ExtractionPipeline]
        do {
            pipelines = try (0..<configuration.jobs).map { _ in try makePipeline() }
        } catch {
            throw .configuration("cannot start the extraction pipeline: \(error)")
        }

        let (wakes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakeUp = continuation
        startEvents(continuation)
        logger.info("watching", metadata: ["inbox": "\(configuration.inbox.path)", "out": "\(configuration.output.path)",
                                           "mode": "\(events == nil ? "polling" : "inotify")", "jobs": "\(configuration.jobs)"])

        await withTaskGroup(of: Void.self) { group in
            for pipeline in pipelines {
                group.addTask { await self.work(with: pipeline) }
            }
            var iterator = wakes.makeAsyncIterator()
            while !stopping {
                let idle = await scanOnce()
                if configuration.once && idle { break }
                let wait = nextWait()
                // Woken by an event, a finished job or stop(), or by the timer.
                let sleeper = Task { try? await Task.sleep(for: .seconds(wait)); continuation.yield() }
                _ = await iterator.next()
                sleeper.cancel()
            }
            let left = await queue.close()
            for id in left { inFlight.remove(id) }
            await group.waitForAll()
        }
        events?.stop()
        continuation.finish()
        logger.info("stopped", metadata: ["extracted": "\(summary.extracted)", "duplicates": "\(summary.duplicates)",
                                          "failed": "\(summary.failed)"])
        return summary
    }

    // MARK: Scanning

    private var mode: String { events == nil ? "polling" : "inotify" }

    private func startEvents(_ continuation: AsyncStream<Void>.Continuation) {
        guard configuration.mode == .auto, !configuration.once else { return }
        var why = ""
        events = FileEvents.start(root: configuration.inbox.path, ignore: configuration.ignore,
                                  excluded: configuration.excludedFromScan, why: &why) { continuation.yield() }
        if events == nil { logger.warning("file-system events unavailable, polling instead", metadata: ["reason": "\(why)"]) }
    }

    private var settling = false
    private var retryAt: Double?
    private var scannedOnce = false
    /// Paths this process has seen in the inbox (pruned when their file leaves it).
    private var everSeen: Set<String> = []

    /// How long to sleep before the next scan.
    private func nextWait() -> Double {
        let now = Date().timeIntervalSince1970
        var wait = events == nil ? configuration.pollInterval : configuration.rescanInterval - (now - lastRescan)
        if settling {
            // Polling on purpose checks at its own pace; otherwise settling files are checked often.
            wait = min(wait, configuration.mode == .poll && !configuration.once
                ? configuration.pollInterval : max(0.05, configuration.quietPeriod / 2))
        }
        if let retryAt { wait = min(wait, max(0.05, retryAt - now)) }
        return max(0.01, wait)
    }

    /// One pass over the inbox; returns whether there is nothing left to do (for `once`).
    private func scanOnce() async -> Bool {
        let now = Date().timeIntervalSince1970
        let timerRescan = now - lastRescan >= configuration.rescanInterval
        if timerRescan { lastRescan = now }
        let found = scanner.scan(now: now)
        settling = found.settling
        // Files this process never saw before, older than two seconds, that no event named since
        // the last rescan: events are silent here (a network share). The first scan only learns.
        let firstSighting = found.new.filter { !everSeen.contains($0) }
        everSeen.formUnion(firstSighting)
        if let events, timerRescan, scannedOnce {
            let announced = events.drainAnnounced()
            let unannounced = firstSighting.filter { path in
                !announced.contains(path) && !announced.contains(where: { path.hasPrefix($0 + "/") })
                    && (modificationAge(path, now: now) ?? 0) > 2
            }
            if !unannounced.isEmpty && configuration.rescanInterval > 2 {
                logger.warning("file-system events missed files; switching to polling",
                               metadata: ["example": "\(unannounced[0])", "missed": "\(unannounced.count)"])
                events.stop()
                self.events = nil
            }
        }
        scannedOnce = true
        var waitingRetries: Double?
        var blocked = false
        for (path, size) in found.complete {
            guard inFlight.count < configuration.queueCapacity, !stopping else {
                blocked = true
                break
            }
            do {
                if let open = try journal.openJob(path: path) {
                    guard !inFlight.contains(open.id) else { continue }
                    if open.state == .seen && open.nextAttempt > now {
                        waitingRetries = min(waitingRetries ?? open.nextAttempt, open.nextAttempt)
                        continue
                    }
                    await enqueue(open.id)
                    continue
                }
                let url = configuration.inbox.appendingPathComponent(path)
                guard let data = try? Data(contentsOf: url), Int64(data.count) == size else {
                    scanner.forget(path)
                    continue
                }
                let hash = ContentHash.sha256(data)
                let output = configuration.output
                let admission = try journal.admit(path: path, hash: hash, size: size, policy: configuration.duplicates) { stem in
                    FileManager.default.fileExists(atPath: output.appendingPathComponent(stem + ".json").path)
                        || FileManager.default.fileExists(atPath: output.appendingPathComponent(stem + ".provenance.json").path)
                }
                switch admission {
                case .new(let job):
                    logger.info("new file", metadata: ["file": "\(path)", "job": "\(job.id)", "sha256": "\(hash.prefix(12))"])
                    await enqueue(job.id)
                case .duplicate(let job, let original):
                    logger.info("duplicate content", metadata: ["file": "\(path)", "job": "\(job.id)", "of": "\(original.path)"])
                    await enqueue(job.id)
                case .wait:
                    settling = true
                }
            } catch {
                logger.error("journal", metadata: ["file": "\(path)", "error": "\(error)"])
            }
        }
        retryAt = waitingRetries
        let idle = !settling && !blocked && inFlight.isEmpty && waitingRetries == nil
        guard idle, configuration.once else { return idle }
        // Retries not yet due still count as work; so do seen jobs of files that settle later.
        return ((try? journal.jobs(in: [.seen, .processing, .written, .failing]))?.isEmpty ?? true)
    }

    private func modificationAge(_ path: String, now: Double) -> Double? {
        var info = stat()
        guard lstat(configuration.inbox.appendingPathComponent(path).path, &info) == 0 else { return nil }
        return now - Double(InboxScanner.signature(info).modified) / 1e9
    }

    private func enqueue(_ id: Int64) async {
        inFlight.insert(id)
        await queue.push(id)
    }

    private func finished(_ id: Int64, path: String, outcome: Outcome) {
        inFlight.remove(id)
        scanner.forget(path)
        if outcome != .retry { everSeen.remove(path) }
        switch outcome {
        case .extracted: summary.extracted += 1
        case .duplicate: summary.duplicates += 1
        case .failed: summary.failed += 1
        case .retry: summary.retried += 1
        case .none: break
        }
        wakeUp?.yield()
    }

    // MARK: Working

    enum Outcome { case extracted, duplicate, failed, retry, none }

    private func work(with pipeline: ExtractionPipeline) async {
        while let id = await queue.next() {
            guard let job = try? journal.job(id) else {
                finished(id, path: "", outcome: .none)
                continue
            }
            let outcome: Outcome
            do {
                outcome = try await process(job, pipeline: pipeline)
            } catch {
                logger.error("job failed to finish; it stays in the journal for the next run",
                             metadata: ["file": "\(job.path)", "job": "\(id)", "error": "\(error)"])
                outcome = .none
            }
            finished(id, path: job.path, outcome: outcome)
        }
    }

    private nonisolated func process(_ job: Job, pipeline: ExtractionPipeline) async throws(InboxError) -> Outcome {
        switch job.state {
        case .written:
            try finishWritten(job)
            return job.duplicateOf == nil ? .extracted : .duplicate
        case .failing:
            try finishFailing(job)
            return .failed
        case .seen, .processing:
            break
        case .done, .failed, .vanished:
            return .none
        }
        let input = configuration.inbox.appendingPathComponent(job.path)
        try journal.start(job.id)
        let data: Data
        do {
            data = try Data(contentsOf: input)
        } catch {
            if !FileManager.default.fileExists(atPath: input.path) {
                logger.warning("file removed from the inbox before it was processed", metadata: ["file": "\(job.path)"])
                try journal.vanish(job.id)
                return .none
            }
            return try failOrRetry(job, reason: "cannot read: \(error)", passes: true)
        }
        guard ContentHash.sha256(data) == job.hash else {
            // Changed since it was hashed: it was still being written. Taken again once it settles.
            try journal.discard(job.id, reason: "content changed")
            return .none
        }
        let extraction: Extraction
        do {
            let document = try loader.load(data, label: input.path, pathExtension: input.pathExtension)
            extraction = try await pipeline.extract(document)
        } catch let error as ImageError {
            let passes = [.truncated, .empty, .unreadable, .outOfMemory].contains(error.reason)
            return try failOrRetry(job, reason: error.description.replacingOccurrences(of: input.path + ": ", with: ""),
                                   passes: passes)
        } catch let error as ExtractionError {
            let passes: Bool
            switch error {
            case .engineUnavailable, .input: passes = true  // OCR ran out of time or memory
            case .noValidOutput, .schema, .unsupportedSchema: passes = false
            }
            return try failOrRetry(job, reason: error.description.replacingOccurrences(of: input.path + ": ", with: ""),
                                   passes: passes)
        } catch {
            return try failOrRetry(job, reason: "\(error)", passes: false)
        }
        // The provenance first: a document on disk always has its provenance beside it.
        var provenance = extraction.provenance(file: input.path)
        if case .object(var root) = provenance {
            root["inbox"] = inboxRecord(job)
            provenance = .object(root)
        }
        try DurableFiles.write(jsonFile(provenance), to: outputURL(job.stem, ".provenance.json"))
        try DurableFiles.write(jsonFile(extraction.document), to: outputURL(job.stem, ".json"))
        try journal.committed(job.id, destination: try reserveName(for: job.path, in: configuration.done))
        guard let written = try journal.job(job.id) else { return .none }
        try finishWritten(written)
        logger.info("extracted", metadata: ["file": "\(job.path)", "job": "\(job.id)", "output": "\(job.stem).json"])
        return .extracted
    }

    private nonisolated func failOrRetry(_ job: Job, reason: String, passes: Bool) throws(InboxError) -> Outcome {
        let attempts = job.attempts + 1
        if passes && attempts < configuration.maxAttempts {
            let delay = configuration.retryDelay * pow(2, Double(attempts - 1))
            logger.notice("will retry", metadata: ["file": "\(job.path)", "attempt": "\(attempts)", "in": "\(delay)s",
                                                   "reason": "\(reason)"])
            try journal.retry(job.id, after: Date().timeIntervalSince1970 + delay, reason: reason)
            return .retry
        }
        let why = attempts > 1 ? "\(reason) (after \(attempts) tries)" : reason
        try journal.fail(job.id, reason: why, destination: try reserveFailedName(for: job.path))
        guard let failing = try journal.job(job.id) else { return .none }
        try finishFailing(failing)
        return .failed
    }

    /// Outputs are durable: link a duplicate's outputs, move the input to done/, mark it done.
    private nonisolated func finishWritten(_ job: Job) throws(InboxError) {
        var job = job
        if let originalID = job.duplicateOf, let original = try journal.job(originalID) {
            for suffix in [".json", ".provenance.json"] {
                let link = outputURL(job.stem, suffix)
                guard (try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)) == nil else { continue }
                try? FileManager.default.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
                let target = relativePath(from: (job.stem as NSString).deletingLastPathComponent, to: original.stem + suffix)
                if symlink(target, link.path) != 0 && errno != EEXIST {
                    throw .file(path: link.path, reason: "cannot link to the earlier output: \(String(cString: strerror(errno)))")
                }
            }
            DurableFiles.syncFolder(outputURL(job.stem, ".json").deletingLastPathComponent())
        }
        if job.destination == nil {
            try journal.reserve(job.id, destination: try reserveName(for: job.path, in: configuration.done))
            job = try journal.job(job.id) ?? job
        }
        guard let destination = job.destination else { return }
        let source = configuration.inbox.appendingPathComponent(job.path)
        let target = configuration.done.appendingPathComponent(destination)
        if !FileManager.default.fileExists(atPath: source.path) && !FileManager.default.fileExists(atPath: target.path) {
            logger.warning("input vanished after its outputs were written", metadata: ["file": "\(job.path)"])
            try journal.finish(job.id, event: "input-missing")
            return
        }
        try DurableFiles.move(source, to: target)
        try journal.finish(job.id)
    }

    /// The reason is recorded: write `<name>.error.json` in failed/, move the input beside it.
    private nonisolated func finishFailing(_ job: Job) throws(InboxError) {
        var job = job
        if job.destination == nil {
            try journal.fail(job.id, reason: job.error ?? "failed", destination: try reserveFailedName(for: job.path))
            job = try journal.job(job.id) ?? job
        }
        guard let destination = job.destination else { return }
        let source = configuration.inbox.appendingPathComponent(job.path)
        let target = configuration.failed.appendingPathComponent(destination)
        let report = URL(fileURLWithPath: target.path + ".error.json")
        if !FileManager.default.fileExists(atPath: report.path) {
            var entry = JSONObject()
            entry["file"] = .string(source.path)
            entry["path"] = .string(job.path)
            entry["error"] = .string(job.error ?? "failed")
            entry["attempts"] = .number(JSONNumber(job.attempts))
            entry["sha256"] = .string(job.hash)
            entry["job"] = .number(JSONNumber(Int(job.id)))
            entry["failed_at"] = .string(ISO8601DateFormatter().string(from: Date()))
            try DurableFiles.write(jsonFile(.object(entry)), to: report)
        }
        if FileManager.default.fileExists(atPath: source.path) || !FileManager.default.fileExists(atPath: target.path) {
            do {
                try DurableFiles.move(source, to: target)
            } catch {
                if FileManager.default.fileExists(atPath: source.path) { throw error }
            }
        }
        logger.warning("failed", metadata: ["file": "\(job.path)", "job": "\(job.id)", "error": "\(job.error ?? "")"])
        try journal.failed(job.id)
    }

    // MARK: Recovery

    /// Finishes what a killed run left: jobs in processing whose outputs are complete are
    /// committed (not extracted again), the others go back to seen; moves to done/ or failed/
    /// that had started are completed.
    private func recover() throws(InboxError) {
        for job in try journal.jobs(in: [.processing]) {
            if outputsComplete(job) {
                try journal.committed(job.id, destination: try reserveName(for: job.path, in: configuration.done),
                                      event: "outputs-found")
            } else {
                try journal.requeue(job.id, reason: "interrupted")
            }
            summary.recovered += 1
        }
        for job in try journal.jobs(in: [.written]) {
            try finishWritten(job)
            summary.recovered += 1
        }
        for job in try journal.jobs(in: [.failing]) {
            try finishFailing(job)
            summary.recovered += 1
        }
        for job in try journal.jobs(in: [.seen])
        where !FileManager.default.fileExists(atPath: configuration.inbox.appendingPathComponent(job.path).path) {
            try journal.vanish(job.id)
        }
        if summary.recovered > 0 { logger.notice("recovered interrupted jobs", metadata: ["jobs": "\(summary.recovered)"]) }
    }

    /// Whether this job's document and provenance are both on disk and the provenance names this job and these bytes.
    private nonisolated func outputsComplete(_ job: Job) -> Bool {
        guard FileManager.default.fileExists(atPath: outputURL(job.stem, ".json").path),
              let data = try? Data(contentsOf: outputURL(job.stem, ".provenance.json")),
              let value = try? JSONParser().parse(Array(data)),
              let inbox = value["inbox"] else { return false }
        return inbox["sha256"]?.stringValue == job.hash && inbox["job"].map { JSONSerializer.compact.string(from: $0) } == "\(job.id)"
    }

    // MARK: Names

    private nonisolated func outputURL(_ stem: String, _ suffix: String) -> URL {
        configuration.output.appendingPathComponent(stem + suffix)
    }

    private nonisolated func reserveName(for path: String, in folder: URL) throws(InboxError) -> String {
        naming.lock()
        defer { naming.unlock() }
        let journal = self.journal
        return try DurableFiles.freeName(for: path, in: folder) { (name: String) throws(InboxError) -> Bool in
            try journal.destinationReserved(name)
        }
    }

    private nonisolated func reserveFailedName(for path: String) throws(InboxError) -> String {
        naming.lock()
        defer { naming.unlock() }
        let journal = self.journal
        return try DurableFiles.freeName(for: path, in: configuration.failed, reserved: { (name: String) throws(InboxError) -> Bool in
            try journal.destinationReserved(name)
        }, alsoFree: { [$0 + ".error.json"] })
    }

    private nonisolated func inboxRecord(_ job: Job) -> JSONValue {
        var o = JSONObject()
        o["path"] = .string(job.path)
        let folder = (job.path as NSString).deletingLastPathComponent
        o["folder"] = .string(folder)
        o["tags"] = .array(folder.split(separator: "/").map { .string(String($0)) })
        o["sha256"] = .string(job.hash)
        o["job"] = .number(JSONNumber(Int(job.id)))
        return .object(o)
    }

    private func takeLock() throws(InboxError) -> Int32 {
        let path = configuration.journal.deletingLastPathComponent().appendingPathComponent("lock").path
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .journal(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw .locked(path: path)
        }
        return fd
    }
}

/// Temporary files of killed writers, in every folder of a tree (outputs mirror the inbox's folders).
func removeAbandoned(under root: URL) {
    AtomicFile.removeAbandoned(in: root)
    guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isDirectoryKey]) else { return }
    for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
        AtomicFile.removeAbandoned(in: url)
    }
}

/// A relative path from folder `from` to `to` (both relative to one root), for symbolic links.
func relativePath(from folder: String, to target: String) -> String {
    let up = folder.split(separator: "/").count
    return String(repeating: "../", count: up) + target
}

/// Pretty JSON with a final newline, as files on disk should end.
func jsonFile(_ value: JSONValue) -> Data {
    Data(JSONSerializer.pretty.data(from: value) + [0x0A])
}
