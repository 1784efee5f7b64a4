public import SkiffOCR
internal import Foundation

let debugTiming = ProcessInfo.processInfo.environment["SKIFF_PPOCR_TIMING"] != nil

/// Turns detected lines into the shared page model: boxes on one row (a receipt's item and its
/// price) become one line in reading order, and each line is split into words where the
/// recogniser put a space or where the CTC frames of two characters are far apart, each word
/// with its own box and confidence.
public struct PageLayout: Sendable {
    /// Centre distance, in median character pitches, above which two characters get a space.
    public var spaceGap: Double
    /// Width, in line heights, of an ink-free gap between two characters that makes a space.
    public var blankGap: Double
    /// Centre distance, in the line's digit pitches, that a gap between two digits must exceed.
    public var digitSpacing: Double
    /// Boxes on one row make one line (what extraction wants: a label and its amount); false
    /// keeps each detected box its own line, in the same order (what SROIE's transcripts do).
    public var rowLines = true

    public init(spaceGap: Double, blankGap: Double = 0.23, digitSpacing: Double = 1.4) {
        self.spaceGap = spaceGap
        self.blankGap = blankGap
        self.digitSpacing = digitSpacing
    }

    struct Piece {
        var text: String
        var box: BoundingBox
        var confidence: Double
    }

    /// The words of one detected line, in page pixels.
    public func words(_ line: PPOCRLine) -> [(text: String, box: BoundingBox, confidence: Double)] {
        let r = line.reading
        let quad = line.box.corners
        let cropWidth = max(quad[0].distance(to: quad[1]), quad[2].distance(to: quad[3]))
        let cropHeight = max(quad[0].distance(to: quad[3]), quad[1].distance(to: quad[2]))
        let whole = Self.bounds(quad)
        // The line's character pitch: the median distance between the centres of neighbours
        // that the recogniser did not separate with a space.
        func centre(_ c: CharacterTiming) -> Double { Double(c.firstFrame + c.lastFrame) / 2 }
        var pitches: [Double] = []
        for i in 1..<max(r.characters.count, 1) {
            let a = r.characters[i - 1], b = r.characters[i]
            if !a.character.allSatisfy(\.isWhitespace), !b.character.allSatisfy(\.isWhitespace) {
                pitches.append(centre(b) - centre(a))
            }
        }
        if debugTiming {
            let frames = r.characters.map { "\($0.character)\($0.firstFrame)-\($0.lastFrame)" }.joined(separator: " ")
            FileHandle.standardError.write(Data("timing: \(r.text) | \(frames) | blanks \(r.blankColumns.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))\n".utf8))
        }
        pitches.sort()
        let pitch = pitches.isEmpty ? 0 : pitches[pitches.count / 2]
        // Digits are the same width in receipt fonts, so a narrow one (`1`) leaves a wide blank
        // beside it; between digits, a space must also stretch the digits' own pitch.
        var digitPitches: [Double] = []
        for i in 1..<max(r.characters.count, 1) where Self.isDigit(r.characters[i - 1]) && Self.isDigit(r.characters[i]) {
            digitPitches.append(centre(r.characters[i]) - centre(r.characters[i - 1]))
        }
        digitPitches.sort()
        let digitPitch = digitPitches.count >= 2 ? digitPitches[digitPitches.count / 2] : pitch
        var groups: [[CharacterTiming]] = [[]]
        for c in r.characters {
            if c.character.allSatisfy(\.isWhitespace) {
                if !(groups.last?.isEmpty ?? true) { groups.append([]) }
                continue
            }
            if let prev = groups.last?.last, isSpace(between: prev, and: c, reading: r, pitch: pitch, digitPitch: digitPitch) {
                groups.append([])
            }
            groups[groups.count - 1].append(c)
        }
        groups.removeAll { $0.isEmpty }
        guard !line.rotated, cropWidth > 0 else {
            let text = groups.map { $0.map(\.character).joined() }.joined(separator: " ")
            return text.isEmpty ? [] : [(text, whole, r.confidence)]
        }
        let map = Geometry.perspective(to: quad, width: cropWidth, height: cropHeight)
        return groups.map { g in
            let x0 = min(Double(g[0].firstFrame) * r.cropPixelsPerFrame, cropWidth)
            let x1 = min(Double(g[g.count - 1].lastFrame + 1) * r.cropPixelsPerFrame, cropWidth)
            let pts = [map(x0, 0), map(x1, 0), map(x1, cropHeight), map(x0, cropHeight)]
            let conf = g.map(\.probability).reduce(0, +) / Double(g.count)
            return (g.map(\.character).joined(), Self.bounds(pts), conf)
        }
    }

    /// A space where the recogniser wrote none: an ink-free run between the two characters'
    /// frames at least `blankGap` line heights wide, or (without usable columns) centres more
    /// than `spaceGap` median pitches apart. Between two digits the centres must also be more
    /// than `digitSpacing` digit pitches apart (`110.00` in wide print is not `1 10.00`).
    func isSpace(between a: CharacterTiming, and b: CharacterTiming, reading r: LineReading, pitch: Double,
                 digitPitch: Double = 0) -> Bool {
        // Narrow punctuation leaves wide blank columns beside it without being a word break
        // ("D.I.Y.", "86Q671-D", "(M)"); only the recogniser's own spaces split there. A colon
        // is left to the gap: receipts print both "TOTAL:" and "TOTAL :", and the transcripts
        // follow the print.
        if Self.noSpaceBefore.contains(b.character) || Self.noSpaceAfter.contains(a.character) { return false }
        let ca = Double(a.firstFrame + a.lastFrame) / 2, cb = Double(b.firstFrame + b.lastFrame) / 2
        if Self.isDigit(a), Self.isDigit(b), digitPitch > 0, cb - ca <= digitSpacing * digitPitch { return false }
        let ppf = r.inputPixelsPerFrame
        let from = Int((Double(a.lastFrame) + 0.5) * ppf), to = Int((Double(b.firstFrame) + 0.5) * ppf)
        if !r.blankColumns.isEmpty {
            let need = Int((blankGap * 48).rounded(.up))
            return r.blankColumns.contains { run in
                let lo = max(run.lowerBound, from), hi = min(run.upperBound, to)
                return hi - lo + 1 >= need
            }
        }
        return pitch > 0 && cb - ca > spaceGap * pitch && b.firstFrame - a.lastFrame >= 3
    }

    static func isDigit(_ c: CharacterTiming) -> Bool {
        c.character.count == 1 && c.character.unicodeScalars.allSatisfy { ("0"..."9").contains($0) }
    }

    static let noSpaceBefore: Set<String> = [".", ",", ";", ")", "]", "}", "%", "-"]
    static let noSpaceAfter: Set<String> = ["(", "[", "{", ".", "-"]

    static func bounds(_ pts: [Point]) -> BoundingBox {
        BoundingBox(x0: Int(pts.map(\.x).min()!.rounded(.down)), y0: Int(pts.map(\.y).min()!.rounded(.down)),
                    x1: Int(pts.map(\.x).max()!.rounded(.up)), y1: Int(pts.map(\.y).max()!.rounded(.up)))
    }

    /// Groups lines into rows: a line joins the row it overlaps vertically by at least half of
    /// the smaller height; rows top to bottom, lines in a row left to right.
    public func rows(_ lines: [PPOCRLine]) -> [[PPOCRLine]] {
        struct Row { var top: Double; var bottom: Double; var items: [PPOCRLine] }
        let sorted = lines.sorted { Self.centerY($0) < Self.centerY($1) }
        var rows: [Row] = []
        for line in sorted {
            let ys = line.box.corners.map(\.y)
            let top = ys.min()!, bottom = ys.max()!
            var best: Int?, bestOverlap = 0.0
            for (k, row) in rows.enumerated().suffix(4) {
                let overlap = min(bottom, row.bottom) - max(top, row.top)
                let need = 0.5 * min(bottom - top, row.bottom - row.top)
                if overlap >= need, overlap > bestOverlap { best = k; bestOverlap = overlap }
            }
            if let best {
                rows[best].items.append(line)
                // The row's band follows its first line, so a long row does not swallow its neighbours.
            } else {
                rows.append(Row(top: top, bottom: bottom, items: [line]))
            }
        }
        return rows.map { $0.items.sorted { $0.box.corners[0].x < $1.box.corners[0].x } }
    }

    static func centerY(_ line: PPOCRLine) -> Double { line.box.corners.map(\.y).reduce(0, +) / 4 }

    public func page(_ lines: [PPOCRLine], page: Int, width: Int, height: Int, dpi: Double?) -> OCRPage {
        var words: [OCRWord] = [], outLines: [OCRLine] = []
        let ordered = rows(lines)
        for row in rowLines ? ordered : ordered.flatMap({ $0.map { [$0] } }) {
            let first = words.count
            var confidences: [Double] = []
            for line in row {
                for w in self.words(line) {
                    words.append(OCRWord(text: w.text, box: w.box, confidence: w.confidence, line: outLines.count))
                }
                confidences.append(line.reading.confidence)
            }
            guard words.count > first else { continue }
            let box = words[first..<words.count].map(\.box).reduce(words[first].box) { $0.union($1) }
            outLines.append(OCRLine(text: words[first..<words.count].map(\.text).joined(separator: " "), box: box,
                                    confidence: confidences.reduce(0, +) / Double(confidences.count), block: 0,
                                    words: first..<words.count))
        }
        let blocks = outLines.isEmpty ? [] : [OCRBlock(box: outLines.map(\.box).reduce(outLines[0].box) { $0.union($1) },
                                                       lines: 0..<outLines.count)]
        let text = outLines.map(\.text).joined(separator: "\n") + (outLines.isEmpty ? "" : "\n")
        return OCRPage(page: page, width: width, height: height, dpi: dpi, text: text, words: words,
                       lines: outLines, blocks: blocks)
    }
}

extension LineReading {
    /// A reading from elsewhere (another engine's text for a box): no character timings, so
    /// the layout keeps it as one word.
    public init(text: String, confidence: Double) {
        self.init(text: text, confidence: confidence, characters: [], cropPixelsPerFrame: 1)
    }
}

extension PPOCRLine {
    public init(box: TextBox, reading: LineReading) {
        self.init(box: box, reading: reading, rotated: false)
    }
}
