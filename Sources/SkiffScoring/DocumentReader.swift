public import Foundation
#if canImport(FoundationXML)
internal import FoundationXML
#endif
public import SkiffOCR

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
                return (try XMLTextExtractor.alto(Data(bytes), path: url.path), .alto)
            }
            if text.contains("PcGts") {
                return (try XMLTextExtractor.page(Data(bytes), path: url.path), .page)
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
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "\(error.localizedDescription)" : "no such file"
            throw .unreadable(path: url.path, reason: reason)
        }
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

/// Pulls text out of ALTO and PAGE XML with Foundation's SAX parser, the way dinglehopper does.
final class XMLTextExtractor: NSObject, XMLParserDelegate {
    private enum Mode { case alto, page }
    private let mode: Mode
    // ALTO
    private var altoLines: [[String]] = []
    private var inTextLine = false
    // PAGE: per region, its region-level TextEquiv (first by @index) and its lines' TextEquivs.
    private struct Region { var id: String; var text: String?; var lines: [String] = [] }
    private var regions: [Region] = []
    private var readingOrder: [(index: Int, id: String)] = []
    private var stack: [String] = []
    private var textBuffer: String?
    private var regionDepth: [Int] = []

    private init(mode: Mode) { self.mode = mode }

    static func alto(_ data: Data, path: String) throws(ScoringError) -> String {
        let x = XMLTextExtractor(mode: .alto)
        try x.run(data, path: path)
        return x.altoLines.map { $0.joined(separator: " ") }.joined(separator: "\n")
    }

    static func page(_ data: Data, path: String) throws(ScoringError) -> String {
        let x = XMLTextExtractor(mode: .page)
        try x.run(data, path: path)
        var regions = x.regions
        if !x.readingOrder.isEmpty {
            let rank = Dictionary(x.readingOrder.map { ($0.id, $0.index) }, uniquingKeysWith: { a, _ in a })
            let ordered = regions.filter { rank[$0.id] != nil }.sorted { rank[$0.id, default: 0] < rank[$1.id, default: 0] }
            regions = ordered + regions.filter { rank[$0.id] == nil }
        }
        return regions.map { $0.text ?? $0.lines.joined(separator: "\n") }.joined(separator: "\n")
    }

    private func run(_ data: Data, path: String) throws(ScoringError) {
        let parser = XMLParser(data: data)
        parser.delegate = self
        parser.shouldProcessNamespaces = true
        guard parser.parse() else {
            let message = parser.parserError.map { "\($0.localizedDescription)" } ?? "unknown error"
            throw .malformed(path: path, location: "\(parser.lineNumber):\(parser.columnNumber)",
                             reason: "invalid XML: \(message)")
        }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:])
    {
        stack.append(name)
        switch mode {
        case .alto:
            if name == "TextLine" {
                altoLines.append([])
                inTextLine = true
            } else if name == "String", inTextLine, let content = attributes["CONTENT"] {
                altoLines[altoLines.count - 1].append(content)
            }
        case .page:
            if name == "TextRegion" {
                regions.append(Region(id: attributes["id"] ?? ""))
                regionDepth.append(stack.count)
            } else if name == "RegionRefIndexed", let id = attributes["regionRef"] {
                readingOrder.append((Int(attributes["index"] ?? "") ?? readingOrder.count, id))
            } else if name == "Unicode" {
                textBuffer = ""
            }
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if textBuffer != nil { textBuffer?.append(string) }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        defer { stack.removeLast() }
        switch mode {
        case .alto:
            if name == "TextLine" { inTextLine = false }
        case .page:
            if name == "Unicode", let text = textBuffer, let depth = regionDepth.last, !regions.isEmpty {
                textBuffer = nil
                // Unicode → TextEquiv → owner: the region itself (depth + 1) or a TextLine inside it.
                let owner = stack.count >= 3 ? stack[stack.count - 3] : ""
                if stack.count - 2 == depth {
                    if regions[regions.count - 1].text == nil { regions[regions.count - 1].text = text }
                } else if owner == "TextLine" {
                    regions[regions.count - 1].lines.append(text)
                }
            } else if name == "TextRegion" {
                regionDepth.removeLast()
            }
        }
    }
}
