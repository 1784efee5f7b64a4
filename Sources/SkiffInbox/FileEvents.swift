import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File-system change notifications for a folder tree. On Linux, inotify: a watch on every
/// folder (new folders are added as they appear), read on a thread of its own; each event
/// only says "look again", the scan decides what is new. Where events cannot be had (no
/// inotify, the watch limit reached, another platform), `start` returns nil and the inbox polls.
final class FileEvents: @unchecked Sendable {
    /// Relative paths named by events since the last `drainAnnounced` (to tell whether events are silent).
    private let lock = NSLock()
    private var announced: Set<String> = []
    private var stopped = false
    private let root: String
    private let ignore: IgnoreRules
    private let excluded: [String]
    private let onChange: @Sendable () -> Void
    #if os(Linux)
    private let fd: Int32
    private var folders: [Int32: String] = [:]
    #endif

    private init(root: String, ignore: IgnoreRules, excluded: [String], fd: Int32, onChange: @escaping @Sendable () -> Void) {
        self.root = root
        self.ignore = ignore
        self.excluded = excluded
        self.onChange = onChange
        #if os(Linux)
        self.fd = fd
        #endif
    }

    /// Watches `root` recursively; nil when events are unavailable (the reason is in `why`).
    static func start(root: String, ignore: IgnoreRules, excluded: [String], why: inout String,
                      onChange: @escaping @Sendable () -> Void) -> FileEvents? {
        #if os(Linux)
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            why = "inotify unavailable: \(String(cString: strerror(errno)))"
            return nil
        }
        let events = FileEvents(root: root, ignore: ignore, excluded: excluded, fd: fd, onChange: onChange)
        if let failure = events.watchTree("") {
            why = failure
            close(fd)
            return nil
        }
        let thread = Thread { events.readLoop() }
        thread.name = "skiff-inotify"
        thread.start()
        return events
        #else
        why = "file-system events are not implemented on this platform"
        return nil
        #endif
    }

    func stop() {
        lock.withLock { stopped = true }
    }

    /// The paths events named since the last call.
    func drainAnnounced() -> Set<String> {
        lock.withLock {
            defer { announced = [] }
            return announced
        }
    }

    #if os(Linux)
    private static let mask = UInt32(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_MODIFY
                                     | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR)

    /// Adds watches for `relative` and every folder below it; the error when one cannot be added.
    private func watchTree(_ relative: String) -> String? {
        let full = relative.isEmpty ? root : root + "/" + relative
        let wd = inotify_add_watch(fd, full, Self.mask)
        guard wd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            return "inotify cannot watch \(full): \(String(cString: strerror(code)))"
                + (code == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "")
        }
        lock.withLock { folders[wd] = relative }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { return nil }
        for name in names where !ignore.ignores(component: name) {
            let child = relative.isEmpty ? name : relative + "/" + name
            guard !excluded.contains(child) else { continue }
            var info = stat()
            if lstat(root + "/" + child, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                if let failure = watchTree(child) { return failure }
            }
        }
        return nil
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        defer { close(fd) }
        while !lock.withLock({ stopped }) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            guard ready > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            var changed = false
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                var name = ""
                if length > 0 {
                    let bytes = buffer[nameStart..<min(count, nameStart + length)].prefix { $0 != 0 }
                    name = String(decoding: bytes, as: UTF8.self)
                }
                offset = nameStart + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    changed = true
                    continue
                }
                guard let folder = lock.withLock({ folders[wd] }) else { continue }
                if mask & UInt32(IN_IGNORED) != 0 {
                    _ = lock.withLock { folders.removeValue(forKey: wd) }
                    continue
                }
                let relative = name.isEmpty ? folder : (folder.isEmpty ? name : folder + "/" + name)
                if ignore.ignores(relativePath: relative) || excluded.contains(where: { relative == $0 || relative.hasPrefix($0 + "/") }) {
                    continue
                }
                if mask & UInt32(IN_ISDIR) != 0 && mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                    _ = watchTree(relative)
                }
                lock.withLock { _ = announced.insert(relative) }
                changed = true
            }
            if changed { onChange() }
        }
    }
    #endif
}
