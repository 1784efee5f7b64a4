import Foundation

/// Progress and messages on standard error: a redrawn bar on a terminal,
/// plain lines otherwise (logs, CI, pipes).
final class ProgressReporter: @unchecked Sendable {
    private let total: Int
    private let isTerminal = isatty(2) != 0
    private let lock = NSLock()
    private var done = 0
    private var failed = 0
    private let started = Date()
    let quiet: Bool

    init(total: Int, quiet: Bool) {
        self.total = total
        self.quiet = quiet
    }

    func finished(_ name: String, failure: String?) {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        if failure != nil { failed += 1 }
        if let failure {
            clearBar()
            printError("skiff: \(failure)")
        }
        guard !quiet else { return }
        if isTerminal {
            let width = 30
            let filled = total > 0 ? done * width / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let elapsed = Date().timeIntervalSince(started)
            let line = "[\(bar)] \(done)/\(total)  \(String(format: "%.1f", elapsed))s  \(name)"
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + String(line.prefix(120))).utf8))
        } else if failure == nil {
            printError("[\(done)/\(total)] \(name)")
        }
    }

    func end() {
        lock.lock()
        defer { lock.unlock() }
        clearBar()
    }

    private func clearBar() {
        if isTerminal && !quiet { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Formats seconds for people.
func formatSeconds(_ seconds: Double) -> String {
    seconds < 10 ? String(format: "%.2f s", seconds) : String(format: "%.1f s", seconds)
}
