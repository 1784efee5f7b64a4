import Foundation

/// One image step before OCR. Each is measured on its own in `skiff eval --preprocess` (README).
public enum PreprocessStep: String, Sendable, CaseIterable, Codable {
    /// Bicubic upscaling of pages stated (or assumed) below 300 DPI to about 300 DPI (at most 2.5x).
    case upscale
    /// Gray, with the 1st-99th percentile of luminance stretched to black-white (faint thermal prints).
    case contrast
    /// Sauvola's local threshold (window ≈ 1/15 inch, k = 0.2): black text on white even under uneven light.
    case binarize
    /// Rotation by the angle (within ±4°, 0.25° steps) that makes text rows sharpest in the
    /// horizontal projection profile.
    case deskew
}

/// What preprocessing did to a page, so that boxes found on the processed image can be
/// mapped back to the original page's pixels.
public struct PageTransform: Sendable, Equatable {
    /// Processed pixels per original pixel.
    public var scale: Double = 1
    /// Rotation applied around the centre of the (scaled) page, in degrees, counter-clockwise.
    public var degrees: Double = 0
    /// Size of the processed image.
    public var width: Int, height: Int
    public var originalWidth: Int, originalHeight: Int

    public var isIdentity: Bool { scale == 1 && degrees == 0 }

    /// The box `(x0, y0, x1, y1)` of the processed image in original page pixels (the bounding
    /// box of its rotated corners, clamped to the page).
    public func original(x0: Int, y0: Int, x1: Int, y1: Int) -> (Int, Int, Int, Int) {
        if isIdentity { return (x0, y0, x1, y1) }
        let a = degrees * .pi / 180, c = cos(a), s = sin(a)
        let cx = Double(width) / 2, cy = Double(height) / 2
        var xs: [Double] = [], ys: [Double] = []
        for (x, y) in [(x0, y0), (x1, y0), (x0, y1), (x1, y1)] {
            // Undo the rotation (processed → scaled), then the scale.
            let dx = Double(x) - cx, dy = Double(y) - cy
            xs.append((c * dx - s * dy + cx) / scale)
            ys.append((s * dx + c * dy + cy) / scale)
        }
        func clamp(_ v: Double, _ limit: Int) -> Int { min(max(0, Int(v.rounded())), max(0, limit - 1)) }
        return (clamp(xs.min()!, originalWidth), clamp(ys.min()!, originalHeight),
                clamp(xs.max()!, originalWidth), clamp(ys.max()!, originalHeight))
    }
}

/// Applies preprocessing steps, always in the order upscale → contrast → binarize → deskew.
public enum PagePreprocessor {
    public static func apply(_ steps: Set<PreprocessStep>, to image: PixelBuffer,
                             assumedDPI: Int? = 300) -> (PixelBuffer, PageTransform) {
        var transform = PageTransform(width: image.width, height: image.height, originalWidth: image.width,
                                      originalHeight: image.height)
        guard !steps.isEmpty else { return (image, transform) }
        var page = image.opaque()
        if steps.contains(.upscale) {
            let dpi = image.resolution.map { ($0.x + $0.y) / 2 } ?? assumedDPI.map(Double.init) ?? 300
            let factor = dpi > 0 && dpi < 280 ? min(2.5, 300 / dpi) : 1
            if factor > 1.05 {
                page = BicubicResampler.resize(page, width: Int((Double(page.width) * factor).rounded()),
                                               height: Int((Double(page.height) * factor).rounded()))
                transform.scale = Double(page.width) / Double(image.width)
            }
            page.resolution = Resolution(dpi: (dpi * transform.scale).rounded())
        }
        let dpi = page.resolution.map { ($0.x + $0.y) / 2 } ?? Double(assumedDPI ?? 300)
        if steps.contains(.contrast) || steps.contains(.binarize) || steps.contains(.deskew) { page = gray(page) }
        if steps.contains(.contrast) { page = stretch(page) }
        if steps.contains(.binarize) { page = sauvola(page, window: max(15, Int(dpi / 15) | 1)) }
        if steps.contains(.deskew) {
            let angle = skewAngle(page)
            if angle != 0 {
                page = rotate(page, degrees: angle)
                transform.degrees = angle
            }
        }
        transform.width = page.width
        transform.height = page.height
        return (page, transform)
    }

    /// Luminance (BT.601) as one gray channel.
    static func gray(_ image: PixelBuffer) -> PixelBuffer {
        if image.layout == .gray { return image }
        let rgb = image.rgb()
        var out = [UInt8](repeating: 0, count: image.width * image.height)
        rgb.pixels.withUnsafeBufferPointer { p in
            for i in out.indices {
                let r = Int(p[3 * i]), g = Int(p[3 * i + 1]), b = Int(p[3 * i + 2])
                out[i] = UInt8((299 * r + 587 * g + 114 * b + 500) / 1000)
            }
        }
        return PixelBuffer(width: image.width, height: image.height, layout: .gray, pixels: out, resolution: image.resolution)
    }

    /// Maps the 1st percentile of luminance to 0 and the 99th to 255.
    static func stretch(_ image: PixelBuffer) -> PixelBuffer {
        var histogram = [Int](repeating: 0, count: 256)
        for v in image.pixels { histogram[Int(v)] += 1 }
        let n = image.pixels.count
        var low = 0, high = 255, seen = 0
        for v in 0..<256 { seen += histogram[v]; if seen >= n / 100 { low = v; break } }
        seen = 0
        for v in (0..<256).reversed() { seen += histogram[v]; if seen >= n / 100 { high = v; break } }
        guard high - low >= 8 else { return image }
        var table = [UInt8](repeating: 0, count: 256)
        for v in 0..<256 { table[v] = UInt8(min(255, max(0, (v - low) * 255 / (high - low)))) }
        var out = image
        out.pixels = image.pixels.map { table[Int($0)] }
        return out
    }

    /// Sauvola: a pixel is ink when darker than mean · (1 + k (sd / 128 − 1)) over its window.
    static func sauvola(_ image: PixelBuffer, window: Int, k: Double = 0.2) -> PixelBuffer {
        let w = image.width, h = image.height
        var sum = [Double](repeating: 0, count: (w + 1) * (h + 1))
        var squares = sum
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                var row = 0.0, rowSquares = 0.0
                for x in 0..<w {
                    let v = Double(p[y * w + x])
                    row += v
                    rowSquares += v * v
                    sum[(y + 1) * (w + 1) + x + 1] = sum[y * (w + 1) + x + 1] + row
                    squares[(y + 1) * (w + 1) + x + 1] = squares[y * (w + 1) + x + 1] + rowSquares
                }
            }
        }
        let r = window / 2
        var out = [UInt8](repeating: 255, count: w * h)
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                let y0 = max(0, y - r), y1 = min(h, y + r + 1)
                for x in 0..<w {
                    let x0 = max(0, x - r), x1 = min(w, x + r + 1)
                    let count = Double((y1 - y0) * (x1 - x0))
                    let s = sum[y1 * (w + 1) + x1] - sum[y0 * (w + 1) + x1] - sum[y1 * (w + 1) + x0] + sum[y0 * (w + 1) + x0]
                    let q = squares[y1 * (w + 1) + x1] - squares[y0 * (w + 1) + x1] - squares[y1 * (w + 1) + x0]
                        + squares[y0 * (w + 1) + x0]
                    let mean = s / count
                    let sd = (max(0, q / count - mean * mean)).squareRoot()
                    if Double(p[y * w + x]) <= mean * (1 + k * (sd / 128 - 1)) { out[y * w + x] = 0 }
                }
            }
        }
        return PixelBuffer(width: w, height: h, layout: .gray, pixels: out, resolution: image.resolution)
    }

    /// The angle whose rotation gives the largest variance of row ink counts, on a copy
    /// reduced to at most 800 px wide (text rows are sharpest when level).
    static func skewAngle(_ image: PixelBuffer) -> Double {
        let factor = max(1, image.width / 800)
        let small = factor > 1 ? BicubicResampler.resize(image, width: image.width / factor, height: image.height / factor) : image
        let w = small.width, h = small.height
        var mean = 0
        for v in small.pixels { mean += Int(v) }
        let threshold = UInt8(min(255, mean / max(1, small.pixels.count) * 3 / 4))
        var ink: [(Int, Int)] = []
        for y in 0..<h { for x in 0..<w where small.pixels[y * w + x] < threshold { ink.append((x, y)) } }
        guard ink.count > 100 else { return 0 }
        func score(_ degrees: Double) -> Double {
            let a = degrees * .pi / 180, s = sin(a), c = cos(a)
            var rows = [Int](repeating: 0, count: 2 * (w + h))
            for (x, y) in ink {
                let row = Int(Double(y) * c - Double(x) * s) + w + h / 2
                if row >= 0 && row < rows.count { rows[row] += 1 }
            }
            let m = Double(ink.count) / Double(rows.count)
            return rows.reduce(0) { $0 + (Double($1) - m) * (Double($1) - m) }
        }
        var best = 0.0, bestScore = score(0)
        for step in -16...16 where step != 0 {
            let d = Double(step) * 0.25
            let sc = score(d)
            if sc > bestScore * 1.02 && sc > bestScore { best = d; bestScore = sc }
        }
        return best
    }

    /// Rotation about the centre (bilinear, white outside), same size; `degrees` undoes a skew
    /// of that angle.
    static func rotate(_ image: PixelBuffer, degrees: Double) -> PixelBuffer {
        let w = image.width, h = image.height
        let a = degrees * .pi / 180, c = cos(a), s = sin(a)
        let cx = Double(w) / 2, cy = Double(h) / 2
        var out = [UInt8](repeating: 255, count: w * h)
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    // Source of output (x, y): rotate back.
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    let sx = c * dx - s * dy + cx, sy = s * dx + c * dy + cy
                    let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                    guard x0 >= 0, y0 >= 0, x0 + 1 < w, y0 + 1 < h else { continue }
                    let fx = sx - Double(x0), fy = sy - Double(y0)
                    let v = (1 - fy) * ((1 - fx) * Double(p[y0 * w + x0]) + fx * Double(p[y0 * w + x0 + 1]))
                        + fy * ((1 - fx) * Double(p[(y0 + 1) * w + x0]) + fx * Double(p[(y0 + 1) * w + x0 + 1]))
                    out[y * w + x] = UInt8(min(255, max(0, v.rounded())))
                }
            }
        }
        return PixelBuffer(width: w, height: h, layout: .gray, pixels: out, resolution: image.resolution)
    }
}
