public import SkiffImage

/// What every OCR engine offers: one page in, its words, lines and blocks out, in the shared
/// result model. Tesseract and PP-OCR both conform, so commands and extraction take either.
public protocol OCREngine: Sendable {
    /// A short name for output ("tesseract", "ppocr").
    var name: String { get }
    func recognize(_ image: PixelBuffer, page: Int) throws(OCRError) -> OCRPage
}

extension TesseractEngine: OCREngine {
    public var name: String { "tesseract" }

    public func recognize(_ image: PixelBuffer, page: Int) throws(OCRError) -> OCRPage {
        try recognize(image, page: page, cancellation: nil)
    }
}
