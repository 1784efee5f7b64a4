public import SkiffOCR

/// Where an extracted value came from: a run of OCR words on one page, as read by one
/// recognition pass. Boxes are in page pixels; confidence is the words' mean, 0–1.
public struct SourceSpan: Sendable, Hashable, Codable {
    public var page: Int
    /// Which recognition pass read these words (an index into `ExtractionInput.passes`).
    public var pass: Int
    /// Word indexes in that pass's page, `[first, end)`.
    public var words: Range<Int>
    public var text: String
    public var box: BoundingBox
    public var confidence: Double

    public init(page: Int, pass: Int, words: Range<Int>, text: String, box: BoundingBox, confidence: Double) {
        self.page = page
        self.pass = pass
        self.words = words
        self.text = text
        self.box = box
        self.confidence = confidence
    }

    enum CodingKeys: String, CodingKey { case page, pass, words, text, box, confidence }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        page = try c.decode(Int.self, forKey: .page)
        pass = try c.decode(Int.self, forKey: .pass)
        let bounds = try c.decode([Int].self, forKey: .words)
        guard bounds.count == 2, bounds[0] >= 0, bounds[0] <= bounds[1] else {
            throw DecodingError.dataCorruptedError(forKey: .words, in: c, debugDescription: "expected [first, end]")
        }
        words = bounds[0]..<bounds[1]
        text = try c.decode(String.self, forKey: .text)
        box = try c.decode(BoundingBox.self, forKey: .box)
        confidence = try c.decode(Double.self, forKey: .confidence)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(page, forKey: .page)
        try c.encode(pass, forKey: .pass)
        try c.encode([words.lowerBound, words.upperBound], forKey: .words)
        try c.encode(text, forKey: .text)
        try c.encode(box, forKey: .box)
        try c.encode(confidence, forKey: .confidence)
    }

    /// Two spans of consecutive lines joined into one (an address over several lines).
    /// The word range covers both when they are on the same page and pass.
    func joined(with next: SourceSpan, separator: String = " ") -> SourceSpan {
        SourceSpan(
            page: page, pass: pass,
            words: min(words.lowerBound, next.words.lowerBound)..<max(words.upperBound, next.words.upperBound),
            text: text + separator + next.text, box: box.union(next.box),
            confidence: (confidence * Double(words.count) + next.confidence * Double(next.words.count))
                / Double(max(1, words.count + next.words.count)))
    }
}

/// One recognised line: its words joined by single spaces, so a character range of
/// `text` maps straight back to the words it covers.
struct SourceLine: Sendable {
    let page: Int
    let pass: Int
    /// The line's position among all lines of its page in reading order.
    let index: Int
    /// Vertical position of the line's top on the page, 0 (top) to 1 (bottom).
    let relativeTop: Double
    let text: String
    /// Upper-cased text for keyword tests (receipts mix cases freely).
    let upper: String
    let words: [OCRWord]
    /// The union of the words' boxes.
    let box: BoundingBox
    let firstWord: Int
    /// Character offset where each word starts in `text`.
    private let starts: [Int]

    init(page: OCRPage, pass: Int, line: OCRLine, index: Int) {
        self.page = page.page
        self.pass = pass
        self.index = index
        relativeTop = page.height > 0 ? Double(line.box.y0) / Double(page.height) : 0
        words = Array(page.words[line.words])
        box = words.dropFirst().reduce(words.first?.box ?? line.box) { $0.union($1.box) }
        firstWord = line.words.lowerBound
        var offsets: [Int] = []
        var offset = 0
        for word in words {
            offsets.append(offset)
            offset += word.text.count + 1
        }
        starts = offsets
        text = words.map(\.text).joined(separator: " ")
        upper = Self.foldingFullwidth(text).uppercased()
    }

    /// Fullwidth ASCII forms (U+FF01-FF5E) as ASCII, one character for one, so cues match:
    /// PP-OCR's multilingual recogniser writes `（ CO.REG : 86Q671-D）` in Latin print.
    static func foldingFullwidth(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { (0xFF01...0xFF5E).contains($0.value) }) else { return text }
        var scalars = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if (0xFF01...0xFF5E).contains(u.value), let ascii = Unicode.Scalar(u.value - 0xFEE0) { scalars.append(ascii) }
            else { scalars.append(u) }
        }
        return String(scalars)
    }

    /// The whole line as a span.
    var span: SourceSpan { span(words: 0..<words.count) }

    /// The span of the words overlapping characters `range` of `text`.
    func span(characters range: Range<Int>) -> SourceSpan {
        var first = words.count, end = 0
        for (i, start) in starts.enumerated() {
            let wordEnd = start + words[i].text.count
            if wordEnd > range.lowerBound && start < range.upperBound {
                first = min(first, i)
                end = max(end, i + 1)
            }
        }
        if first >= end { return span(words: 0..<0) }
        return span(words: first..<end)
    }

    func span(words range: Range<Int>) -> SourceSpan {
        let chosen = words[range]
        let box = chosen.dropFirst().reduce(chosen.first?.box ?? BoundingBox(x0: 0, y0: 0, x1: 0, y1: 0)) { $0.union($1.box) }
        let confidence = chosen.isEmpty ? 0 : chosen.map(\.confidence).reduce(0, +) / Double(chosen.count)
        return SourceSpan(
            page: page, pass: pass, words: (firstWord + range.lowerBound)..<(firstWord + range.upperBound),
            text: chosen.map(\.text).joined(separator: " "), box: box, confidence: confidence)
    }
}

extension OCRPage {
    /// The page's lines as `SourceLine`s, dropping lines without words.
    func sourceLines(pass: Int) -> [SourceLine] {
        lines.enumerated().compactMap { index, line in
            line.words.isEmpty ? nil : SourceLine(page: self, pass: pass, line: line, index: index)
        }
    }
}
