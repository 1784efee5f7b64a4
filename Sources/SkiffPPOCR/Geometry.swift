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

    /// The matrix OpenCV's warpPerspective samples the page with for rapidocr's crop: crop pixel
    /// (u, v, 1) maps to page (m0 u + m1 v + m2, m3 u + m4 v + m5) / (m6 u + m7 v + m8). Computed
    /// as OpenCV does, so positions agree to the last bit: getPerspectiveTransform from the
    /// float32 corners to the crop rectangle (its 8x8 system by LU with partial pivoting, the
    /// corner products in float32), then `invert`'s cofactor formula for 3x3.
    static func warpMatrix(from quad: [Point], width: Int, height: Int) -> [Double] {
        let src = quad.map { (Float($0.x), Float($0.y)) }
        let dst: [(Float, Float)] = [(0, 0), (Float(width), 0), (Float(width), Float(height)), (0, Float(height))]
        var a = [[Double]](repeating: [Double](repeating: 0, count: 8), count: 8)
        var b = [Double](repeating: 0, count: 8)
        for i in 0..<4 {
            let (sx, sy) = src[i], (dx, dy) = dst[i]
            a[i][0] = Double(sx); a[i + 4][3] = Double(sx)
            a[i][1] = Double(sy); a[i + 4][4] = Double(sy)
            a[i][2] = 1; a[i + 4][5] = 1
            a[i][6] = Double(-sx * dx); a[i][7] = Double(-sy * dx)
            a[i + 4][6] = Double(-sx * dy); a[i + 4][7] = Double(-sy * dy)
            b[i] = Double(dx); b[i + 4] = Double(dy)
        }
        for i in 0..<8 {
            var k = i
            for j in (i + 1)..<8 where abs(a[j][i]) > abs(a[k][i]) { k = j }
            // A degenerate quad (no area): OpenCV returns a zero matrix; sample the first corner.
            guard abs(a[k][i]) >= Double.ulpOfOne * 100 else {
                return [0, 0, quad[0].x, 0, 0, quad[0].y, 0, 0, 1]
            }
            if k != i { a.swapAt(i, k); b.swapAt(i, k) }
            let d = -1 / a[i][i]
            for j in (i + 1)..<8 {
                let alpha = a[j][i] * d
                for c in (i + 1)..<8 { a[j][c] += alpha * a[i][c] }
                b[j] += alpha * b[i]
            }
        }
        for i in stride(from: 7, through: 0, by: -1) {
            var s = b[i]
            for c in (i + 1)..<8 { s -= a[i][c] * b[c] }
            b[i] = s / a[i][i]
        }
        let m = b + [1]
        func at(_ r: Int, _ c: Int) -> Double { m[r * 3 + c] }
        let det = at(0, 0) * (at(1, 1) * at(2, 2) - at(1, 2) * at(2, 1))
            - at(0, 1) * (at(1, 0) * at(2, 2) - at(1, 2) * at(2, 0))
            + at(0, 2) * (at(1, 0) * at(2, 1) - at(1, 1) * at(2, 0))
        guard det != 0 else { return [0, 0, quad[0].x, 0, 0, quad[0].y, 0, 0, 1] }
        let d = 1 / det
        return [(at(1, 1) * at(2, 2) - at(1, 2) * at(2, 1)) * d, (at(0, 2) * at(2, 1) - at(0, 1) * at(2, 2)) * d,
                (at(0, 1) * at(1, 2) - at(0, 2) * at(1, 1)) * d, (at(1, 2) * at(2, 0) - at(1, 0) * at(2, 2)) * d,
                (at(0, 0) * at(2, 2) - at(0, 2) * at(2, 0)) * d, (at(0, 2) * at(1, 0) - at(0, 0) * at(1, 2)) * d,
                (at(1, 0) * at(2, 1) - at(1, 1) * at(2, 0)) * d, (at(0, 1) * at(2, 0) - at(0, 0) * at(2, 1)) * d,
                (at(0, 0) * at(1, 1) - at(0, 1) * at(1, 0)) * d]
    }
}
