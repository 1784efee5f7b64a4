/// A text region found by the detector: four corners in page pixels (top-left, top-right,
/// bottom-right, bottom-left) and the mean probability inside it.
public struct TextBox: Sendable, Hashable, Codable {
    public var corners: [Point]
    public var score: Double

    public init(corners: [Point], score: Double) {
        self.corners = corners
        self.score = score
    }
}

/// Settings of DB (differentiable binarization) post-processing; the defaults are PaddleOCR's
/// and rapidocr's.
public struct DBSettings: Sendable, Hashable {
    /// Probability above which a pixel is text.
    public var threshold: Double = 0.3
    /// Mean probability a box needs to be kept.
    public var boxThreshold: Double = 0.5
    /// How far a box grows: area * ratio / perimeter on each side.
    public var unclipRatio: Double = 1.6
    /// Dilate the binary map with a 2x2 kernel (joins characters split by a thin gap).
    public var dilate: Bool = true
    public var maxCandidates: Int = 1000
    public var minSize: Double = 3

    public init() {}
}

/// Probability map → binary map → connected regions → minimum-area boxes → unclip → page boxes.
struct DBPostProcess {
    var settings: DBSettings

    /// `prob` is the detector's map (height x width, row-major); boxes are scaled to pageWidth x pageHeight.
    func boxes(prob: UnsafeBufferPointer<Float>, width: Int, height: Int, pageWidth: Int, pageHeight: Int) -> [TextBox] {
        let thr = Float(settings.threshold)
        var bitmap = [UInt8](repeating: 0, count: width * height)
        for i in 0..<(width * height) where prob[i] > thr { bitmap[i] = 1 }
        if settings.dilate {
            // OpenCV's dilate with a 2x2 kernel (anchor at its centre, (1, 1)): max over (y-1...y, x-1...x).
            var d = bitmap
            for y in 0..<height {
                for x in 0..<width where d[y * width + x] == 0 {
                    if (x > 0 && bitmap[y * width + x - 1] != 0) || (y > 0 && bitmap[(y - 1) * width + x] != 0)
                        || (x > 0 && y > 0 && bitmap[(y - 1) * width + x - 1] != 0) {
                        d[y * width + x] = 1
                    }
                }
            }
            bitmap = d
        }
        var boxes: [TextBox] = []
        for region in Self.regions(bitmap, width: width, height: height).prefix(settings.maxCandidates) {
            let rect = Geometry.minAreaRect(region)
            guard min(rect.width, rect.height) >= settings.minSize else { continue }
            let quad = Geometry.orderedBox(rect)
            let score = Self.meanInside(quad, prob: prob, width: width, height: height)
            guard score >= settings.boxThreshold else { continue }
            // Unclip: a rectangle offset by d with round joins has a (w + 2d) x (h + 2d) minimum box.
            let poly = quad
            let area = Geometry.polygonArea(poly), perimeter = Geometry.perimeter(poly)
            guard perimeter > 0 else { continue }
            let d = area * settings.unclipRatio / perimeter
            var grown = rect
            grown.width += 2 * d
            grown.height += 2 * d
            guard min(grown.width, grown.height) >= settings.minSize + 2 else { continue }
            let sx = Double(pageWidth) / Double(width), sy = Double(pageHeight) / Double(height)
            let scaled = Geometry.orderedBox(grown).map { p in
                Point(x: min(max((p.x * sx).rounded(.toNearestOrEven), 0), Double(pageWidth)),
                      y: min(max((p.y * sy).rounded(.toNearestOrEven), 0), Double(pageHeight)))
            }
            // order_points_clockwise + clip_det_res
            var corners = Self.clockwise(scaled).map { p in
                Point(x: Double(Int(min(max(p.x, 0), Double(pageWidth - 1)))),
                      y: Double(Int(min(max(p.y, 0), Double(pageHeight - 1)))))
            }
            if corners.count != 4 { continue }
            let w = Int(corners[0].distance(to: corners[1])), h = Int(corners[0].distance(to: corners[3]))
            guard w > 3, h > 3 else { continue }
            corners = corners.map { $0 }
            boxes.append(TextBox(corners: corners, score: score))
        }
        return Self.sorted(boxes)
    }

    /// 8-connected regions of 1s; each region as its boundary pixels (what a contour holds).
    static func regions(_ bitmap: [UInt8], width: Int, height: Int) -> [[Point]] {
        var label = [Int32](repeating: -1, count: width * height)
        var out: [[Point]] = []
        var stack: [Int] = []
        for start in 0..<(width * height) where bitmap[start] != 0 && label[start] < 0 {
            let id = Int32(out.count)
            var points: [Point] = []
            label[start] = id
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % width, y = i / width
                var boundary = x == 0 || y == 0 || x == width - 1 || y == height - 1
                for dy in -1...1 {
                    let ny = y + dy
                    guard ny >= 0, ny < height else { continue }
                    for dx in -1...1 where dx != 0 || dy != 0 {
                        let nx = x + dx
                        guard nx >= 0, nx < width else { continue }
                        let j = ny * width + nx
                        if bitmap[j] == 0 {
                            if dx == 0 || dy == 0 { boundary = true }
                        } else if label[j] < 0 {
                            label[j] = id
                            stack.append(j)
                        }
                    }
                }
                if boundary { points.append(Point(x: Double(x), y: Double(y))) }
            }
            out.append(points)
        }
        return out
    }

    /// Mean of the map over the pixels of the quad (box_score_fast: the quad's corners truncated
    /// to integers, filled inclusive of its edges).
    static func meanInside(_ quad: [Point], prob: UnsafeBufferPointer<Float>, width: Int, height: Int) -> Double {
        let q = quad.map { Point(x: Double(Int($0.x)), y: Double(Int($0.y))) }
        let xmin = min(max(Int(quad.map(\.x).min()!.rounded(.down)), 0), width - 1)
        let xmax = min(max(Int(quad.map(\.x).max()!.rounded(.up)), 0), width - 1)
        let ymin = min(max(Int(quad.map(\.y).min()!.rounded(.down)), 0), height - 1)
        let ymax = min(max(Int(quad.map(\.y).max()!.rounded(.up)), 0), height - 1)
        // Orientation of the quad, so "inside" is the same side of every edge.
        var area2 = 0.0
        for i in 0..<4 { area2 += q[i].x * q[(i + 1) % 4].y - q[(i + 1) % 4].x * q[i].y }
        let sign: Double = area2 >= 0 ? 1 : -1
        var sum = 0.0, count = 0
        for y in ymin...ymax {
            for x in xmin...xmax {
                var inside = true
                for i in 0..<4 {
                    let a = q[i], b = q[(i + 1) % 4]
                    let len = a.distance(to: b)
                    let cross = ((b.x - a.x) * (Double(y) - a.y) - (b.y - a.y) * (Double(x) - a.x)) * sign
                    if cross < -0.5 * max(len, 1) { inside = false; break }
                }
                if inside { sum += Double(prob[y * width + x]); count += 1 }
            }
        }
        return count > 0 ? sum / Double(count) : 0
    }

    /// tl, tr, br, bl from the two left-most and two right-most points.
    static func clockwise(_ pts: [Point]) -> [Point] {
        let byX = pts.enumerated().sorted { $0.element.x != $1.element.x ? $0.element.x < $1.element.x : $0.offset < $1.offset }.map(\.element)
        let left = byX[0..<2].sorted { $0.y < $1.y }, right = byX[2..<4].sorted { $0.y < $1.y }
        return [left[0], right[0], right[1], left[1]]
    }

    /// rapidocr's reading order: by top-left y, boxes within 10 px of the previous one share a
    /// line, lines left to right.
    static func sorted(_ boxes: [TextBox]) -> [TextBox] {
        let byY = boxes.enumerated().sorted { a, b in
            a.element.corners[0].y != b.element.corners[0].y ? a.element.corners[0].y < b.element.corners[0].y : a.offset < b.offset
        }.map(\.element)
        var line = 0
        var keyed: [(line: Int, x: Double, index: Int, box: TextBox)] = []
        for (i, box) in byY.enumerated() {
            if i > 0, box.corners[0].y - byY[i - 1].corners[0].y >= 10 { line += 1 }
            keyed.append((line, box.corners[0].x, i, box))
        }
        keyed.sort { ($0.line, $0.x, $0.index) < ($1.line, $1.x, $1.index) }
        return keyed.map(\.box)
    }
}
