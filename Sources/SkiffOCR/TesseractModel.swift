public import Foundation

/// Which Tesseract model to load.
public enum TesseractModel: Sendable, Hashable, CustomStringConvertible {
    /// tessdata_fast (Debian's `tesseract-ocr-eng`): what the `tesseract` CLI uses by default.
    case fast
    /// tessdata (legacy + LSTM, more accurate), installed by tools/setup.sh into `models/tessdata-standard`.
    case standard
    /// A folder holding `<language>.traineddata`, or one `.traineddata` file.
    case path(String)

    /// Parses the CLI spelling: `fast`, `standard`, or a path.
    public init(argument: String) {
        switch argument {
        case "fast": self = .fast
        case "standard": self = .standard
        default: self = .path(argument)
        }
    }

    public var description: String {
        switch self {
        case .fast: "fast"
        case .standard: "standard"
        case .path(let path): path
        }
    }

    /// Where a model was found: Tesseract's `datapath` and the language to load.
    public struct Location: Sendable, Hashable {
        public var datapath: String
        public var language: String
    }

    /// Finds the model on disk. `language` may be overridden by a `.traineddata` file's own name.
    public func locate(language: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(OCRError) -> Location
    {
        let fm = FileManager.default
        let firstLanguage = language.split(separator: "+").first.map(String.init) ?? language
        func has(_ dir: String) -> Bool { fm.fileExists(atPath: dir + "/" + firstLanguage + ".traineddata") }
        let searched: [String]
        switch self {
        case .path(let path):
            var isDirectory: ObjCBool = false
            if path.hasSuffix(".traineddata") && fm.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue {
                let url = URL(fileURLWithPath: path)
                return Location(datapath: url.deletingLastPathComponent().path,
                                language: url.deletingPathExtension().lastPathComponent)
            }
            searched = [path]
        case .fast:
            searched = Self.projectFolders("tessdata-fast", environment: environment) + Self.systemFolders(environment: environment)
        case .standard:
            searched = Self.projectFolders("tessdata-standard", environment: environment)
        }
        for dir in searched where has(dir) {
            return Location(datapath: dir, language: language)
        }
        throw OCRError.modelNotFound(model: "\(description) (\(firstLanguage).traineddata)", searched: searched)
    }

    /// Skiff's own model folders: $SKIFF_MODELS, ./models, the checkout above
    /// the running executable (for `.build/<config>/skiff`), and the user's data folder.
    static func projectFolders(_ name: String, environment: [String: String]) -> [String] {
        var roots: [String] = []
        if let env = environment["SKIFF_MODELS"], !env.isEmpty { roots.append(env) }
        roots.append(FileManager.default.currentDirectoryPath + "/models")
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            roots.append(dir.path + "/models")
        }
        if let home = environment["HOME"] { roots.append(home + "/.local/share/skiff/models") }
        var seen = Set<String>()
        return roots.map { $0 + "/" + name }.filter { seen.insert($0).inserted }
    }

    static func systemFolders(environment: [String: String]) -> [String] {
        var folders: [String] = []
        if let prefix = environment["TESSDATA_PREFIX"], !prefix.isEmpty {
            folders.append(prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix)
        }
        folders += ["/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                    "/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata"]
        return folders
    }
}
