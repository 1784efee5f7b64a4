public import Foundation

/// One input file found on the command line or in a folder.
public struct InputFile: Sendable, Hashable {
    public var url: URL
    /// The path relative to the folder it was found in (its file name when named directly);
    /// outputs mirror it, and the inbox records it as the file's tags.
    public var relativePath: String

    public init(url: URL, relativePath: String) {
        self.url = url
        self.relativePath = relativePath
    }
}

/// Expands command-line arguments into page files.
public enum InputFiles {
    /// Files named directly are always taken (their content decides whether
    /// they decode); folders are walked recursively for PNG and JPEG files,
    /// skipping hidden files and folders. Results are sorted per argument.
    /// Arguments that do not exist are returned as failures.
    public static func collect(_ arguments: [String]) -> (files: [InputFile], missing: [String]) {
        let fm = FileManager.default
        var files: [InputFile] = [], missing: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                missing.append(argument)
                continue
            }
            let url = URL(fileURLWithPath: argument)
            guard isDirectory.boolValue else {
                files.append(InputFile(url: url, relativePath: url.lastPathComponent))
                continue
            }
            let root = url.standardizedFileURL.resolvingSymlinksInPath()
            guard let walker = fm.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                             options: [.skipsHiddenFiles]) else { continue }
            var found: [InputFile] = []
            for case let file as URL in walker {
                guard ImageFormat.pageExtensions.contains(file.pathExtension.lowercased()),
                      (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
                let full = file.standardizedFileURL.resolvingSymlinksInPath().path
                let relative = full.hasPrefix(root.path + "/") ? String(full.dropFirst(root.path.count + 1)) : file.lastPathComponent
                found.append(InputFile(url: URL(fileURLWithPath: argument).appendingPathComponent(relative),
                                       relativePath: relative))
            }
            files += found.sorted { $0.relativePath.localizedStandardCompare($1.relativePath) == .orderedAscending }
        }
        return (files, missing)
    }
}
