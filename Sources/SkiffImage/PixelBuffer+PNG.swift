public import Foundation
internal import CSkiffCodecs

extension PixelBuffer {
    /// The image encoded as PNG (with a pHYs chunk when the resolution is known).
    public func pngData() throws(ImageError) -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let dpi = resolution.map { ($0.x + $0.y) / 2 } ?? 0
        let status = pixels.withUnsafeBufferPointer { src in
            skiff_png_encode(src.baseAddress, UInt32(width), UInt32(height), UInt32(layout.channels), dpi,
                             &out, &size, &message, message.count)
        }
        defer { skiff_codec_free(out) }
        guard status == SKIFF_CODEC_OK, let out else {
            let detail = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError(status == SKIFF_CODEC_NO_MEMORY ? .outOfMemory : .unsupportedFeature,
                             file: "<png encoder>", detail: detail)
        }
        return Data(bytes: out, count: size)
    }
}
