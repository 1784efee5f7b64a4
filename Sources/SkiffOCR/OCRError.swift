/// Why OCR could not run or finish.
public enum OCRError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libtesseract could not be loaded or lacks a function we need.
    case libraryUnavailable(String)
    /// The model folder or file was not found; lists the places searched.
    case modelNotFound(model: String, searched: [String])
    /// Tesseract refused to initialise with this model and language.
    case initializationFailed(datapath: String, language: String)
    /// Recognition took longer than the configured deadline.
    case deadlineExceeded(seconds: Double)
    /// The caller cancelled recognition.
    case cancelled
    /// Tesseract reported a failure for this page.
    case recognitionFailed(String)
    /// A page that Tesseract cannot take (empty, or too large for its 32-bit coordinates).
    case invalidImage(String)

    public var description: String {
        switch self {
        case .libraryUnavailable(let why):
            "Tesseract is not available: \(why). Install it with tools/setup.sh (Debian: libtesseract5)."
        case .modelNotFound(let model, let searched):
            "Tesseract model '\(model)' not found; looked in: \(searched.joined(separator: ", ")). Run tools/setup.sh or pass --model PATH."
        case .initializationFailed(let datapath, let language):
            "Tesseract could not load language '\(language)' from \(datapath)"
        case .deadlineExceeded(let seconds):
            "OCR stopped after the \(seconds.formatted())-second deadline"
        case .cancelled:
            "OCR was cancelled"
        case .recognitionFailed(let why):
            "Tesseract failed: \(why)"
        case .invalidImage(let why):
            "cannot OCR this page: \(why)"
        }
    }
}

extension Double {
    fileprivate func formatted() -> String {
        self == rounded() ? String(Int(self)) : String(self)
    }
}
