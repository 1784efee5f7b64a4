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
    static func clip8(_ value: Int) -> UInt8 {
        let v = value >> precisionBits
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(v))
    }

    /// Resizes to `width` x `height`. Returns the image unchanged when the size already matches.
    public static func resize(_ image: PixelBuffer, width: Int, height: Int) -> PixelBuffer {
        precondition(width > 0 && height > 0, "target size must be positive")
        if image.width == width && image.height == height { return image }
        let channels = image.layout.channels
        var current = image.pixels
        var currentWidth = image.width
        var currentHeight = image.height
        let vertical = coefficients(inSize: image.height, outSize: height)

        if width != image.width {
            // Only the input rows the vertical pass will read.
            let firstRow = vertical.bounds.first.map { $0.start } ?? 0
            let lastRow = vertical.bounds.last.map { $0.start + $0.count } ?? image.height
            let rows = height != image.height ? lastRow - firstRow : image.height
            let rowOffset = height != image.height ? firstRow : 0
            let horizontal = coefficients(inSize: image.width, outSize: width)
            var out = [UInt8](repeating: 0, count: width * rows * channels)
            let half = 1 << (precisionBits - 1)
            current.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    horizontal.weights.withUnsafeBufferPointer { weights in
                        for y in 0..<rows {
                            let srcRow = (y + rowOffset) * currentWidth * channels
                            let dstRow = y * width * channels
                            for x in 0..<width {
                                let (start, count) = horizontal.bounds[x]
                                let kernel = x * horizontal.kernelSize
                                for c in 0..<channels {
                                    var acc = half
                                    var p = srcRow + start * channels + c
                                    for i in 0..<count {
                                        acc += Int(src[p]) * Int(weights[kernel + i])
                                        p += channels
                                    }
                                    dst[dstRow + x * channels + c] = clip8(acc)
                                }
                            }
                        }
                    }
                }
            }
            current = out
            currentWidth = width
            currentHeight = rows
            if height != image.height {
                // Shift the vertical bounds into the cropped band.
                var shifted = vertical
                shifted.bounds = vertical.bounds.map { ($0.start - firstRow, $0.count) }
                return verticalPass(current, width: currentWidth, channels: channels, coefficients: shifted,
                                    height: height, layout: image.layout, resolution: image.resolution)
            }
            _ = currentHeight
            return PixelBuffer(width: width, height: height, layout: image.layout, pixels: current,
                               resolution: image.resolution)
        }
        return verticalPass(current, width: currentWidth, channels: channels, coefficients: vertical,
                            height: height, layout: image.layout, resolution: image.resolution)
    }

    static func verticalPass(_ pixels: [UInt8], width: Int, channels: Int, coefficients: Coefficients,
                             height: Int, layout: PixelLayout, resolution: Resolution?) -> PixelBuffer {
        let stride = width * channels
        var out = [UInt8](repeating: 0, count: stride * height)
        let half = 1 << (precisionBits - 1)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                coefficients.weights.withUnsafeBufferPointer { weights in
                    var acc = [Int](repeating: 0, count: stride)
                    for y in 0..<height {
                        let (start, count) = coefficients.bounds[y]
                        let kernel = y * coefficients.kernelSize
                        for i in 0..<stride { acc[i] = half }
                        for k in 0..<count {
                            let w = Int(weights[kernel + k])
                            let row = (start + k) * stride
                            for i in 0..<stride { acc[i] += Int(src[row + i]) * w }
                        }
                        let dstRow = y * stride
                        for i in 0..<stride { dst[dstRow + i] = clip8(acc[i]) }
                    }
                }
            }
        }
        return PixelBuffer(width: width, height: height, layout: layout, pixels: out, resolution: resolution)
    }
}
