import Foundation
import SkiffConstraint
import SkiffDecoder
public import SkiffExtraction
public import SkiffImage
public import SkiffJSON
import SkiffOCR
import SkiffSchema

/// The vision-language model as an extraction engine: the page's tiles and a question naming
/// the schema's fields go to the model, whose answer is constrained to JSON that validates
/// against the schema. It reads no OCR; when the model cannot finish a valid document the
/// pipeline falls back to Tesseract and the rules (`ExtractionPipeline.fallback`).
///
/// Calls are serialised: one generation already uses every core (`threads`), and one
/// OpenBLAS instance is shared by the whole process.
public final class VisionExtractionEngine: ExtractionEngine, @unchecked Sendable {
    // @unchecked: the model is immutable; `lock` serialises generation.
    public let model: VisionLanguageModel
    /// Most tokens of an answer.
    public let maxTokens: Int
    /// Most pages shown to the model (later pages are left out, with a warning).
    public let maxPages: Int
    public let threads: Int
    /// Longest string value the constraint allows (small models otherwise run on to `maxTokens`).
    public let maxStringLength: Int
    private let lock = NSLock()

    public var name: String { "vision (\(URL(fileURLWithPath: model.folder).lastPathComponent))" }
    public var needsOCR: Bool { false }

    public init(model: VisionLanguageModel, maxTokens: Int = 512, maxPages: Int = 1, threads: Int? = nil,
                maxStringLength: Int = 200) {
        self.model = model
        self.maxStringLength = maxStringLength
        self.maxTokens = maxTokens
        self.maxPages = max(1, maxPages)
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
    }

    public convenience init(folder: String, maxTokens: Int = 512, maxPages: Int = 1, threads: Int? = nil) throws(VisionError) {
        self.init(model: try VisionLanguageModel(folder: folder), maxTokens: maxTokens, maxPages: maxPages, threads: threads)
    }

    /// The question: what to extract, field by field, with the schema's descriptions.
    public static func question(for schema: ExtractionSchema) -> String {
        var lines = ["Read this document and extract the following fields as a JSON object:"]
        for field in schema.plan.fields {
            var line = "- " + field.path.joined(separator: ".")
            if let d = field.description, !d.isEmpty {
                // The first sentence is enough; long descriptions only lengthen the prompt.
                let first = d.split(separator: ".", maxSplits: 1).first.map(String.init) ?? d
                line += ": " + first.prefix(160)
            }
            lines.append(line)
        }
        lines.append("Copy the values as printed. Answer with the JSON object only.")
        return lines.joined(separator: "\n")
    }

    public func extract(_ document: Document, ocr: [OCRPass], schema: ExtractionSchema) throws(ExtractionError) -> Extraction {
        var options = ConstraintOptions()
        options.maxStringLength = maxStringLength
        let grammar: Grammar
        do {
            grammar = try Grammar(schema: schema.value, options: options)
        } catch {
            throw .noValidOutput("the schema cannot be enforced while decoding: \(error)")
        }
        let pages = document.pages.prefix(maxPages).map(\.image)
        let generation: VisionGeneration
        lock.lock()
        defer { lock.unlock() }
        do {
            generation = try model.generate(question: Self.question(for: schema), pages: pages,
                                            parameters: .greedy(maxTokens: maxTokens), grammar: grammar, threads: threads)
        } catch {
            throw .noValidOutput("\(error)")
        }
        guard let value = generation.value else { throw .noValidOutput("the model gave no JSON value") }
        let check: ValidationResult
        do { check = try schema.validator.validate(value) } catch { throw .noValidOutput("validating: \(error)") }
        guard check.isValid else {
            throw .noValidOutput(check.errors.prefix(3).map(\.description).joined(separator: "; "))
        }
        let skipped = document.pages.count - pages.count
        var fields: [FieldResult] = []
        for field in schema.plan.fields {
            let v = Self.lookup(value, path: field.path)
            fields.append(FieldResult(
                field: field, value: v, raw: v?.stringValue, source: nil, confidence: 0,
                rule: "vision-language model (\(generation.tiles) tiles, \(generation.tokens.count) tokens)",
                warning: skipped > 0 ? "pages after \(pages.count) were not shown to the model" : nil))
        }
        return Extraction(document: value, fields: fields, passes: [], engine: name)
    }

    static func lookup(_ value: JSONValue, path: [String]) -> JSONValue? {
        var current: JSONValue? = value
        for key in path { current = current?[key] }
        return current
    }
}

/// Where `--engine auto` looks for an installed model.
public enum VisionModelLocation {
    public static let description = "$SKIFF_VISION_MODEL or models/vision"

    /// `$SKIFF_VISION_MODEL`, else `models/vision` under the current folder, when it holds a config.json.
    public static func defaultFolder() -> String? {
        if let env = ProcessInfo.processInfo.environment["SKIFF_VISION_MODEL"], !env.isEmpty { return env }
        let local = FileManager.default.currentDirectoryPath + "/models/vision"
        return FileManager.default.fileExists(atPath: local + "/config.json") ? local : nil
    }
}
