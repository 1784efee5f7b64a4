internal import SkiffImage

/// Pixel operations of the pipeline, on 8-bit RGB: OpenCV's bilinear resizing and bicubic
/// perspective crops, and the networks' input normalisation, as rapidocr (opencv-python 5.1,
/// numpy) computes them. One grey level off here moves the recogniser's output enough to add or
/// drop a space, so these follow OpenCV's arithmetic, not just its formulas.
enum ImageOps {
    /// OpenCV's INTER_LINEAR on 8-bit images, bit for bit: half-pixel centres, edge pixels
    /// repeated, weights in 11-bit fixed point, and the vertical pass as OpenCV's SIMD code does
    /// it (each row product's high half, then a rounding shift by 2), which rounds differently
    /// from its scalar code.
    /// `threads` > 1 splits the output rows into bands, one per thread (the page resize before
    /// detection); each band computes its own rows, so the pixels do not depend on the split.
    static func resize(_ image: PixelBuffer, width: Int, height: Int, threads: Int = 1) -> PixelBuffer {
        let src = image.rgb()
        let sw = src.width, sh = src.height
        if sw == width && sh == height { return src }
        let xs = linearTaps(width, source: sw, clampFraction: true)
        let ys = linearTaps(height, source: sh, clampFraction: false)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let bands = max(1, min(threads, height / 64))
        src.pixels.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
            guard let source = p.baseAddress, let target = o.baseAddress else { return }
            parallelFor(bands, threads: bands) { band in
                resizeRows((height * band / bands)..<(height * (band + 1) / bands), source: source, sw: sw, sh: sh,
                           xs: xs, ys: ys, width: width, into: target)
            }
        } }
        return PixelBuffer(width: width, height: height, layout: .rgb, pixels: out)
    }

    /// Output rows `band` of `resize`.
    private static func resizeRows(_ band: Range<Int>, source p: UnsafePointer<UInt8>, sw: Int, sh: Int,
                                   xs: [(Int, Int32, Int32)], ys: [(Int, Int32, Int32)], width: Int,
                                   into o: UnsafeMutablePointer<UInt8>) {
        let rowLength = width * 3
        // Horizontally interpolated source rows (value × 2048), two at a time: output rows walk
        // down the source monotonically.
        var rows: [(y: Int, values: [Int32])] = []
        func row(_ y: Int) -> [Int32] {
            if let hit = rows.first(where: { $0.y == y }) { return hit.values }
            var r = [Int32](repeating: 0, count: rowLength)
            let base = y * sw * 3
            for x in 0..<width {
                let (s, a0, a1) = xs[x]
                let s1 = min(s + 1, sw - 1)
                for c in 0..<3 {
                    r[x * 3 + c] = Int32(p[base + s * 3 + c]) * a0 + Int32(p[base + s1 * 3 + c]) * a1
                }
            }
            rows.append((y, r))
            if rows.count > 2 { rows.removeFirst() }
            return r
        }
        for y in band {
            let (s, b0, b1) = ys[y]
            let r0 = row(min(max(s, 0), sh - 1)), r1 = row(min(max(s + 1, 0), sh - 1))
            let base = y * rowLength
            for i in 0..<rowLength {
                let v = (((r0[i] >> 4) * b0) >> 16) + (((r1[i] >> 4) * b1) >> 16)
                o[base + i] = UInt8(clamping: (v + 2) >> 2)
            }
        }
    }

    /// Source index and the two fixed-point weights of each output position along one axis.
    /// OpenCV scales by 1 / (dst / src), computes the position in double and continues in float;
    /// along y it clamps the rows later but keeps the fraction.
    static func linearTaps(_ n: Int, source: Int, clampFraction: Bool) -> [(Int, Int32, Int32)] {
        let scale = 1.0 / (Double(n) / Double(source))
        return (0..<n).map { d in
            var f = Float((Double(d) + 0.5) * scale - 0.5)
            var s = Int(f.rounded(.down))
            f -= Float(s)
            if clampFraction {
                if s < 0 { s = 0; f = 0 }
                if s >= source - 1 { s = source - 1; f = 0 }
            }
            return (s, Int32(((1 - f) * 2048).rounded(.toNearestOrEven)), Int32((f * 2048).rounded(.toNearestOrEven)))
        }
    }

    /// How a network's input is scaled to [-1, 1], in rapidocr's float arithmetic.
    enum Scaling: Sendable {
        /// Detection: (x · float32(1/255) − 0.5) / 0.5 in double (numpy promotes to the float64
        /// mean), stored as float32.
        case detection
        /// Recognition: x / 255, − 0.5, / 0.5, all in float32.
        case recognition

        var table: [Float] {
            (0..<256).map { v in
                switch self {
                case .detection: Float((Double(Float(v) * Float(1.0 / 255.0)) - 0.5) / 0.5)
                case .recognition: (Float(v) / 255 - 0.5) / 0.5
                }
            }
        }
    }

    /// Channels-first floats in BGR order (the order the Paddle models were trained on, from
    /// OpenCV), scaled to [-1, 1], written into `out` at row stride `stride` (>= width; the rest
    /// of each row is left as it is).
    /// `threads` > 1 splits the rows into bands, one per thread.
    static func normalize(_ image: PixelBuffer, into out: UnsafeMutablePointer<Float>, stride: Int,
                          scaling: Scaling, threads: Int = 1) {
        let w = image.width, h = image.height, plane = h * stride
        let table = scaling.table
        let bands = max(1, min(threads, h / 64))
        image.pixels.withUnsafeBufferPointer { pixels in
            guard let p = pixels.baseAddress else { return }
            parallelFor(bands, threads: bands) { band in
                for y in (h * band / bands)..<(h * (band + 1) / bands) {
                    for x in 0..<w {
                        let s = (y * w + x) * 3
                        let d = y * stride + x
                        out[d] = table[Int(p[s + 2])]
                        out[plane + d] = table[Int(p[s + 1])]
                        out[2 * plane + d] = table[Int(p[s])]
                    }
                }
            }
        }
    }

    /// The crop size rapidocr takes for a quad: the longer of each pair of opposite sides,
    /// truncated. Its corners are float32 and np.linalg.norm of a float32 vector is float32.
    static func cropSize(_ quad: [Point]) -> (width: Int, height: Int) {
        func length(_ a: Point, _ b: Point) -> Float {
            let dx = Float(a.x) - Float(b.x), dy = Float(a.y) - Float(b.y)
            return (dx * dx + dy * dy).squareRoot()
        }
        return (max(1, Int(max(length(quad[0], quad[1]), length(quad[2], quad[3])))),
                max(1, Int(max(length(quad[0], quad[3]), length(quad[1], quad[2])))))
    }

    /// rapidocr's get_rotate_crop_image: the quad warped to an upright rectangle (OpenCV
    /// warpPerspective, bicubic, replicated border), turned 90° counter-clockwise when it is
    /// at least 1.5 times taller than wide. Returns the crop and whether it was turned.
    /// OpenCV 5 interpolates bicubically at the exact source position in float (4.x quantised it
    /// to 1/32 pixel with integer weights); this agrees with opencv-python 5.1 on all but a few
    /// values in 10,000, by one grey level (float sums in another order).
    static func crop(_ image: PixelBuffer, quad: [Point]) -> (PixelBuffer, rotated: Bool) {
        let (w, h) = cropSize(quad)
        let m = Geometry.warpMatrix(from: quad, width: w, height: h)
        let src = image.rgb()
        let sw = src.width, sh = src.height
        var out = [UInt8](repeating: 0, count: w * h * 3)
        // OpenCV's bicubic weights (A = -0.75).
        func weights(_ t: Float) -> (Float, Float, Float, Float) {
            let a: Float = -0.75
            let w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
            let w1 = ((a + 2) * t - (a + 3)) * t * t + 1
            let w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
            return (w0, w1, w2, 1 - w0 - w1 - w2)
        }
        // Per pixel: the source taps' offsets once for the three channels, weights in tuples
        // (no arrays), unchecked pointers; the sums run in the same order as before.
        let (m0, m1, m2, m3, m4, m5, m6, m7, m8) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])
        src.pixels.withUnsafeBufferPointer { source in out.withUnsafeMutableBufferPointer { target in
            guard let p = source.baseAddress, let o = target.baseAddress else { return }
            @inline(__always) func row(_ i: Int) -> Int { min(max(i, 0), sh - 1) * sw * 3 }
            @inline(__always) func column(_ i: Int) -> Int { min(max(i, 0), sw - 1) * 3 }
            @inline(__always) func tap(_ r: Int, _ x: (Int, Int, Int, Int), _ wx: (Float, Float, Float, Float), _ c: Int) -> Float {
                var s: Float = 0
                s += wx.0 * Float(p[r + x.0 + c])
                s += wx.1 * Float(p[r + x.1 + c])
                s += wx.2 * Float(p[r + x.2 + c])
                s += wx.3 * Float(p[r + x.3 + c])
                return s
            }
            for y in 0..<h {
                for x in 0..<w {
                    let (u, v) = (Double(x), Double(y))
                    let z = m6 * u + m7 * v + m8
                    let sx = (m0 * u + m1 * v + m2) / z, sy = (m3 * u + m4 * v + m5) / z
                    let fx = sx.rounded(.down), fy = sy.rounded(.down)
                    let ix = Int(fx), iy = Int(fy)
                    let wx = weights(Float(sx - fx)), wy = weights(Float(sy - fy))
                    let xs = (column(ix - 1), column(ix), column(ix + 1), column(ix + 2))
                    let ys = (row(iy - 1), row(iy), row(iy + 1), row(iy + 2))
                    for c in 0..<3 {
                        var acc: Float = 0
                        acc += wy.0 * tap(ys.0, xs, wx, c)
                        acc += wy.1 * tap(ys.1, xs, wx, c)
                        acc += wy.2 * tap(ys.2, xs, wx, c)
                        acc += wy.3 * tap(ys.3, xs, wx, c)
                        o[(y * w + x) * 3 + c] = UInt8(min(max(acc.rounded(.toNearestOrEven), 0), 255))
                    }
                }
            }
        } }
        let crop = PixelBuffer(width: w, height: h, layout: .rgb, pixels: out)
        if Double(h) / Double(w) >= 1.5 { return (rotateCounterClockwise(crop), true) }
        return (crop, false)
    }

    /// np.rot90: 90° counter-clockwise.
    static func rotateCounterClockwise(_ image: PixelBuffer) -> PixelBuffer {
        let w = image.width, h = image.height
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                // new (row = w - 1 - x, col = y)
                let d = ((w - 1 - x) * h + y) * 3, s = (y * w + x) * 3
                out[d] = image.pixels[s]; out[d + 1] = image.pixels[s + 1]; out[d + 2] = image.pixels[s + 2]
            }
        }
        return PixelBuffer(width: h, height: w, layout: .rgb, pixels: out)
    }
}
