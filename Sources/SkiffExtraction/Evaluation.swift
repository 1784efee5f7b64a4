public import Foundation
import SkiffOCR
import SkiffScoring

/// One document of an evaluation set: the page image, the expected fields and, where the
/// set has it, the ground-truth text (to show what OCR errors cost).
public struct EvaluationItem: Sendable {
    public var name: String
    /// The page image, or a PDF whose pages are rendered before OCR (`PDFPages`).
    public var image: URL
    /// Expected values by the output's dotted path (`total`, `vendor.name`), as the set's
    /// schema names them.
    public var expected: [String: String]
    /// The ground-truth lines with their boxes, when the set has them.
    public var groundTruth: OCRPass?
}

/// Evaluation sets in the layouts found in the wild.
public enum EvaluationSet {
    /// The layouts `load` recognises, and the bundled schema each is scored with.
    public enum Layout: String, Sendable {
        case sroie, invoice2data, zugferd
        public var schemaName: String { self == .sroie ? "receipt.json" : "invoice.json" }
    }

    /// Recognises the layout from the folder's contents: `img/` + `key/` (SROIE), a
    /// `manifest.jsonl` with `key_fields` (ZUGFeRD) or with `expected` (invoice2data).
    public static func layout(of root: URL) throws(ExtractionError) -> Layout {
        let fm = FileManager.default
        if fm.fileExists(atPath: root.appendingPathComponent("img").path) { return .sroie }
        let manifest = root.appendingPathComponent("manifest.jsonl")
        guard let text = try? String(contentsOf: manifest, encoding: .utf8) else {
            throw .input(file: root.path, reason: "not an evaluation set (expected img/ and key/, or a manifest.jsonl)")
        }
        if text.contains("\"key_fields\"") { return .zugferd }
        if text.contains("\"expected\"") { return .invoice2data }
        throw .input(file: manifest.path, reason: "a manifest with neither `key_fields` (ZUGFeRD) nor `expected` (invoice2data)")
    }

    public static func load(_ root: URL) throws(ExtractionError) -> (Layout, [EvaluationItem]) {
        let layout = try layout(of: root)
        switch layout {
        case .sroie: return (layout, try sroie(root))
        case .invoice2data: return (layout, try invoice2data(root))
        case .zugferd: return (layout, try zugferd(root))
        }
    }

    private static func manifest(_ root: URL) throws(ExtractionError) -> [[String: Any]] {
        let url = root.appendingPathComponent("manifest.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw .input(file: url.path, reason: "unreadable manifest")
        }
        var rows: [[String: Any]] = []
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            guard let row = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw .input(file: "\(url.path):\(n + 1)", reason: "not a JSON object")
            }
            rows.append(row)
        }
        return rows
    }

    /// A JSON scalar as the text the scorer compares (numbers as they print, never `1e3`).
    static func text(_ value: Any?) -> String? {
        switch value {
        case let s as String: return s.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        case let n as NSNumber: return n.stringValue
        default: return nil
        }
    }

    /// invoice2data's golden fixtures: `manifest.jsonl` rows with `inputs` (a PDF, and a PNG
    /// for some: the PNG is used, being the closest to a scan) and `expected` (a list with one
    /// object). Scored: the keys a person would label, mapped onto `schemas/invoice.json`.
    /// Left out: `issuer` and `desc` (constants the template writes, not read from the page),
    /// vendor-specific extras, and tax ids parsed as numbers (template artefacts).
    public static func invoice2data(_ root: URL) throws(ExtractionError) -> [EvaluationItem] {
        let keys: [(String, String)] = [
            ("invoice_number", "invoice_number"), ("date", "invoice_date"), ("date_due", "due_date"),
            ("partner_name", "vendor.name"), ("vat", "vendor.tax_id"), ("static_vat", "vendor.tax_id"),
            ("currency", "currency"), ("amount_untaxed", "subtotal"), ("amount_tax", "total_tax"), ("amount", "total"),
        ]
        var items: [EvaluationItem] = []
        for row in try manifest(root) {
            guard let id = row["id"] as? String, let inputs = row["inputs"] as? [String],
                  let object = (row["expected"] as? [[String: Any]])?.first else {
                throw .input(file: root.appendingPathComponent("manifest.jsonl").path, reason: "a row without id, inputs or expected")
            }
            // Only a rendered page or a scan: a text-only input (Orlen's .txt) has nothing to OCR.
            guard let input = inputs.first(where: { $0.lowercased().hasSuffix(".png") })
                    ?? inputs.first(where: { $0.lowercased().hasSuffix(".pdf") }) else { continue }
            var expected: [String: String] = [:]
            for (from, to) in keys {
                if from.hasSuffix("vat"), !(object[from] is String) { continue }
                if let value = text(object[from]), !value.isEmpty { expected[to] = value }
            }
            items.append(EvaluationItem(name: id, image: root.appendingPathComponent(input), expected: expected, groundTruth: nil))
        }
        return items
    }

    /// ZUGFeRD / Factur-X / XRechnung samples: `manifest.jsonl` rows with `pdf` and
    /// `key_fields` read from the invoice's own CII XML (dates `YYYYMMDD`, amounts with `.`).
    /// Addresses are the street line, then postcode and city, joined with ", " as
    /// `schemas/invoice.json` asks.
    public static func zugferd(_ root: URL) throws(ExtractionError) -> [EvaluationItem] {
        func isoDate(_ v: Any?) -> String? {
            guard let s = v as? String, s.count == 8, s.allSatisfy(\.isNumber) else { return nil }
            return "\(s.prefix(4))-\(s.dropFirst(4).prefix(2))-\(s.suffix(2))"
        }
        func address(_ party: [String: Any]?) -> String? {
            guard let party, let street = text(party["line_one"]) else { return nil }
            let city = [text(party["postcode"]), text(party["city"])].compactMap { $0 }.joined(separator: " ")
            return city.isEmpty ? street : street + ", " + city
        }
        var items: [EvaluationItem] = []
        for row in try manifest(root) {
            guard let id = row["id"] as? String, let pdf = row["pdf"] as? String, let k = row["key_fields"] as? [String: Any] else {
                throw .input(file: root.appendingPathComponent("manifest.jsonl").path, reason: "a row without id, pdf or key_fields")
            }
            let seller = k["seller"] as? [String: Any], buyer = k["buyer"] as? [String: Any]
            let values: [(String, String?)] = [
                ("invoice_number", text(k["invoice_number"])), ("invoice_date", isoDate(k["issue_date_yyyymmdd"])),
                ("due_date", isoDate(k["due_date_yyyymmdd"])),
                ("vendor.name", text(seller?["name"])), ("vendor.address", address(seller)), ("vendor.tax_id", text(seller?["vat_id"])),
                ("customer.name", text(buyer?["name"])), ("customer.address", address(buyer)),
                ("currency", text(k["currency"])), ("subtotal", text(k["tax_basis_total"])),
                ("total_tax", text(k["tax_total"])), ("total", text(k["grand_total"])),
            ]
            var expected: [String: String] = [:]
            for case let (key, value?) in values where !value.isEmpty { expected[key] = value }
            items.append(EvaluationItem(name: id, image: root.appendingPathComponent(pdf), expected: expected, groundTruth: nil))
        }
        return items
    }

    /// SROIE: `img/NNN.jpg`, `key/NNN.json` (company, date, address, total), `box/NNN.csv`
    /// (`x1,y1,…,y4,TEXT` per line).
    public static func sroie(_ root: URL) throws(ExtractionError) -> [EvaluationItem] {
        let fm = FileManager.default
        let images = root.appendingPathComponent("img"), keys = root.appendingPathComponent("key")
        guard let names = try? fm.contentsOfDirectory(atPath: images.path), fm.fileExists(atPath: keys.path) else {
            throw .input(file: root.path, reason: "not a SROIE folder (expected img/ and key/)")
        }
        var items: [EvaluationItem] = []
        for name in names.sorted() where name.lowercased().hasSuffix(".jpg") || name.lowercased().hasSuffix(".png") {
            let stem = String(name.prefix(upTo: name.lastIndex(of: ".") ?? name.endIndex))
            let keyURL = keys.appendingPathComponent(stem + ".json")
            guard let data = try? Data(contentsOf: keyURL),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw .input(file: keyURL.path, reason: "missing or unreadable key file")
            }
            var expected: [String: String] = [:]
            for (k, v) in object { if let s = v as? String { expected[k] = s } }
            let box = root.appendingPathComponent("box").appendingPathComponent(stem + ".csv")
            let truth = (try? String(contentsOf: box, encoding: .utf8)).map(sroieBoxes)
            items.append(EvaluationItem(name: stem, image: images.appendingPathComponent(name), expected: expected,
                                        groundTruth: truth))
        }
        return items
    }

    /// SROIE box rows as one OCR reading: each row a line, its words spread over the row's box.
    static func sroieBoxes(_ csv: String) -> OCRPass {
        var words: [OCRWord] = [], lines: [OCRLine] = []
        var height = 1, width = 1
        for row in csv.split(whereSeparator: \.isNewline) {
            let parts = row.split(separator: ",", maxSplits: 8, omittingEmptySubsequences: false)
            guard parts.count == 9 else { continue }
            let numbers = parts.prefix(8).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard numbers.count == 8 else { continue }
            let box = BoundingBox(x0: numbers[0], y0: numbers[1], x1: numbers[4], y1: numbers[5])
            height = max(height, box.y1 + 1)
            width = max(width, box.x1 + 1)
            let tokens = parts[8].split(separator: " ").map(String.init)
            guard !tokens.isEmpty else { continue }
            let total = max(1, tokens.reduce(0) { $0 + $1.count + 1 } - 1)
            let first = words.count
            var x = 0
            for token in tokens {
                let x0 = box.x0 + box.width * x / total
                x += token.count + 1
                let x1 = box.x0 + box.width * min(total, x - 1) / total
                words.append(OCRWord(text: token, box: BoundingBox(x0: x0, y0: box.y0, x1: max(x0, x1), y1: box.y1),
                                     confidence: 1, line: lines.count))
            }
            lines.append(OCRLine(text: tokens.joined(separator: " "), box: box, confidence: 1, block: 0,
                                 words: first..<words.count))
        }
        let page = OCRPage(page: 0, width: width, height: height, dpi: nil, text: lines.map(\.text).joined(separator: "\n"),
                           words: words, lines: lines, blocks: [])
        return OCRPass(name: "ground truth", pages: [page])
    }
}

/// Field counts for one engine over a set: exact matches after the field's normalisation,
/// plus a character similarity (1 − CER, floored at 0) so near misses show.
public struct FieldTally: Sendable {
    public struct Counts: Sendable {
        public var truePositives = 0, falsePositives = 0, falseNegatives = 0
        public var similarity = 0.0
        public var documents = 0
        public var f1: Double {
            let d = Double(truePositives) + Double(falsePositives + falseNegatives) / 2
            return d == 0 ? 0 : Double(truePositives) / d
        }
        public var accuracy: Double { documents == 0 ? 0 : Double(truePositives) / Double(documents) }
        public var meanSimilarity: Double { documents == 0 ? 0 : similarity / Double(documents) }
    }

    public private(set) var fields: [String: Counts] = [:]
    public var overall: Counts {
        fields.values.reduce(into: Counts()) {
            $0.truePositives += $1.truePositives
            $0.falsePositives += $1.falsePositives
            $0.falseNegatives += $1.falseNegatives
            $0.similarity += $1.similarity
            $0.documents += $1.documents
        }
    }

    public init() {}

    /// Adds one document. An empty prediction counts as none (a miss, not a wrong value).
    public mutating func add(expected: [String: String], predicted: [String: String]) {
        for (key, truth) in expected {
            var c = fields[key] ?? Counts()
            c.documents += 1
            let want = Self.normalize(truth, field: key)
            let got = predicted[key].map { Self.normalize($0, field: key) } ?? ""
            if got.isEmpty {
                c.falseNegatives += 1
            } else if got == want {
                c.truePositives += 1
            } else {
                c.falsePositives += 1
                c.falseNegatives += 1
            }
            let cer = TextScorer(profile: .none).score(reference: want, hypothesis: got).cer
            c.similarity += want.isEmpty && got.isEmpty ? 1 : max(0, 1 - (cer.isFinite ? cer : 1))
            fields[key] = c
        }
    }

    /// Dates compare as calendar dates, amounts as 2-decimal numbers, text ignoring case and
    /// runs of white space — as the SROIE task compares them.
    public static func normalize(_ value: String, field: String) -> String {
        let text = value.split(whereSeparator: \.isWhitespace).joined(separator: " ").uppercased()
        switch FieldPlan.kind(of: field.split(separator: ".").map(String.init)) {
        case .date, .dueDate: return DateParser.iso(text) ?? text
        case .total, .subtotal, .tax: return AmountParser.decimal(text) ?? text
        default: return text
        }
    }
}
