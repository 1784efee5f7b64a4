public import ArgumentParser
import Dispatch
import Foundation
import Logging
import Skiff
import SkiffInbox

extension DuplicatePolicy: ExpressibleByArgument {}

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch an inbox folder: every scan dropped in gets its JSON in OUT, and moves to done/ or failed/.",
        discussion: """
            Files are taken once complete (size and modification time unchanged over the quiet \
            period, and they decode; names like .part, ~ and .tmp are left alone). Each input's \
            state is kept in a journal (SQLite, fsync'd), so after a crash or kill -9 a restart \
            finishes exactly the unfinished work. Outputs are OUT/<sub/name>.json and \
            .provenance.json (the subfolder is recorded as tags); the input then moves to done/, \
            or to failed/ with <name>.error.json. Errors that can pass (a file still being \
            written, busy, out of memory) are retried with backoff first. SIGTERM or SIGINT \
            finishes the jobs in progress and exits.
            """)

    @Argument(help: "The inbox folder (searched recursively).")
    var inbox: String

    @Option(help: "Output folder.")
    var out: String

    @OptionGroup var pipeline: PipelineOptions

    @Option(help: "Workers, each with its own Tesseract engines.")
    var jobs: Int = 1

    @Option(help: "Poll every SECONDS instead of using file-system events (for network shares).")
    var poll: Double?

    @Option(help: "Seconds a file's size and modification time must stay unchanged before it is taken.")
    var quietPeriod: Double = 0.5

    @Option(help: "Seconds between full rescans of the inbox, even with events.")
    var rescan: Double = 60

    @Option(help: "Where finished inputs go (default: done beside the inbox).")
    var done: String?

    @Option(help: "Where inputs that failed go, with <name>.error.json (default: failed beside the inbox).")
    var failed: String?

    @Option(help: "The job journal (default: OUT/.skiff-inbox/journal.sqlite).")
    var journal: String?

    @Option(name: .customLong("ignore"), help: "Also ignore names matching this shell pattern (repeatable).")
    var ignorePatterns: [String] = []

    @Flag(help: "Do not ignore the default patterns (dotfiles, *.part, *~, *.tmp, Thumbs.db, @eaDir, …).")
    var noDefaultIgnores = false

    @Option(help: "A file whose content was taken before: skip (link to the earlier output) or process.")
    var duplicates: DuplicatePolicy = .skip

    @Option(help: "Tries for errors that can pass before a file goes to failed/.")
    var maxAttempts: Int = 4

    @Option(help: "Seconds before the first retry (doubled for each later one).")
    var retryDelay: Double = 1

    @Option(help: "Jobs taken from the inbox at once, at most (default: 4 per worker).")
    var queue: Int?

    @Flag(help: "Process what is in the inbox and exit (for cron).")
    var once = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let poll, poll <= 0 { throw ValidationError("--poll must be more than 0 seconds") }
        guard quietPeriod >= 0, rescan > 0, retryDelay >= 0 else { throw ValidationError("intervals must be positive") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        bootstrapLogging(level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "skiff.watch")
        let schema: ExtractionSchema
        do {
            schema = try pipeline.loadSchema()
        } catch {
            printError("skiff watch: \(error)")
            throw ExitCode(2)
        }
        var patterns = noDefaultIgnores ? [] : IgnoreRules.defaultPatterns
        patterns += ignorePatterns
        let configuration = InboxConfiguration(
            inbox: URL(fileURLWithPath: inbox), output: URL(fileURLWithPath: out),
            done: done.map { URL(fileURLWithPath: $0) }, failed: failed.map { URL(fileURLWithPath: $0) },
            journal: journal.map { URL(fileURLWithPath: $0) }, mode: poll == nil ? .auto : .poll,
            pollInterval: poll ?? max(0.1, quietPeriod), quietPeriod: quietPeriod, rescanInterval: rescan,
            ignore: IgnoreRules(patterns: patterns), duplicates: duplicates, maxAttempts: maxAttempts,
            retryDelay: retryDelay, jobs: jobs, queueCapacity: queue, once: once)
        let options = pipeline
        let inbox: Inbox
        do {
            inbox = try Inbox(configuration: configuration, logger: logger) {
                try options.makePipeline(schema: schema, command: "watch")
            }
        } catch {
            printError("skiff watch: \(error)")
            throw ExitCode(2)
        }
        let signals = stopOnSignals { Task { await inbox.stop() } }
        defer { signals.forEach { $0.cancel() } }
        do {
            let summary = try await inbox.run()
            if once {
                printError("skiff watch: \(summary.extracted) extracted, \(summary.duplicates) duplicate(s), \(summary.failed) failed")
            }
        } catch {
            printError("skiff watch: \(error)")
            throw ExitCode(2)
        }
    }
}

/// SIGTERM and SIGINT call `stop` (once; a second signal exits at once, which the journal makes safe).
func stopOnSignals(_ stop: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        let count = ManagedAtomicCounter()
        source.setEventHandler {
            if count.increment() > 1 { exit(128 + number) }
            stop()
        }
        source.resume()
        return source
    }
}

final class ManagedAtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int { lock.withLock { value += 1; return value } }
}

/// Structured logs on standard error through swift-log (`key=value` metadata).
func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
