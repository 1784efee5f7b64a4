public import Foundation
import GRDB

/// One input's way through the inbox.
public enum JobState: String, Sendable, CaseIterable {
    /// Found complete and hashed; waiting for a worker (or for its retry time).
    case seen
    /// A worker is extracting it (after a crash: to be checked and redone).
    case processing
    /// Its outputs are durable; the input is still to be moved to done/.
    case written
    /// Finished: outputs written, input in done/.
    case done
    /// Its error report is to be written and the input moved to failed/.
    case failing
    /// Finished: input in failed/ with `<name>.error.json`.
    case failed
    /// The input disappeared from the inbox before it was processed (someone removed it).
    case vanished

    public var isFinished: Bool { self == .done || self == .failed || self == .vanished }
}

/// A row of the journal.
public struct Job: Sendable, Equatable {
    public var id: Int64
    /// Relative to the inbox; its folder part is the file's tags.
    public var path: String
    public var hash: String
    public var size: Int64
    public var state: JobState
    /// Output stem relative to the output folder (`sub/name` → `sub/name.json`), reserved at creation.
    public var stem: String
    /// Where the input goes (relative to done/ or failed/), reserved before it is moved.
    public var destination: String?
    public var duplicateOf: Int64?
    public var attempts: Int
    public var nextAttempt: Double
    public var error: String?
    /// How many times outputs were committed for this job: the journal's proof that nothing is done twice.
    public var outputsCommitted: Int
}

/// The write-ahead record of every file the inbox took: SQLite (WAL, `synchronous=FULL`, so each
/// committed transaction is on disk) through GRDB. Every state change is one transaction, and
/// an append-only event log says what happened when, by which process.
public final class InboxJournal: Sendable {
    public let path: String
    private let queue: DatabaseQueue

    public init(path: String) throws(InboxError) {
        self.path = path
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                // FULL: the WAL is fsync'd at every commit, so a power cut keeps what was committed.
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            queue = try DatabaseQueue(path: path, configuration: configuration)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(sql: """
                    CREATE TABLE job (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        path TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        stem TEXT NOT NULL,
                        destination TEXT,
                        duplicate_of INTEGER REFERENCES job(id),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt REAL NOT NULL DEFAULT 0,
                        error TEXT,
                        outputs_committed INTEGER NOT NULL DEFAULT 0,
                        created REAL NOT NULL,
                        updated REAL NOT NULL
                    );
                    CREATE INDEX job_hash ON job(hash);
                    CREATE INDEX job_state ON job(state);
                    -- One unfinished job per inbox path.
                    CREATE UNIQUE INDEX job_open_path ON job(path) WHERE state NOT IN ('done', 'failed', 'vanished');
                    CREATE UNIQUE INDEX job_stem ON job(stem);
                    CREATE TABLE event (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job INTEGER NOT NULL REFERENCES job(id),
                        at REAL NOT NULL,
                        pid INTEGER NOT NULL,
                        what TEXT NOT NULL,
                        detail TEXT
                    );
                    CREATE INDEX event_job ON event(job);
                    """)
            }
            try migrator.migrate(queue)
        } catch let error as InboxError {
            throw error
        } catch {
            throw .journal(path: path, reason: "\(error)")
        }
    }

    // MARK: Reading

    public func job(_ id: Int64) throws(InboxError) -> Job? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM job WHERE id = ?", arguments: [id]).map(Self.job) }
    }

    /// The unfinished job for an inbox path, if any.
    public func openJob(path: String) throws(InboxError) -> Job? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job WHERE path = ? AND state NOT IN ('done', 'failed', 'vanished')",
                             arguments: [path]).map(Self.job)
        }
    }

    public func jobs(in states: [JobState]? = nil) throws(InboxError) -> [Job] {
        try read { db in
            if let states {
                let marks = states.map { _ in "?" }.joined(separator: ",")
                return try Row.fetchAll(db, sql: "SELECT * FROM job WHERE state IN (\(marks)) ORDER BY id",
                                        arguments: StatementArguments(states.map(\.rawValue))).map(Self.job)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM job ORDER BY id").map(Self.job)
        }
    }

    /// Events of one job (or all), oldest first: `(job, what, detail, pid)`.
    public func events(job: Int64? = nil) throws(InboxError) -> [(job: Int64, what: String, detail: String?, pid: Int)] {
        try read { db in
            let rows = job == nil
                ? try Row.fetchAll(db, sql: "SELECT * FROM event ORDER BY id")
                : try Row.fetchAll(db, sql: "SELECT * FROM event WHERE job = ? ORDER BY id", arguments: [job])
            return rows.map { ($0["job"], $0["what"], $0["detail"], $0["pid"]) }
        }
    }

    // MARK: Changes, each one transaction

    /// What `admit` decided for a complete file found in the inbox.
    public enum Admission: Sendable {
        /// A new job, to be processed.
        case new(Job)
        /// Same bytes as a finished job: a new job already marked as its duplicate.
        case duplicate(Job, of: Job)
        /// Same bytes as a job still in progress: try again once that one is finished.
        case wait
    }

    /// Records a complete file as a new job, deciding in the same transaction whether its bytes
    /// were seen before, so two copies found at once are never both taken as new.
    public func admit(path: String, hash: String, size: Int64, policy: DuplicatePolicy,
                      stemTaken: @Sendable (String) -> Bool) throws(InboxError) -> Admission {
        try write { db in
            let now = Date().timeIntervalSince1970
            var original: Job?
            if policy == .skip {
                let earlier = try Row.fetchAll(
                    db, sql: "SELECT * FROM job WHERE hash = ? AND state NOT IN ('vanished') AND duplicate_of IS NULL ORDER BY id",
                    arguments: [hash]).map(Self.job)
                if earlier.contains(where: { !$0.state.isFinished }) { return .wait }
                // The latest finished original; a failed one makes the copy fail for the same reason.
                original = earlier.last
            }
            let stem = try Self.freeStem(for: path, db: db, taken: stemTaken)
            let state: JobState = original == nil ? .seen : (original?.state == .done ? .written : .failing)
            try db.execute(sql: """
                INSERT INTO job (path, hash, size, state, stem, duplicate_of, error, created, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [path, hash, size, state.rawValue, stem, original?.id,
                                 original.flatMap { $0.state == .failed ? "same content as \($0.path), which failed: \($0.error ?? "unknown")" : nil },
                                 now, now])
            let id = db.lastInsertedRowID
            try Self.log(db, job: id, original == nil ? "seen" : "duplicate", original.map { "of job \($0.id) (\($0.path))" })
            guard let job = try Row.fetchOne(db, sql: "SELECT * FROM job WHERE id = ?", arguments: [id]).map(Self.job) else {
                throw InboxError.journal(path: self.path, reason: "job \(id) vanished after insert")
            }
            return original.map { .duplicate(job, of: $0) } ?? .new(job)
        }
    }

    /// seen → processing, counting the attempt.
    public func start(_ id: Int64) throws(InboxError) {
        try change(id, to: .processing, event: "started", set: "attempts = attempts + 1")
    }

    /// processing → written: the outputs are durable and the input's place in done/ is reserved.
    public func committed(_ id: Int64, destination: String, event: String = "extracted") throws(InboxError) {
        try change(id, to: .written, event: event, detail: destination, set: "destination = ?, outputs_committed = outputs_committed + 1",
                   arguments: [destination])
    }

    /// written → written with a destination (a duplicate's place in done/).
    public func reserve(_ id: Int64, destination: String) throws(InboxError) {
        try write { db in
            try db.execute(sql: "UPDATE job SET destination = ?, updated = ? WHERE id = ?",
                           arguments: [destination, Date().timeIntervalSince1970, id])
            try Self.log(db, job: id, "reserved", destination)
        }
    }

    public func finish(_ id: Int64, event: String = "moved") throws(InboxError) {
        try change(id, to: .done, event: event)
    }

    /// → seen again after an error that may pass, not before `after` (seconds since 1970).
    public func retry(_ id: Int64, after: Double, reason: String) throws(InboxError) {
        try change(id, to: .seen, event: "retry", detail: reason, set: "next_attempt = ?, error = ?", arguments: [after, reason])
    }

    /// → failing: the reason is recorded and the input's place in failed/ reserved.
    public func fail(_ id: Int64, reason: String, destination: String?) throws(InboxError) {
        try change(id, to: .failing, event: "failing", detail: reason, set: "error = ?, destination = ?",
                   arguments: [reason, destination])
    }

    public func failed(_ id: Int64) throws(InboxError) {
        try change(id, to: .failed, event: "moved-failed")
    }

    /// Back to seen without counting a try (a crash or a shutdown interrupted it).
    public func requeue(_ id: Int64, reason: String) throws(InboxError) {
        try change(id, to: .seen, event: "requeued", detail: reason)
    }

    public func vanish(_ id: Int64) throws(InboxError) {
        try change(id, to: .vanished, event: "vanished")
    }

    /// Forgets a job that never got further than seen (its file changed after it was hashed).
    public func discard(_ id: Int64, reason: String) throws(InboxError) {
        try write { db in
            try db.execute(sql: "DELETE FROM event WHERE job = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM job WHERE id = ? AND state IN ('seen', 'processing')", arguments: [id])
        }
    }

    /// Whether a destination path (relative to done/ or failed/) is reserved by any job.
    public func destinationReserved(_ destination: String) throws(InboxError) -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM job WHERE destination = ?)", arguments: [destination]) ?? false
        }
    }

    // MARK: Plumbing

    private func change(_ id: Int64, to state: JobState, event: String, detail: String? = nil, set: String? = nil,
                        arguments: [(any DatabaseValueConvertible)?] = []) throws(InboxError) {
        try write { db in
            let extra = set.map { ", " + $0 } ?? ""
            try db.execute(sql: "UPDATE job SET state = ?, updated = ?\(extra) WHERE id = ?",
                           arguments: StatementArguments([state.rawValue, Date().timeIntervalSince1970] + arguments + [id]))
            try Self.log(db, job: id, event, detail)
        }
    }

    private static func log(_ db: Database, job: Int64, _ what: String, _ detail: String?) throws {
        try db.execute(sql: "INSERT INTO event (job, at, pid, what, detail) VALUES (?, ?, ?, ?, ?)",
                       arguments: [job, Date().timeIntervalSince1970, Int(getpid()), what, detail])
    }

    /// The input's path without its extension, numbered when another job (or a file already in
    /// the output folder) has it, so no output is ever overwritten.
    private static func freeStem(for path: String, db: Database, taken: (String) -> Bool) throws -> String {
        var base = path
        if let dot = path.lastIndex(of: "."), !path[dot...].contains("/"), dot != path.startIndex { base = String(path[..<dot]) }
        var candidate = base
        var number = 1
        while try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM job WHERE stem = ?)", arguments: [candidate]) == true
                || taken(candidate) {
            number += 1
            candidate = "\(base)-\(number)"
        }
        return candidate
    }

    private static func job(_ row: Row) -> Job {
        Job(id: row["id"], path: row["path"], hash: row["hash"], size: row["size"],
            state: JobState(rawValue: row["state"]) ?? .seen, stem: row["stem"], destination: row["destination"],
            duplicateOf: row["duplicate_of"], attempts: row["attempts"], nextAttempt: row["next_attempt"],
            error: row["error"], outputsCommitted: row["outputs_committed"])
    }

    private func read<T>(_ body: (Database) throws -> T) throws(InboxError) -> T {
        do {
            return try queue.read(body)
        } catch let error as InboxError {
            throw error
        } catch {
            throw .journal(path: path, reason: "\(error)")
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws(InboxError) -> T {
        do {
            return try queue.write(body)
        } catch let error as InboxError {
            throw error
        } catch {
            throw .journal(path: path, reason: "\(error)")
        }
    }
}
