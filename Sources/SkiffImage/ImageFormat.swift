/// The file formats Skiff recognises by their first bytes. Only PNG and JPEG
/// decode today; the others are named so errors can say what a file really is,
/// and multi-page formats (TIFF, PDF) have a place to land.
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
    case png
    case jpeg
    case tiff
    case pdf
    case gif
    case bmp
    case webp

    /// Formats this build can decode.
    public static let decodable: Set<ImageFormat> = [.png, .jpeg]

    /// The format whose signature starts `bytes`, if any.
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat? where C.Element == UInt8 {
        let head = Array(bytes.prefix(12))
        func starts(_ signature: [UInt8]) -> Bool { head.starts(with: signature) }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(Array("%PDF-".utf8)) { return .pdf }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts([0x42, 0x4D]) && head.count >= 6 { return .bmp }
        if head.count >= 12 && starts(Array("RIFF".utf8)) && Array(head[8..<12]) == Array("WEBP".utf8) { return .webp }
        return nil
    }

    /// The format a file name's extension claims, if it is one we know.
    public static func declared(byPathExtension ext: String) -> ImageFormat? {
        switch ext.lowercased() {
        case "png": .png
        case "jpg", "jpeg", "jpe", "jfif": .jpeg
        case "tif", "tiff": .tiff
        case "pdf": .pdf
        case "gif": .gif
        case "bmp": .bmp
        case "webp": .webp
        default: nil
        }
    }

    /// File extensions that batch commands pick up from folders.
    public static let pageExtensions: Set<String> = ["png", "jpg", "jpeg", "jpe", "jfif"]

    public var displayName: String {
        switch self {
        case .png: "PNG"
        case .jpeg: "JPEG"
        case .tiff: "TIFF"
        case .pdf: "PDF"
        case .gif: "GIF"
        case .bmp: "BMP"
        case .webp: "WebP"
        }
    }
}
