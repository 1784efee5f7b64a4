/// Bicubic resampling that reproduces Pillow's `Image.resize(size, BICUBIC)`.
///
/// InternVL2 and H2OVL-Mississippi were trained on tiles that Pillow resized,
/// so Skiff uses the same filter (Keys cubic, a = -0.5, widened by the scale
/// factor when shrinking), the same fixed-point coefficients (22 fractional
/// bits) and the same order (horizontal pass, clip to 8 bits, vertical pass).
/// Each channel is filtered independently.
public enum BicubicResampler {
    static let precisionBits = 22

    struct Coefficients {
        var bounds: [(start: Int, count: Int)]
        var weights: [Int32]  // outSize * kernelSize, fixed point
        var kernelSize: Int
    }

    static func cubic(_ value: Double) -> Double {
        let a = -0.5
        let x = abs(value)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2 * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        bounds.reserveCapacity(outSize)
        var weights = [Int32](repeating: 0, count: outSize * kernelSize)
        var k = [Double](repeating: 0, count: kernelSize)
        let one = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var total = 0.0
            for x in 0..<max(xmax, 0) {
                let w = cubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                total += w
            }
            for x in 0..<kernelSize {
                var w = x < xmax ? k[x] : 0
                if x < xmax && total != 0 { w /= total }
                weights[xx * kernelSize + x] = Int32(w < 0 ? Int(-0.5 + w * one) : Int(0.5 + w * one))
            }
            bounds.append((xmin, max(xmax, 0)))
        }
        return Coefficients(bounds: bounds, weights: weights, kernelSize: kernelSize)
    }

    @inline(__always)
    static func clip8(_ value: Int32) -> UInt8 {
        let v = value >> Int32(precisionBits)
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(truncatingIfNeeded: v))
    }

    /// Resizes to `width` x `height`. Returns the image unchanged when the size already matches.
    public static func resize(_ image: PixelBuffer, width: Int, height: Int) -> PixelBuffer {
        precondition(width > 0 && height > 0, "target size must be positive")
        if image.width == width && image.height == height { return image }
        let channels = image.layout.channels
        var vertical = coefficients(inSize: image.height, outSize: height)
        guard width != image.width else {
            let pixels = verticalPass(image.pixels, width: image.width, channels: channels, coefficients: vertical,
                                      height: height)
            return PixelBuffer(width: width, height: height, layout: image.layout, pixels: pixels,
                               resolution: image.resolution)
        }
        // Horizontal pass first, over only the input rows the vertical pass will read.
        let needsVertical = height != image.height
        let firstRow = needsVertical ? (vertical.bounds.first?.start ?? 0) : 0
        let lastRow = needsVertical ? (vertical.bounds.last.map { $0.start + $0.count } ?? image.height) : image.height
        let band = horizontalPass(image.pixels, width: image.width, channels: channels,
                                  coefficients: coefficients(inSize: image.width, outSize: width),
                                  outWidth: width, rows: firstRow..<lastRow)
        guard needsVertical else {
            return PixelBuffer(width: width, height: height, layout: image.layout, pixels: band,
                               resolution: image.resolution)
        }
        vertical.bounds = vertical.bounds.map { ($0.start - firstRow, $0.count) }
        let pixels = verticalPass(band, width: width, channels: channels, coefficients: vertical, height: height)
        return PixelBuffer(width: width, height: height, layout: image.layout, pixels: pixels,
                           resolution: image.resolution)
    }

    // The passes use Int32 with wrapping arithmetic, as Pillow does (the sums
    // provably fit: 255 * 2^22 * the kernel's absolute weight sum < 2^31), so
    // the compiler can vectorise the inner loops.
    static func horizontalPass(_ pixels: [UInt8], width inWidth: Int, channels: Int, coefficients: Coefficients,
                               outWidth: Int, rows: Range<Int>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * channels)
        let half = Int32(1 << (precisionBits - 1))
        let kernelSize = coefficients.kernelSize
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                coefficients.weights.withUnsafeBufferPointer { weights in
                    for (y, sourceRow) in rows.enumerated() {
                        let srcRow = sourceRow * inWidth * channels
                        let dstRow = y * outWidth * channels
                        for x in 0..<outWidth {
                            let (start, count) = coefficients.bounds[x]
                            let kernel = x * kernelSize
                            var p = srcRow + start * channels
                            if channels == 3 {
                                var r = half, g = half, b = half
                                for i in 0..<count {
                                    let w = weights[kernel + i]
                                    r = r &+ Int32(src[p]) &* w
                                    g = g &+ Int32(src[p + 1]) &* w
                                    b = b &+ Int32(src[p + 2]) &* w
                                    p += 3
                                }
                                let o = dstRow + x * 3
                                dst[o] = clip8(r)
                                dst[o + 1] = clip8(g)
                                dst[o + 2] = clip8(b)
                            } else {
                                for c in 0..<channels {
                                    var acc = half
                                    var q = p + c
                                    for i in 0..<count {
                                        acc = acc &+ Int32(src[q]) &* weights[kernel + i]
                                        q += channels
                                    }
                                    dst[dstRow + x * channels + c] = clip8(acc)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static func verticalPass(_ pixels: [UInt8], width: Int, channels: Int, coefficients: Coefficients,
                             height: Int) -> [UInt8] {
        let stride = width * channels
        var out = [UInt8](repeating: 0, count: stride * height)
        let half = Int32(1 << (precisionBits - 1))
        var acc = [Int32](repeating: 0, count: stride)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                acc.withUnsafeMutableBufferPointer { acc in
                    coefficients.weights.withUnsafeBufferPointer { weights in
                        for y in 0..<height {
                            let (start, count) = coefficients.bounds[y]
                            let kernel = y * coefficients.kernelSize
                            for i in 0..<stride { acc[i] = half }
                            for k in 0..<count {
                                let w = weights[kernel + k]
                                let row = (start + k) * stride
                                for i in 0..<stride { acc[i] = acc[i] &+ Int32(src[row + i]) &* w }
                            }
                            let dstRow = y * stride
                            for i in 0..<stride { dst[dstRow + i] = clip8(acc[i]) }
                        }
                    }
                }
            }
        }
        return out
    }
}
