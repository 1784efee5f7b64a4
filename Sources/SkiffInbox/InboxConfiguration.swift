public import Foundation

/// What to do with a file whose bytes were already taken once.
public enum DuplicatePolicy: String, Sendable, CaseIterable {
    /// Do not extract again: the new input goes to done/ and its outputs are links to the earlier ones.
    case skip
    /// Extract it again as if it were new.
    case process
}

/// How changes in the inbox are noticed.
public enum WatchMode: String, Sendable, CaseIterable {
    /// File-system events (inotify) when they work, polling when they are unavailable or silent.
    case auto
    /// Polling only (network shares deliver no events).
    case poll
}

/// Everything `skiff watch` needs to know besides the pipeline.
public struct InboxConfiguration: Sendable {
    public var inbox: URL
    public var output: URL
    /// Inputs whose outputs are durable are moved here (default: `done` beside the inbox).
    public var done: URL
    /// Inputs that could not be processed, each with `<name>.error.json` (default: `failed` beside the inbox).
    public var failed: URL
    /// The job journal (default: `OUT/.skiff-inbox/journal.sqlite`).
    public var journal: URL
    public var mode: WatchMode
    /// Seconds between polls in polling mode, and between checks of files still settling.
    public var pollInterval: Double
    /// A file is taken once its size and modification time have not changed for this long.
    public var quietPeriod: Double
    /// Seconds between full rescans even when events arrive (events get lost in bursts).
    public var rescanInterval: Double
    public var ignore: IgnoreRules
    public var duplicates: DuplicatePolicy
    /// Tries before a file whose error may pass (still being written, busy, out of memory) is failed.
    public var maxAttempts: Int
    /// Wait before the first retry; doubled for each later one.
    public var retryDelay: Double
    /// Workers, each with its own pipeline (its own Tesseract engines).
    public var jobs: Int
    /// Jobs taken from the inbox but not yet finished, at most; more files wait in the inbox.
    public var queueCapacity: Int
    /// Process what is there and stop, instead of watching.
    public var once: Bool

    public init(inbox: URL, output: URL, done: URL? = nil, failed: URL? = nil, journal: URL? = nil,
                mode: WatchMode = .auto, pollInterval: Double = 5, quietPeriod: Double = 0.5,
                rescanInterval: Double = 60, ignore: IgnoreRules = IgnoreRules(), duplicates: DuplicatePolicy = .skip,
                maxAttempts: Int = 4, retryDelay: Double = 1, jobs: Int = 1, queueCapacity: Int? = nil,
                once: Bool = false) {
        let inbox = inbox.standardizedFileURL
        self.inbox = inbox
        self.output = output.standardizedFileURL
        let beside = inbox.deletingLastPathComponent()
        self.done = (done ?? beside.appendingPathComponent("done", isDirectory: true)).standardizedFileURL
        self.failed = (failed ?? beside.appendingPathComponent("failed", isDirectory: true)).standardizedFileURL
        self.journal = (journal ?? self.output.appendingPathComponent(".skiff-inbox/journal.sqlite")).standardizedFileURL
        self.mode = mode
        self.pollInterval = pollInterval
        self.quietPeriod = quietPeriod
        self.rescanInterval = rescanInterval
        self.ignore = ignore
        self.duplicates = duplicates
        self.maxAttempts = max(1, maxAttempts)
        self.retryDelay = retryDelay
        self.jobs = max(1, jobs)
        self.queueCapacity = max(self.jobs, queueCapacity ?? self.jobs * 4)
        self.once = once
    }

    /// Folders inside the inbox the scan must not enter (done/, failed/ or the output placed inside it).
    var excludedFromScan: [String] {
        [done, failed, output, journal.deletingLastPathComponent()].compactMap { url in
            let path = url.path
            return path.hasPrefix(inbox.path + "/") ? String(path.dropFirst(inbox.path.count + 1)) : nil
        }
    }

    func validate() throws(InboxError) {
        for (name, url) in [("done", done), ("failed", failed)] where url.path == inbox.path {
            throw .configuration("the \(name) folder cannot be the inbox itself")
        }
        guard done.path != failed.path else { throw .configuration("done and failed must be different folders") }
        guard output.path != inbox.path else {
            throw .configuration("the output folder cannot be the inbox (outputs would be taken as inputs)")
        }
        guard pollInterval > 0, quietPeriod >= 0, rescanInterval > 0, retryDelay >= 0 else {
            throw .configuration("intervals must be positive")
        }
    }
}
