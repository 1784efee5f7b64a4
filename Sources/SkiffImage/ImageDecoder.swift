public import Foundation
internal import CSkiffCodecs

/// Limits and policies for decoding untrusted files.
public struct DecodingOptions: Sendable, Equatable {
    /// Largest width x height accepted; checked from the header, before any pixel memory is allocated.
    public var maxPixels: Int
    /// Largest width or height accepted.
    public var maxDimension: Int
    /// Apply the EXIF orientation tag of JPEG files so the page is upright.
    public var appliesOrientation: Bool
    /// Decode files whose extension names another format (a PNG saved as `.jpg`).
    /// Off by default: a mislabelled file is an error that says what it really is.
    public var allowsMislabelledFiles: Bool

    /// 150 megapixels: an A2 page at 600 dpi still fits; a decompression bomb does not.
    public static let defaultMaxPixels = 150_000_000

    public init(maxPixels: Int = DecodingOptions.defaultMaxPixels, maxDimension: Int = 65_535,
                appliesOrientation: Bool = true, allowsMislabelledFiles: Bool = false) {
        self.maxPixels = maxPixels
        self.maxDimension = maxDimension
        self.appliesOrientation = appliesOrientation
        self.allowsMislabelledFiles = allowsMislabelledFiles
    }

    public static let `default` = DecodingOptions()
}

/// Facts about a decoded file that do not live in the pixel buffer.
public struct ImageDetails: Sendable, Equatable {
    public var format: ImageFormat
    /// Bit depth of the samples in the file (1...16).
    public var sourceBitDepth: Int
    /// Adam7 PNG or progressive JPEG.
    public var isInterlaced: Bool
    /// EXIF orientation (1...8) found in the file, 1 when absent.
    public var orientation: Int
}

/// Decodes PNG and JPEG data with libpng and libjpeg.
public enum ImageDecoder {
    /// Decodes one image held in memory. `label` names the data in errors (usually its path).
    public static func decode(_ data: Data, format: ImageFormat, label: String,
                              options: DecodingOptions = .default) throws(ImageError) -> (PixelBuffer, ImageDetails) {
        if data.isEmpty { throw ImageError(.empty, file: label) }
        var info = skiff_image_info()
        var pixels: UnsafeMutablePointer<UInt8>?
        var message = [CChar](repeating: 0, count: 512)
        let limits = skiff_codec_limits(max_pixels: UInt64(max(0, options.maxPixels)),
                                        max_dimension: UInt32(clamping: max(0, options.maxDimension)))
        let status: skiff_codec_status = data.withUnsafeBytes { raw in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            switch format {
            case .png:
                return skiff_png_decode(base, raw.count, limits, &info, &pixels, &message, message.count)
            case .jpeg:
                return skiff_jpeg_decode(base, raw.count, limits, &info, &pixels, &message, message.count)
            default:
                return SKIFF_CODEC_UNSUPPORTED
            }
        }
        defer {
            skiff_codec_free(pixels)
            skiff_codec_free(info.exif)
        }
        let detail = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch status {
        case SKIFF_CODEC_OK:
            break
        case SKIFF_CODEC_TRUNCATED:
            throw ImageError(.truncated, file: label, detail: detail)
        case SKIFF_CODEC_TOO_LARGE:
            throw ImageError(.tooLarge(width: Int(info.width), height: Int(info.height), limit: options.maxPixels),
                             file: label, detail: detail)
        case SKIFF_CODEC_NO_MEMORY:
            throw ImageError(.outOfMemory, file: label, detail: detail)
        case SKIFF_CODEC_UNSUPPORTED:
            if !ImageFormat.decodable.contains(format) { throw ImageError(.unsupportedFormat(format), file: label) }
            throw ImageError(.unsupportedFeature, file: label, detail: detail)
        default:
            throw ImageError(.corrupt, file: label, detail: detail)
        }
        guard let pixels, let layout = PixelLayout(channels: Int(info.channels)) else {
            throw ImageError(.corrupt, file: label, detail: "decoder returned no pixels")
        }
        let width = Int(info.width), height = Int(info.height)
        let bytes = [UInt8](UnsafeBufferPointer(start: pixels, count: width * height * layout.channels))
        var resolution = info.has_density != 0 ? Resolution(x: info.dpi_x, y: info.dpi_y) : nil

        var orientation = 1
        if let exifBytes = info.exif, info.exif_size > 0 {
            let exif = EXIF(tiff: UnsafeBufferPointer(start: exifBytes, count: info.exif_size))
            orientation = exif.orientation ?? 1
            if resolution == nil { resolution = exif.resolution }
        }
        var buffer = PixelBuffer(width: width, height: height, layout: layout, pixels: bytes, resolution: resolution)
        if options.appliesOrientation && orientation != 1 {
            buffer = buffer.oriented(exifOrientation: orientation)
        }
        let details = ImageDetails(format: format, sourceBitDepth: Int(info.source_bit_depth),
                                   isInterlaced: info.interlaced != 0, orientation: orientation)
        return (buffer, details)
    }
}
