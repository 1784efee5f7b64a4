public import Foundation

/// One page of a document, decoded.
public struct Page: Sendable {
    /// Zero-based position in the document.
    public var index: Int
    public var image: PixelBuffer

    public init(index: Int, image: PixelBuffer) {
        self.index = index
        self.image = image
    }
}

/// A decoded input file. PNG and JPEG files have one page; multi-page
/// formats (TIFF, PDF) will add sources that produce more, without changing
/// this type.
public struct Document: Sendable {
    /// Where the document came from (a path, or a label for in-memory data).
    public var source: String
    public var format: ImageFormat
    public var details: ImageDetails
    public var pages: [Page]

    public init(source: String, format: ImageFormat, details: ImageDetails, pages: [Page]) {
        self.source = source
        self.format = format
        self.details = details
        self.pages = pages
    }
}

/// Opens files as documents: reads the bytes, finds the real format from the
/// content, checks it against the file name, and decodes every page.
public struct DocumentLoader: Sendable {
    public var options: DecodingOptions

    public init(options: DecodingOptions = .default) {
        self.options = options
    }

    /// Loads a file from disk.
    public func load(contentsOf url: URL) throws(ImageError) -> Document {
        let path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url, options: [.mappedIfSafe])
        } catch {
            throw ImageError(.unreadable, file: path, detail: Self.describe(error))
        }
        return try load(data, label: path, pathExtension: url.pathExtension)
    }

    /// Loads in-memory data. `pathExtension` (without the dot), when given,
    /// is checked against the content the way a file name would be.
    public func load(_ data: Data, label: String, pathExtension: String? = nil) throws(ImageError) -> Document {
        if data.isEmpty { throw ImageError(.empty, file: label) }
        guard let format = ImageFormat.sniff(data.prefix(16)) else {
            throw ImageError(.unrecognizedFormat, file: label)
        }
        if let ext = pathExtension, let declared = ImageFormat.declared(byPathExtension: ext),
           declared != format, !options.allowsMislabelledFiles {
            throw ImageError(.mislabelled(declared: declared, actual: format), file: label)
        }
        guard ImageFormat.decodable.contains(format) else {
            throw ImageError(.unsupportedFormat(format), file: label)
        }
        let (image, details) = try ImageDecoder.decode(data, format: format, label: label, options: options)
        return Document(source: label, format: format, details: details, pages: [Page(index: 0, image: image)])
    }

    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return ns.localizedDescription
    }
}
