#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which names in the inbox are never taken: shell-style patterns matched against every
/// component of a file's path, so `@eaDir` hides a whole folder and `*.part` a copy in progress.
public struct IgnoreRules: Sendable, Equatable {
    public var patterns: [String]

    /// Dotfiles and dot-folders (`.DS_Store`, `.file.part`, our own temporary files), the litter
    /// of file managers and NAS indexers, and the names of files still being written.
    public static let defaultPatterns = [
        ".*", "*~", "*.part", "*.tmp", "*.temp", "*.crdownload", "*.partial", "*.swp",
        "Thumbs.db", "desktop.ini", "@eaDir", "#recycle", "lost+found",
    ]

    public init(patterns: [String] = IgnoreRules.defaultPatterns) {
        self.patterns = patterns
    }

    public func ignores(component name: String) -> Bool {
        patterns.contains { fnmatch($0, name, 0) == 0 }
    }

    /// Whether a path relative to the inbox is ignored (any of its components matches).
    public func ignores(relativePath path: String) -> Bool {
        path.split(separator: "/").contains { ignores(component: String($0)) }
    }
}
