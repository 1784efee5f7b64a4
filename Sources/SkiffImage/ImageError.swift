/// Why a page could not be decoded. Every error names the file it is about.
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The file has no bytes.
        case empty
        /// The file could not be read from disk.
        case unreadable
        /// The bytes are not any image format we know.
        case unrecognizedFormat
        /// A known format this build does not decode (TIFF, PDF, GIF, ...).
        case unsupportedFormat(ImageFormat)
        /// The extension says one format, the content another.
        case mislabelled(declared: ImageFormat, actual: ImageFormat)
        /// The data ends before the image does (a partial download or a copy in progress).
        case truncated
        /// The decoder rejected the data.
        case corrupt
        /// The header asks for more pixels than the configured limit (a decompression bomb).
        case tooLarge(width: Int, height: Int, limit: Int)
        /// A valid file using a feature we do not decode (e.g. 12-bit JPEG).
        case unsupportedFeature
        case outOfMemory
    }

    public let reason: Reason
    /// The file's path, or a caller-chosen label for in-memory data.
    public let file: String
    /// What the decoder said, for people.
    public let detail: String

    public init(_ reason: Reason, file: String, detail: String = "") {
        self.reason = reason
        self.file = file
        self.detail = detail
    }

    public var description: String {
        let what: String
        switch reason {
        case .empty: what = "the file is empty"
        case .unreadable: what = "cannot read the file"
        case .unrecognizedFormat: what = "not a PNG or JPEG image"
        case .unsupportedFormat(let format): what = "\(format.displayName) files are not supported yet (PNG and JPEG are)"
        case .mislabelled(let declared, let actual):
            what = "the name says \(declared.displayName) but the content is \(actual.displayName); rename the file"
        case .truncated: what = "the image data ends early (truncated, or still being written)"
        case .corrupt: what = "the image data is corrupt"
        case .tooLarge(let width, let height, let limit):
            what = "\(width)x\(height) pixels is more than the limit of \(limit) pixels"
        case .unsupportedFeature: what = "the image uses a feature Skiff does not decode"
        case .outOfMemory: what = "not enough memory to decode the image"
        }
        return detail.isEmpty ? "\(file): \(what)" : "\(file): \(what) (\(detail))"
    }
}
