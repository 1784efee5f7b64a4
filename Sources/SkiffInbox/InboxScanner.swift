import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's identity and state as `stat` sees it; when none of it changes over the quiet
/// period, the writer is taken to be done.
struct FileSignature: Equatable {
    var size: Int64
    var modified: Int64
    var changed: Int64
    var inode: UInt64
}

/// Walks the inbox and tells which files are complete: seen at least twice with the same size,
/// modification time and inode, the first time at least the quiet period ago (or last modified
/// that long ago). Whether it decodes is the worker's check; a partial file is retried.
struct InboxScanner {
    let root: URL
    let ignore: IgnoreRules
    let excluded: [String]
    let quietPeriod: Double

    private struct Observation {
        var signature: FileSignature
        var since: Double
        var checks: Int
    }
    private var observations: [String: Observation] = [:]

    init(root: URL, ignore: IgnoreRules, excluded: [String], quietPeriod: Double) {
        self.root = root
        self.ignore = ignore
        self.excluded = excluded
        self.quietPeriod = quietPeriod
    }

    /// Paths known from earlier scans (to tell which files events never announced).
    func knows(_ path: String) -> Bool { observations[path] != nil }

    /// Scans the whole tree; returns the complete files (relative path, size), sorted, and
    /// whether any file is still settling.
    mutating func scan(now: Double) -> (complete: [(path: String, size: Int64)], settling: Bool, new: [String]) {
        var present: Set<String> = []
        var complete: [(String, Int64)] = []
        var settling = false
        var new: [String] = []
        walk("") { path, signature in
            present.insert(path)
            if var seen = observations[path], seen.signature == signature {
                seen.checks += 1
                observations[path] = seen
                // Unchanged since it was first seen, and either watched for the quiet period or,
                // by its modification time, untouched for that long already (found after a restart).
                let untouched = now - Double(signature.modified) / 1e9
                if seen.checks >= 2 && (now - seen.since >= quietPeriod || untouched >= quietPeriod) {
                    complete.append((path, signature.size))
                } else {
                    settling = true
                }
            } else {
                if observations[path] == nil { new.append(path) }
                observations[path] = Observation(signature: signature, since: now, checks: 1)
                settling = true
            }
        }
        for path in observations.keys where !present.contains(path) { observations.removeValue(forKey: path) }
        complete.sort { $0.0 < $1.0 }
        return (complete, settling, new)
    }

    /// Forgets a file (it was taken, moved or changed), so it must settle again to be taken.
    mutating func forget(_ path: String) { observations.removeValue(forKey: path) }

    private func walk(_ relative: String, _ visit: (String, FileSignature) -> Void) {
        let folder = relative.isEmpty ? root.path : root.path + "/" + relative
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names.sorted() where !ignore.ignores(component: name) {
            let path = relative.isEmpty ? name : relative + "/" + name
            if excluded.contains(path) { continue }
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                walk(path, visit)
            case S_IFREG:
                visit(path, Self.signature(info))
            default:
                continue  // Symbolic links, sockets, devices: not scans.
            }
        }
    }

    static func signature(_ info: stat) -> FileSignature {
        #if os(Linux)
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        #else
        let modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        let changed = Int64(info.st_ctimespec.tv_sec) * 1_000_000_000 + Int64(info.st_ctimespec.tv_nsec)
        #endif
        return FileSignature(size: Int64(info.st_size), modified: modified, changed: changed, inode: UInt64(info.st_ino))
    }
}
