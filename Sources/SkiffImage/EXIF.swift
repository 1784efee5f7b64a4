/// The few EXIF facts a page decoder needs: orientation and resolution.
///
/// Written by hand because no Linux Swift package parses EXIF; it reads only
/// IFD0 and checks every offset against the buffer, so a malformed block is
/// ignored rather than read out of bounds.
struct EXIF {
    var orientation: Int?
    var resolution: Resolution?

    /// `tiff` is the APP1 payload after the "Exif\0\0" prefix: a TIFF header and IFDs.
    init(tiff bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count >= 8 else { return }
        let little: Bool
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= bytes.count else { return nil }
            let a = Int(bytes[at]), b = Int(bytes[at + 1])
            return little ? a | b << 8 : a << 8 | b
        }
        func u32(_ at: Int) -> Int? {
            guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return }
        var xResolution: Double?, yResolution: Double?, unit = 2
        func rational(_ entry: Int) -> Double? {
            guard let offset = u32(entry + 8), let num = u32(offset), let den = u32(offset + 4), den != 0 else { return nil }
            return Double(num) / Double(den)
        }
        for index in 0..<min(count, 512) {
            let entry = ifd + 2 + index * 12
            guard let tag = u16(entry), let type = u16(entry + 2) else { break }
            switch (tag, type) {
            case (0x0112, 3):
                if let value = u16(entry + 8), (1...8).contains(value) { orientation = value }
            case (0x011A, 5):
                xResolution = rational(entry)
            case (0x011B, 5):
                yResolution = rational(entry)
            case (0x0128, 3):
                unit = u16(entry + 8) ?? 2
            default:
                break
            }
        }
        if let x = xResolution, let y = yResolution, x > 0, y > 0 {
            switch unit {
            case 2: resolution = Resolution(x: x, y: y)
            case 3: resolution = Resolution(x: x * 2.54, y: y * 2.54)
            default: break  // unit 1: no absolute unit
            }
        }
    }
}

extension PixelBuffer {
    /// The buffer turned upright for an EXIF orientation value (1...8), as a viewer shows it.
    public func oriented(exifOrientation orientation: Int) -> PixelBuffer {
        guard (2...8).contains(orientation) else { return self }
        let w = width, h = height, c = layout.channels
        let swaps = orientation >= 5
        let outW = swaps ? h : w, outH = swaps ? w : h
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        // Source pixel (sx, sy) shown at (x, y).
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case 2: (sx, sy) = (w - 1 - x, y)           // mirror left-right
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)   // rotate 180
                        case 4: (sx, sy) = (x, h - 1 - y)           // mirror top-bottom
                        case 5: (sx, sy) = (y, x)                   // transpose
                        case 6: (sx, sy) = (y, h - 1 - x)           // rotate 90 clockwise
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)   // transverse
                        default: (sx, sy) = (w - 1 - y, x)          // 8: rotate 90 counter-clockwise
                        }
                        let from = (sy * w + sx) * c, to = (y * outW + x) * c
                        for k in 0..<c { dst[to + k] = src[from + k] }
                    }
                }
            }
        }
        var turned = resolution
        if swaps, let r = resolution { turned = Resolution(x: r.y, y: r.x) }
        return PixelBuffer(width: outW, height: outH, layout: layout, pixels: out, resolution: turned)
    }
}
