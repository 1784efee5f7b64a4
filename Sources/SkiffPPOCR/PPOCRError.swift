public import SkiffONNX

/// Why the PP-OCR engine could not load or run.
public enum PPOCRError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A model file is missing; lists the places searched.
    case modelNotFound(file: String, searched: [String])
    /// The keys file does not fit the recognition network.
    case keysMismatch(path: String, keys: Int, classes: Int)
    /// The ONNX runtime failed (bad file, unsupported operator, shape error).
    case runtime(ONNXError)
    /// A page the engine cannot take.
    case invalidImage(String)

    public var description: String {
        switch self {
        case let .modelNotFound(file, searched):
            "PP-OCRv5 model file \(file) not found; looked in: \(searched.joined(separator: ", ")). Run tools/setup.sh or set SKIFF_PPOCR_MODELS."
        case let .keysMismatch(path, keys, classes):
            "\(path) has \(keys) characters but the recognition network has \(classes) classes"
        case let .runtime(error): "PP-OCR: \(error)"
        case let .invalidImage(why): "cannot OCR this page: \(why)"
        }
    }
}
