/// A point in image pixels.
public struct Point: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    static func - (a: Point, b: Point) -> Point { Point(x: a.x - b.x, y: a.y - b.y) }
    static func + (a: Point, b: Point) -> Point { Point(x: a.x + b.x, y: a.y + b.y) }
    static func * (a: Point, s: Double) -> Point { Point(x: a.x * s, y: a.y * s) }
    func distance(to p: Point) -> Double { ((x - p.x) * (x - p.x) + (y - p.y) * (y - p.y)).squareRoot() }
}

/// A rotated rectangle: centre, side lengths, and the unit vector of the `width` side.
struct RotatedRect {
    var center: Point
    var width: Double
    var height: Double
    var axis: Point

    var corners: [Point] {
        let u = axis * (width / 2), v = Point(x: -axis.y, y: axis.x) * (height / 2)
        return [center - u - v, center + u - v, center + u + v, center - u + v]
    }
}

enum Geometry {
    /// Convex hull (Andrew's monotone chain), counter-clockwise, without collinear points.
    static func convexHull(_ points: [Point]) -> [Point] {
        let p = points.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
        guard p.count > 2 else { return p }
        func cross(_ o: Point, _ a: Point, _ b: Point) -> Double { (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x) }
        var lower: [Point] = [], upper: [Point] = []
        for q in p {
            while lower.count >= 2, cross(lower[lower.count - 2], lower[lower.count - 1], q) <= 0 { lower.removeLast() }
            lower.append(q)
        }
        for q in p.reversed() {
            while upper.count >= 2, cross(upper[upper.count - 2], upper[upper.count - 1], q) <= 0 { upper.removeLast() }
            upper.append(q)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }

    /// The minimum-area enclosing rectangle (rotating calipers over the hull's edges), like OpenCV's
    /// minAreaRect.
    static func minAreaRect(_ points: [Point]) -> RotatedRect {
        let hull = convexHull(points)
        guard hull.count >= 2 else {
            let c = hull.first ?? Point(x: 0, y: 0)
            return RotatedRect(center: c, width: 0, height: 0, axis: Point(x: 1, y: 0))
        }
        var best: RotatedRect?
        var bestArea = Double.infinity
        for i in 0..<hull.count {
            let a = hull[i], b = hull[(i + 1) % hull.count]
            let len = a.distance(to: b)
            guard len > 0 else { continue }
            let u = Point(x: (b.x - a.x) / len, y: (b.y - a.y) / len), v = Point(x: -u.y, y: u.x)
            var minU = Double.infinity, maxU = -Double.infinity, minV = Double.infinity, maxV = -Double.infinity
            for q in hull {
                let du = q.x * u.x + q.y * u.y, dv = q.x * v.x + q.y * v.y
                minU = min(minU, du); maxU = max(maxU, du); minV = min(minV, dv); maxV = max(maxV, dv)
            }
            let area = (maxU - minU) * (maxV - minV)
            if area < bestArea - 1e-9 {
                bestArea = area
                let cu = (minU + maxU) / 2, cv = (minV + maxV) / 2
                best = RotatedRect(center: Point(x: u.x * cu + v.x * cv, y: u.y * cu + v.y * cv),
                                   width: maxU - minU, height: maxV - minV, axis: u)
            }
        }
        return best ?? RotatedRect(center: hull[0], width: 0, height: 0, axis: Point(x: 1, y: 0))
    }

    /// rapidocr's get_mini_boxes order: top-left, top-right, bottom-right, bottom-left (by x, then y).
    static func orderedBox(_ rect: RotatedRect) -> [Point] {
        let p = rect.corners.sorted { $0.x < $1.x }
        let (i1, i4) = p[1].y > p[0].y ? (0, 1) : (1, 0)
        let (i2, i3) = p[3].y > p[2].y ? (2, 3) : (3, 2)
        return [p[i1], p[i2], p[i3], p[i4]]
    }

    static func polygonArea(_ p: [Point]) -> Double {
        var s = 0.0
        for i in p.indices { let a = p[i], b = p[(i + 1) % p.count]; s += a.x * b.y - b.x * a.y }
        return abs(s) / 2
    }

    static func perimeter(_ p: [Point]) -> Double {
        p.indices.reduce(0) { $0 + p[$1].distance(to: p[($1 + 1) % p.count]) }
    }

    /// The homography mapping the unit-free rectangle (0,0)-(w,h) corners to `quad` (tl, tr, br, bl):
    /// returns a function from destination pixel to source position.
    static func perspective(to quad: [Point], width w: Double, height h: Double) -> (Double, Double) -> Point {
        // Solve for H with H * (u, v, 1) ~ (x, y, 1) for the four corner pairs (8x8 system).
        let src = [Point(x: 0, y: 0), Point(x: w, y: 0), Point(x: w, y: h), Point(x: 0, y: h)]
        var a = [[Double]](repeating: [Double](repeating: 0, count: 9), count: 8)
        for i in 0..<4 {
            let (u, v, x, y) = (src[i].x, src[i].y, quad[i].x, quad[i].y)
            a[2 * i] = [u, v, 1, 0, 0, 0, -u * x, -v * x, x]
            a[2 * i + 1] = [0, 0, 0, u, v, 1, -u * y, -v * y, y]
        }
        // Gaussian elimination with partial pivoting.
        for c in 0..<8 {
            var pivot = c
            for r in c..<8 where abs(a[r][c]) > abs(a[pivot][c]) { pivot = r }
            a.swapAt(c, pivot)
            let d = a[c][c]
            guard abs(d) > 1e-12 else { continue }
            for k in c..<9 { a[c][k] /= d }
            for r in 0..<8 where r != c {
                let f = a[r][c]
                if f != 0 { for k in c..<9 { a[r][k] -= f * a[c][k] } }
            }
        }
        let m = (0..<8).map { a[$0][8] }
        return { u, v in
            let z = m[6] * u + m[7] * v + 1
            return Point(x: (m[0] * u + m[1] * v + m[2]) / z, y: (m[3] * u + m[4] * v + m[5]) / z)
        }
    }
}
