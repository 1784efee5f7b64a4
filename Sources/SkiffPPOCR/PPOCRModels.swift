internal import Foundation

/// Where the PP-OCRv5 files live: `SKIFF_PPOCR_MODELS`, then `models/ppocrv5` under the current
/// folder and next to the executable's package (what tools/setup.sh installs).
public struct PPOCRModels: Sendable, Hashable {
    public var detection: String
    public var recognition: String
    public var keys: String

    public static let detectionFile = "ppocrv5_det.onnx"
    public static let recognitionFile = "ppocrv5_rec.onnx"
    public static let keysFile = "ppocr_keys_v5.txt"

    public init(detection: String, recognition: String, keys: String) {
        self.detection = detection
        self.recognition = recognition
        self.keys = keys
    }

    /// The files in `directory`, or found in the usual places when it is nil.
    public static func locate(directory: String? = nil) throws(PPOCRError) -> PPOCRModels {
        var candidates: [String] = []
        if let directory { candidates.append(directory) } else {
            if let env = ProcessInfo.processInfo.environment["SKIFF_PPOCR_MODELS"] { candidates.append(env) }
            if let root = ProcessInfo.processInfo.environment["SKIFF_MODELS"] { candidates.append(root + "/ppocrv5") }
            candidates.append(FileManager.default.currentDirectoryPath + "/models/ppocrv5")
            // The source checkout this module was built from (tests, `swift run`).
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("models/ppocrv5").path
            candidates.append(source)
        }
        for dir in candidates {
            let files = [detectionFile, recognitionFile, keysFile].map { dir + "/" + $0 }
            if files.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
                return PPOCRModels(detection: files[0], recognition: files[1], keys: files[2])
            }
        }
        let missing = candidates.first.map { dir in
            [detectionFile, recognitionFile, keysFile].first { !FileManager.default.fileExists(atPath: dir + "/" + $0) } ?? detectionFile
        } ?? detectionFile
        throw .modelNotFound(file: missing, searched: candidates)
    }
}
