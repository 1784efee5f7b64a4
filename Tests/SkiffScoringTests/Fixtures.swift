import Foundation
import Testing

/// Test fixtures: copies of ../shared/data/ocr-metric-vectors (made by dinglehopper, jiwer,
/// ocreval and donut-python; see that folder's README) and uniseg's word segmentation
/// (tools/gen_word_break_table.py).
enum Fixture {
    static func url(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    static func jsonLines(_ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOf: url(name), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }
}

/// The repository root (three levels above this file), for the shared data beside it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let sroieDev = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/sroie-dev")
