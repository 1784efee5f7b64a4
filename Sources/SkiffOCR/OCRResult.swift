/// An axis-aligned box in page pixels: left, top, right, bottom (right and bottom exclusive).
public struct BoundingBox: Sendable, Hashable, Codable {
    public var x0: Int
    public var y0: Int
    public var x1: Int
    public var y1: Int

    public init(x0: Int, y0: Int, x1: Int, y1: Int) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }

    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }

    /// The smallest box holding both.
    public func union(_ other: BoundingBox) -> BoundingBox {
        BoundingBox(x0: min(x0, other.x0), y0: min(y0, other.y0), x1: max(x1, other.x1), y1: max(y1, other.y1))
    }

    // JSON: [x0, y0, x1, y1]
    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        self.init(x0: try c.decode(Int.self), y0: try c.decode(Int.self),
                  x1: try c.decode(Int.self), y1: try c.decode(Int.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(x0)
        try c.encode(y0)
        try c.encode(x1)
        try c.encode(y1)
    }
}

/// A recognised word. Confidence is 0...1 for every engine (Tesseract's 0...100 is divided by 100).
public struct OCRWord: Sendable, Hashable, Codable {
    public var text: String
    public var box: BoundingBox
    public var confidence: Double
    /// Index of the word's line in `OCRPage.lines`.
    public var line: Int

    public init(text: String, box: BoundingBox, confidence: Double, line: Int) {
        self.text = text
        self.box = box
        self.confidence = confidence
        self.line = line
    }
}

/// A text line: its words are `OCRPage.words[words]`.
public struct OCRLine: Sendable, Hashable, Codable {
    public var text: String
    public var box: BoundingBox
    public var confidence: Double
    /// Index of the line's block in `OCRPage.blocks`.
    public var block: Int
    /// Half-open range of word indices, encoded as `[first, end]`.
    public var words: Range<Int>

    public init(text: String, box: BoundingBox, confidence: Double, block: Int, words: Range<Int>) {
        self.text = text
        self.box = box
        self.confidence = confidence
        self.block = block
        self.words = words
    }

    enum CodingKeys: String, CodingKey { case text, box, confidence, block, words }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        text = try c.decode(String.self, forKey: .text)
        box = try c.decode(BoundingBox.self, forKey: .box)
        confidence = try c.decode(Double.self, forKey: .confidence)
        block = try c.decode(Int.self, forKey: .block)
        words = try c.decodeIndexRange(forKey: .words)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(text, forKey: .text)
        try c.encode(box, forKey: .box)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(block, forKey: .block)
        try c.encodeIndexRange(words, forKey: .words)
    }
}

/// A block (column, paragraph group) of lines: `OCRPage.lines[lines]`.
public struct OCRBlock: Sendable, Hashable, Codable {
    public var box: BoundingBox
    public var lines: Range<Int>

    public init(box: BoundingBox, lines: Range<Int>) {
        self.box = box
        self.lines = lines
    }

    enum CodingKeys: String, CodingKey { case box, lines }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        box = try c.decode(BoundingBox.self, forKey: .box)
        lines = try c.decodeIndexRange(forKey: .lines)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(box, forKey: .box)
        try c.encodeIndexRange(lines, forKey: .lines)
    }
}

/// What an OCR engine read on one page. Words, lines and blocks are flat
/// lists in reading order that point at each other by index, so a field
/// extracted later can cite the exact words it came from.
public struct OCRPage: Sendable, Hashable, Codable {
    /// Zero-based page number within its document.
    public var page: Int
    public var width: Int
    public var height: Int
    /// The resolution used for recognition, when the file stated one.
    public var dpi: Double?
    /// The engine's plain-text rendering of the page.
    public var text: String
    public var words: [OCRWord]
    public var lines: [OCRLine]
    public var blocks: [OCRBlock]

    public init(page: Int, width: Int, height: Int, dpi: Double?, text: String,
                words: [OCRWord], lines: [OCRLine], blocks: [OCRBlock]) {
        self.page = page
        self.width = width
        self.height = height
        self.dpi = dpi
        self.text = text
        self.words = words
        self.lines = lines
        self.blocks = blocks
    }
}

// Index ranges are written as `[first, end]`: short, and readable by any JSON tool.
extension KeyedDecodingContainer {
    func decodeIndexRange(forKey key: Key) throws -> Range<Int> {
        let bounds = try decode([Int].self, forKey: key)
        guard bounds.count == 2, bounds[0] >= 0, bounds[0] <= bounds[1] else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "expected [first, end]")
        }
        return bounds[0]..<bounds[1]
    }
}

extension KeyedEncodingContainer {
    mutating func encodeIndexRange(_ range: Range<Int>, forKey key: Key) throws {
        try encode([range.lowerBound, range.upperBound], forKey: key)
    }
}
