public import Foundation
import SkiffOCR
public import SkiffJSON

/// The text formats Skiff reads for scoring.
public enum TextFormat: String, Sendable, Codable, CaseIterable {
    /// UTF-8 text as is.
    case plain
    /// SROIE box CSV: `x1,y1,x2,y2,x3,y3,x4,y4,TEXT` rows; the text is split off at the
    /// first 8 commas (it may hold commas), rows joined with newlines.
    case sroieCSV = "sroie-csv"
    /// `skiff ocr --format json`: each page's lines joined with newlines.
    case skiffOCRJSON = "skiff-ocr-json"
    /// ALTO XML: String@CONTENT joined by spaces per TextLine, lines by newlines (as dinglehopper).
    case alto
    /// PAGE XML: region-level TextEquiv/Unicode in reading order, joined by newlines (as dinglehopper).
    case page
}

/// Reads ground truth and OCR output files into text or JSON fields.
public struct DocumentReader: Sendable {
    public init() {}

    /// Reads a file's text, telling its format from the extension (and the root element for XML).
    public func text(at url: URL) throws(ScoringError) -> (text: String, format: TextFormat) {
        let bytes = try read(url)
        let ext = url.pathExtension.lowercased()
        switch ext {
        case "csv":
            return (try sroieCSV(bytes, path: url.path), .sroieCSV)
        case "json":
            return (try skiffOCRJSON(bytes, path: url.path), .skiffOCRJSON)
        case "xml":
            let text = try decodeUTF8(bytes, path: url.path)
            if text.contains("<alto") || text.contains(":alto") {
                return (try XMLTextExtractor.alto(bytes, path: url.path), .alto)
            }
            if text.contains("PcGts") {
                return (try XMLTextExtractor.page(bytes, path: url.path), .page)
            }
            throw .unsupportedFormat(path: url.path, reason: "XML that is neither ALTO nor PAGE")
        default:
            return (try decodeUTF8(bytes, path: url.path), .plain)
        }
    }

    /// Reads a JSON file of fields.
    public func fields(at url: URL) throws(ScoringError) -> JSONValue {
        try JSONValue.parse(try read(url), path: url.path)
    }

    func read(_ url: URL) throws(ScoringError) -> [UInt8] {
        // One open/fstat/read for regular files; anything unusual (and every error, for its
        // message) goes through Foundation as before.
        if url.isFileURL, let bytes = Self.readRegularFile(url.path) { return bytes }
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "\(error.localizedDescription)" : "no such file"
            throw .unreadable(path: url.path, reason: reason)
        }
    }

    static func readRegularFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(info.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let got = Foundation.read(fd, buffer.baseAddress! + count, size - count)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    failed = got < 0
                    break
                }
                count += got
            }
        }
        // A file that changed size while being read: let Foundation read it.
        return failed || bytes.count != size ? nil : bytes
    }

    func decodeUTF8(_ bytes: [UInt8], path: String) throws(ScoringError) -> String {
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes.dropFirst(3) : bytes[...]
        guard let text = String(validating: body, as: UTF8.self) else { throw .notUTF8(path: path) }
        return text
    }

    /// SROIE task-1 ground truth: the transcript of each row, in file order.
    public func sroieCSV(_ bytes: [UInt8], path: String) throws(ScoringError) -> String {
        let text = try decodeUTF8(bytes, path: path)
        var lines: [Substring] = []
        for (number, row) in splitLines(text).enumerated() {
            if row.allSatisfy(\.isWhitespace) { continue }
            var rest = row[...]
            for field in 0..<8 {
                guard let comma = rest.firstIndex(of: ",") else {
                    throw .malformed(path: path, location: "\(number + 1)",
                                     reason: "expected 8 coordinates and the text, found \(field) commas")
                }
                guard Int(rest[..<comma].trimmingWhitespace) != nil else {
                    throw .malformed(path: path, location: "\(number + 1)",
                                     reason: "coordinate \(field + 1) '\(rest[..<comma])' is not a whole number")
                }
                rest = rest[rest.index(after: comma)...]
            }
            lines.append(rest)
        }
        return lines.joined(separator: "\n")
    }

    /// Skiff's OCR JSON: each page's line texts joined with newlines, pages likewise.
    public func skiffOCRJSON(_ bytes: [UInt8], path: String) throws(ScoringError) -> String {
        struct File: Decodable { var pages: [OCRPage] }
        do {
            let file = try JSONDecoder().decode(File.self, from: Data(bytes))
            return file.pages.map { $0.lines.map(\.text).joined(separator: "\n") }.joined(separator: "\n")
        } catch let error as DecodingError {
            throw .malformed(path: path, location: Self.codingPath(error), reason: "not Skiff OCR JSON (\(Self.reason(error)))")
        } catch {
            throw .malformed(path: path, location: "1", reason: "not Skiff OCR JSON: \(error)")
        }
    }

    static func codingPath(_ error: DecodingError) -> String {
        let path: [any CodingKey]
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            path = c.codingPath
        @unknown default:
            path = []
        }
        return path.isEmpty ? "$" : "$" + path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    static func reason(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing key '\(key.stringValue)'"
        case .typeMismatch(let type, _): "expected \(type)"
        case .valueNotFound(let type, _): "expected \(type), found null"
        case .dataCorrupted(let c): c.debugDescription
        @unknown default: "\(error)"
        }
    }
}

/// Pulls text out of ALTO and PAGE XML with `XMLScanner`, the way dinglehopper
/// 0.11 does: ALTO String@CONTENT joined by spaces per TextLine, lines by newlines; PAGE
/// region-level TextEquiv (lowest @index, else highest @conf, else the first) of the regions
/// in the ReadingOrder (ordered groups by @index, nested groups followed), or of every
/// TextRegion in document order when there is none; empty regions skipped. When no region
/// has region-level text, line-level text is used instead (dinglehopper's --textequiv-level line).
final class XMLTextExtractor: XMLScanner.Handler {
    private enum Mode { case alto, page }
    private let mode: Mode
    // ALTO
    private var altoLines: [[String]] = []
    private var altoLineDepth: Int?
    // PAGE
    private struct Equiv { var index: Double?; var conf: Double?; var text: String }
    private final class Segment {
        var id: String
        var equivs: [Equiv] = []
        var lines: [Segment] = []
        init(id: String) { self.id = id }
    }
    private final class Group {
        var ordered: Bool
        var items: [(index: Int?, ref: String?, group: Group?)] = []
        init(ordered: Bool) { self.ordered = ordered }
    }
    private var regions: [Segment] = []
    private var segmentStack: [(depth: Int, segment: Segment)] = []
    private var groupStack: [Group] = []
    private var rootGroups: [Group] = []
    private var stack: [String] = []
    private var equivStart: (depth: Int, index: Double?, conf: Double?)?
    private var textBuffer: String?

    private init(mode: Mode) { self.mode = mode }

    static func alto(_ data: [UInt8], path: String) throws(ScoringError) -> String {
        let x = XMLTextExtractor(mode: .alto)
        try x.run(data, path: path)
        return x.altoLines.map { $0.joined(separator: " ") }.joined(separator: "\n")
    }

    static func page(_ data: [UInt8], path: String) throws(ScoringError) -> String {
        let x = XMLTextExtractor(mode: .page)
        try x.run(data, path: path)
        var ordered: [Segment] = []
        if x.rootGroups.isEmpty {
            ordered = x.regions
        } else {
            let byID = Dictionary(x.regions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            func visit(_ group: Group) {
                let items = group.ordered
                    ? group.items.filter { $0.index != nil }.sorted { ($0.index ?? 0) < ($1.index ?? 0) }
                    : group.items
                for item in items {
                    if let g = item.group { visit(g) } else if let id = item.ref, let r = byID[id] { ordered.append(r) }
                }
            }
            x.rootGroups.forEach(visit)
        }
        let regionLevel = x.regions.contains { !$0.equivs.isEmpty }
        let texts = ordered.map { region in
            regionLevel ? first(region.equivs) : region.lines.map { first($0.equivs) }.joined(separator: "\n")
        }
        return texts.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    private static func first(_ equivs: [Equiv]) -> String {
        guard equivs.count > 1 else { return equivs.first?.text ?? "" }
        if let best = equivs.filter({ $0.index != nil }).min(by: { ($0.index ?? 0) < ($1.index ?? 0) }) { return best.text }
        if let best = equivs.filter({ $0.conf != nil }).max(by: { ($0.conf ?? 0) < ($1.conf ?? 0) }) { return best.text }
        return equivs[0].text
    }

    private func run(_ data: [UInt8], path: String) throws(ScoringError) {
        var scanner = XMLScanner(data)
        do {
            try scanner.parse(self)
        } catch {
            throw .malformed(path: path, location: "\(error.line):\(error.column)", reason: "invalid XML: \(error.message)")
        }
    }

    func start(_ name: String, attributes: [String: String]) {
        stack.append(name)
        switch mode {
        case .alto:
            if name == "TextLine" {
                altoLines.append([])
                altoLineDepth = stack.count
            } else if name == "String", let depth = altoLineDepth, stack.count == depth + 1 {
                altoLines[altoLines.count - 1].append(attributes["CONTENT"] ?? "")
            }
        case .page:
            switch name {
            case "TextRegion":
                let region = Segment(id: attributes["id"] ?? "")
                regions.append(region)
                segmentStack.append((stack.count, region))
            case "TextLine":
                // Only lines directly inside a region count (as dinglehopper's ./page:TextLine).
                if let top = segmentStack.last, top.depth == stack.count - 1 {
                    let line = Segment(id: attributes["id"] ?? "")
                    top.segment.lines.append(line)
                    segmentStack.append((stack.count, line))
                }
            case "TextEquiv":
                if let top = segmentStack.last, top.depth == stack.count - 1 {
                    equivStart = (stack.count, attributes["index"].flatMap(Double.init), attributes["conf"].flatMap(Double.init))
                }
            case "Unicode":
                if let e = equivStart, e.depth == stack.count - 1 { textBuffer = "" }
            case "OrderedGroup", "OrderedGroupIndexed", "UnorderedGroup", "UnorderedGroupIndexed":
                let group = Group(ordered: name.hasPrefix("Ordered"))
                if let parent = groupStack.last {
                    parent.items.append((attributes["index"].flatMap { Int($0) }, nil, group))
                } else {
                    rootGroups.append(group)
                }
                groupStack.append(group)
            case "RegionRefIndexed", "RegionRef":
                groupStack.last?.items.append((attributes["index"].flatMap { Int($0) }, attributes["regionRef"], nil))
            default:
                break
            }
        }
    }

    func characters(_ string: String) {
        if textBuffer != nil { textBuffer?.append(string) }
    }

    func end(_ name: String) {
        defer { stack.removeLast() }
        switch mode {
        case .alto:
            if name == "TextLine" { altoLineDepth = nil }
        case .page:
            switch name {
            case "Unicode":
                if let text = textBuffer, let e = equivStart, let top = segmentStack.last {
                    top.segment.equivs.append(Equiv(index: e.index, conf: e.conf, text: text))
                }
                textBuffer = nil
            case "TextEquiv":
                if let e = equivStart, e.depth == stack.count { equivStart = nil }
            case "TextRegion", "TextLine":
                if let top = segmentStack.last, top.depth == stack.count { segmentStack.removeLast() }
            case "OrderedGroup", "OrderedGroupIndexed", "UnorderedGroup", "UnorderedGroupIndexed":
                groupStack.removeLast()
            default:
                break
            }
        }
    }
}
