public import Foundation
import Skiff
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File moves and writes that survive a crash or a power cut at any moment and never overwrite.
public enum DurableFiles {
    /// Makes a rename or a new name in `folder` durable (POSIX leaves it in the page cache otherwise).
    public static func syncFolder(_ folder: URL) {
        let fd = open(folder.path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Writes `data` atomically (temporary name, fsync, rename) and makes the new name durable.
    public static func write(_ data: Data, to url: URL) throws(InboxError) {
        do {
            try AtomicFile.write(data, to: url)
        } catch {
            throw .file(path: url.path, reason: "cannot write: \(error)")
        }
        syncFolder(url.deletingLastPathComponent())
    }

    /// Moves `source` to `destination`, which must not exist: a hard link (fails rather than
    /// overwrites), then the old name removed. Killed between the two, both names point to the
    /// same file, and calling this again finishes the move. Across file systems the bytes are
    /// copied to a temporary file, synced, and linked into place the same way.
    public static func move(_ source: URL, to destination: URL) throws(InboxError) {
        let folder = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw .folder(path: folder.path, reason: "cannot create: \(error)")
        }
        var from = stat(), to = stat()
        let sourceExists = lstat(source.path, &from) == 0
        if lstat(destination.path, &to) == 0 {
            // A move killed after its link: same file under both names.
            if sourceExists && from.st_ino == to.st_ino && from.st_dev == to.st_dev {
                unlink(source.path)
                syncFolder(source.deletingLastPathComponent())
                return
            }
            if !sourceExists { return }
            throw .file(path: destination.path, reason: "already exists; not overwriting it")
        }
        guard sourceExists else { throw .file(path: source.path, reason: "is gone") }
        if link(source.path, destination.path) != 0 {
            let code = errno
            guard code == EXDEV || code == EPERM || code == ENOTSUP else {
                throw .file(path: destination.path, reason: "cannot move \(source.path) here: \(String(cString: strerror(code)))")
            }
            try copyThenLink(source, to: destination)
        }
        syncFolder(folder)
        unlink(source.path)
        syncFolder(source.deletingLastPathComponent())
    }

    private static func copyThenLink(_ source: URL, to destination: URL) throws(InboxError) {
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).\(getpid()).copy.tmp")
        do {
            let data = try Data(contentsOf: source)
            try AtomicFile.write(data, to: temporary)
        } catch {
            throw .file(path: destination.path, reason: "cannot copy \(source.path) here: \(error)")
        }
        defer { unlink(temporary.path) }
        guard link(temporary.path, destination.path) == 0 else {
            throw .file(path: destination.path, reason: "cannot move \(source.path) here: \(String(cString: strerror(errno)))")
        }
    }

    /// A name in `folder` for `relativePath` that neither exists nor is reserved: `a.png`, then
    /// `a-2.png`, `a-3.png`, …; `alsoFree` checks companion names (`a-2.png.error.json`).
    public static func freeName(for relativePath: String, in folder: URL,
                                reserved: (String) throws(InboxError) -> Bool,
                                alsoFree: (String) -> [String] = { _ in [] }) throws(InboxError) -> String {
        let directory = (relativePath as NSString).deletingLastPathComponent
        let name = (relativePath as NSString).lastPathComponent
        let ext = (name as NSString).pathExtension
        let base = ext.isEmpty ? name : String(name.dropLast(ext.count + 1))
        var number = 1
        while true {
            let candidateName = number == 1 ? name : (ext.isEmpty ? "\(base)-\(number)" : "\(base)-\(number).\(ext)")
            let candidate = directory.isEmpty ? candidateName : directory + "/" + candidateName
            let names = [candidate] + alsoFree(candidate)
            let onDisk = names.contains { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
            if !onDisk, try !reserved(candidate) { return candidate }
            number += 1
        }
    }
}
