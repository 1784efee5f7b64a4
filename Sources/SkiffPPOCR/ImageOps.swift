internal import SkiffImage

/// Pixel operations of the pipeline, on 8-bit RGB: OpenCV-style bilinear resizing, bicubic
/// perspective crops, and the networks' input normalisation.
enum ImageOps {
    /// OpenCV INTER_LINEAR: half-pixel centres, edge pixels repeated, no anti-aliasing.
    static func resize(_ image: PixelBuffer, width: Int, height: Int) -> PixelBuffer {
        let src = image.rgb()
        let sw = src.width, sh = src.height
        if sw == width && sh == height { return src }
        let fx = Double(sw) / Double(width), fy = Double(sh) / Double(height)
        func taps(_ n: Int, _ scale: Double, _ limit: Int) -> [(Int, Int, Float)] {
            (0..<n).map { i in
                var s = (Double(i) + 0.5) * scale - 0.5
                if s < 0 { s = 0 }
                var i0 = Int(s)
                var f = Float(s - Double(i0))
                if i0 >= limit - 1 { i0 = limit - 1; f = 0 }
                return (i0, min(i0 + 1, limit - 1), f)
            }
        }
        let xs = taps(width, fx, sw), ys = taps(height, fy, sh)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        src.pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                var row0 = [Float](repeating: 0, count: width * 3), row1 = row0
                for y in 0..<height {
                    let (y0, y1, fy) = ys[y]
                    for (row, sy) in [(0, y0), (1, y1)] {
                        let base = sy * sw * 3
                        for x in 0..<width {
                            let (x0, x1, f) = xs[x]
                            for c in 0..<3 {
                                let a = Float(p[base + x0 * 3 + c]), b = Float(p[base + x1 * 3 + c])
                                let v = a + (b - a) * f
                                if row == 0 { row0[x * 3 + c] = v } else { row1[x * 3 + c] = v }
                            }
                        }
                    }
                    for i in 0..<(width * 3) {
                        let v = row0[i] + (row1[i] - row0[i]) * fy
                        o[y * width * 3 + i] = UInt8(min(max(v.rounded(), 0), 255))
                    }
                }
            }
        }
        return PixelBuffer(width: width, height: height, layout: .rgb, pixels: out)
    }

    /// Channels-first floats in BGR order (the order the Paddle models were trained on, from
    /// OpenCV), scaled to [-1, 1], written into `out` at row stride `stride` (>= width; the rest
    /// of each row is left as it is).
    static func normalize(_ image: PixelBuffer, into out: UnsafeMutablePointer<Float>, stride: Int) {
        let w = image.width, h = image.height, plane = h * stride
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    let s = (y * w + x) * 3
                    let d = y * stride + x
                    out[d] = Float(p[s + 2]) / 127.5 - 1
                    out[plane + d] = Float(p[s + 1]) / 127.5 - 1
                    out[2 * plane + d] = Float(p[s]) / 127.5 - 1
                }
            }
        }
    }

    /// rapidocr's get_rotate_crop_image: the quad warped to an upright rectangle (OpenCV
    /// warpPerspective, bicubic, replicated border), turned 90° counter-clockwise when it is
    /// at least 1.5 times taller than wide. Returns the crop and whether it was turned.
    static func crop(_ image: PixelBuffer, quad: [Point]) -> (PixelBuffer, rotated: Bool) {
        let w = max(1, Int(max(quad[0].distance(to: quad[1]), quad[2].distance(to: quad[3]))))
        let h = max(1, Int(max(quad[0].distance(to: quad[3]), quad[1].distance(to: quad[2]))))
        let map = Geometry.perspective(to: quad, width: Double(w), height: Double(h))
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
        src.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    let s = map(Double(x), Double(y))
                    let fx = s.x.rounded(.down), fy = s.y.rounded(.down)
                    let ix = Int(fx), iy = Int(fy)
                    let (wx0, wx1, wx2, wx3) = weights(Float(s.x - fx))
                    let (wy0, wy1, wy2, wy3) = weights(Float(s.y - fy))
                    let wx = [wx0, wx1, wx2, wx3], wy = [wy0, wy1, wy2, wy3]
                    for c in 0..<3 {
                        var acc: Float = 0
                        for j in 0..<4 {
                            let yy = min(max(iy - 1 + j, 0), sh - 1)
                            var r: Float = 0
                            for i in 0..<4 {
                                let xx = min(max(ix - 1 + i, 0), sw - 1)
                                r += wx[i] * Float(p[(yy * sw + xx) * 3 + c])
                            }
                            acc += wy[j] * r
                        }
                        out[(y * w + x) * 3 + c] = UInt8(min(max(acc.rounded(), 0), 255))
                    }
                }
            }
        }
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
