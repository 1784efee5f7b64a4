/// How the samples of one pixel are laid out. Every sample is 8 bits.
public enum PixelLayout: String, Sendable, Codable, CaseIterable {
    case gray
    case grayAlpha
    case rgb
    case rgba

    /// Samples per pixel.
    public var channels: Int {
        switch self {
        case .gray: 1
        case .grayAlpha: 2
        case .rgb: 3
        case .rgba: 4
        }
    }

    public var hasAlpha: Bool { self == .grayAlpha || self == .rgba }

    init?(channels: Int) {
        switch channels {
        case 1: self = .gray
        case 2: self = .grayAlpha
        case 3: self = .rgb
        case 4: self = .rgba
        default: return nil
        }
    }
}

/// A page's resolution in dots per inch, as the file states it.
public struct Resolution: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    public init(dpi: Double) {
        self.init(x: dpi, y: dpi)
    }
}

/// An 8-bit image in memory: rows top to bottom, samples interleaved, no padding.
public struct PixelBuffer: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let layout: PixelLayout
    public var pixels: [UInt8]
    /// The resolution the file stated, if any; `nil` means unknown, not 72 dpi.
    public var resolution: Resolution?

    /// Creates a buffer; `pixels.count` must equal `width * height * layout.channels`.
    public init(width: Int, height: Int, layout: PixelLayout, pixels: [UInt8], resolution: Resolution? = nil) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * layout.channels,
                     "pixel count does not match \(width)x\(height) \(layout)")
        self.width = width
        self.height = height
        self.layout = layout
        self.pixels = pixels
        self.resolution = resolution
    }

    /// A buffer filled with one value per sample.
    public init(width: Int, height: Int, layout: PixelLayout, filledWith value: UInt8 = 0, resolution: Resolution? = nil) {
        self.init(width: width, height: height, layout: layout,
                  pixels: [UInt8](repeating: value, count: width * height * layout.channels),
                  resolution: resolution)
    }

    public var bytesPerRow: Int { width * layout.channels }

    /// The samples of the pixel at (x, y).
    public subscript(x: Int, y: Int) -> ArraySlice<UInt8> {
        let start = (y * width + x) * layout.channels
        return pixels[start..<start + layout.channels]
    }
}

extension PixelBuffer {
    /// The image as 8-bit RGB. Gray is replicated; alpha is composited onto
    /// white, which is what a person sees when a transparent scan is shown
    /// on paper (Pillow's `convert("RGB")` drops alpha instead, exposing
    /// whatever colour hides under transparent pixels).
    public func rgb() -> PixelBuffer {
        if layout == .rgb { return self }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let count = width * height
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                switch layout {
                case .gray:
                    for i in 0..<count {
                        let v = src[i]
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    }
                case .grayAlpha:
                    for i in 0..<count {
                        let v = Self.overWhite(src[2 * i], alpha: src[2 * i + 1])
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    }
                case .rgba:
                    for i in 0..<count {
                        let a = src[4 * i + 3]
                        dst[3 * i] = Self.overWhite(src[4 * i], alpha: a)
                        dst[3 * i + 1] = Self.overWhite(src[4 * i + 1], alpha: a)
                        dst[3 * i + 2] = Self.overWhite(src[4 * i + 2], alpha: a)
                    }
                case .rgb:
                    break
                }
            }
        }
        return PixelBuffer(width: width, height: height, layout: .rgb, pixels: out, resolution: resolution)
    }

    /// The image without alpha: gray stays gray, colour becomes RGB; alpha is
    /// composited onto white. OCR engines take this form.
    public func opaque() -> PixelBuffer {
        switch layout {
        case .gray, .rgb:
            return self
        case .rgba:
            return rgb()
        case .grayAlpha:
            var out = [UInt8](repeating: 0, count: width * height)
            pixels.withUnsafeBufferPointer { src in
                for i in 0..<out.count { out[i] = Self.overWhite(src[2 * i], alpha: src[2 * i + 1]) }
            }
            return PixelBuffer(width: width, height: height, layout: .gray, pixels: out, resolution: resolution)
        }
    }

    /// A copy of the rectangle at (x, y) of the given size, which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> PixelBuffer {
        precondition(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= width && y + h <= height,
                     "crop rectangle outside the image")
        let c = layout.channels
        var out = [UInt8](repeating: 0, count: w * h * c)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let from = ((y + row) * width + x) * c
                    let to = row * w * c
                    for i in 0..<(w * c) { dst[to + i] = src[from + i] }
                }
            }
        }
        return PixelBuffer(width: w, height: h, layout: layout, pixels: out, resolution: resolution)
    }

    @inline(__always)
    static func overWhite(_ value: UInt8, alpha: UInt8) -> UInt8 {
        // value*a/255 + 255*(255-a)/255, rounded.
        let a = Int(alpha)
        let v = Int(value) * a + 255 * (255 - a)
        return UInt8((v + 127) / 255)
    }
}
