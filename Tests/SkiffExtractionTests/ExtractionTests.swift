import Foundation
import SkiffExtraction
import SkiffImage
import SkiffJSON
import SkiffOCR
@testable import SkiffExtraction
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A page whose lines are `texts`, one above the other, as an OCR reading.
func reading(_ texts: [String], lineHeight: Int = 20, gapAfter: Set<Int> = []) -> OCRPass {
    var csv = ""
    var y = 10
    for (i, text) in texts.enumerated() {
        csv += "10,\(y),400,\(y),400,\(y + lineHeight),10,\(y + lineHeight),\(text)\n"
        y += lineHeight + 4 + (gapAfter.contains(i) ? lineHeight * 3 : 0)
    }
    // Taller than the lines so that the top lines count as the page's head.
    var pass = EvaluationSet.sroieBoxes(csv + "10,2000,400,2000,400,2020,10,2020,END\n")
    pass.name = "test"
    return pass
}

func best(_ kind: FieldKind, _ texts: [String], gapAfter: Set<Int> = []) -> Candidate? {
    let finder = CandidateFinder(lines: reading(texts, gapAfter: gapAfter).pages.flatMap { $0.sourceLines(pass: 0) })
    return RuleEngine.choose(finder.candidates(for: kind), passes: 1)
}

@Suite("field plan from a schema")
struct FieldPlanTests {
    func plan(_ file: String) throws -> FieldPlan {
        try ExtractionSchema(contentsOf: repository.appendingPathComponent("schemas/\(file)").path).plan
    }

    @Test func receiptSchema() throws {
        let fields = try plan("receipt.json").fields
        #expect(fields.map(\.pointer) == ["/company", "/date", "/address", "/total"])
        #expect(fields.map(\.kind) == [.company, .date, .address, .total])
        #expect(fields.allSatisfy { $0.required && $0.types.string && !$0.isoDate })
    }

    @Test func invoiceSchemaNestedFields() throws {
        let fields = try plan("invoice.json").fields
        func kind(_ pointer: String) -> FieldKind? { fields.first { $0.pointer == pointer }?.kind }
        #expect(kind("/vendor/name") == .company)
        #expect(kind("/vendor/address") == .address)
        #expect(kind("/customer/name") == .other)
        #expect(kind("/customer/address") == .other)
        #expect(kind("/invoice_date") == .date)
        #expect(kind("/due_date") == .dueDate)
        #expect(kind("/total") == .total)
        #expect(kind("/total_tax") == .tax)
        #expect(kind("/invoice_number") == .invoiceNumber)
        #expect(kind("/line_items") == .other)
        #expect(fields.first { $0.pointer == "/invoice_date" }?.isoDate == true)
        #expect(fields.first { $0.pointer == "/total" }?.types.number == true)
    }

    @Test func namesInAnySpelling() {
        #expect(FieldPlan.kind(of: ["invoiceDate"]) == .date)
        #expect(FieldPlan.kind(of: ["SubTotal"]) == .subtotal)
        #expect(FieldPlan.kind(of: ["grand-total"]) == .total)
        #expect(FieldPlan.kind(of: ["vat_id"]) == .taxId)
        #expect(FieldPlan.kind(of: ["customer", "vat_id"]) == .other, "only the issuer's")
        #expect(FieldPlan.kind(of: ["seller", "name"]) == .company)
    }

    @Test func aSchemaThatIsNotAnObjectIsAnError() throws {
        #expect(throws: ExtractionError.self) { try ExtractionSchema(["type": "string"], name: "inline") }
        #expect(throws: ExtractionError.self) { try ExtractionSchema(contentsOf: "/nonexistent/schema.json") }
    }
}

@Suite("candidate finders")
struct FinderTests {
    @Test func totalPrefersTheRoundedTotalAndSkipsPaymentLines() {
        let lines = ["SUB-TOTAL (EX) 52.00", "TOTAL TAX : 3.12", "ROUNDING : -0.02", "TOTAL ROUNDED RM 55.10",
                     "CASH RM 60.00", "CHANGE RM 4.90"]
        #expect(best(.total, lines)?.normalized == "55.10")
    }

    @Test func totalIgnoresTaxSummaryRows() {
        let lines = ["TOTAL // 55.10", "CASH 55.10", "AMOUNT TAX", "TOTAL; 52.00 3.12"]
        #expect(best(.total, lines)?.normalized == "55.10")
    }

    @Test func totalOnTheNextLineButNotAPayment() {
        #expect(best(.total, ["Grand Total", "RM 12,50"])?.normalized == "12.50")
        #expect(best(.total, ["Total Incl. GST", "CASH RM 100.20", "Total 53.20"])?.normalized == "53.20")
    }

    @Test func datesInManyFormats() {
        #expect(best(.date, ["Date: 25/12/2018 10:32"])?.normalized == "2018-12-25")
        #expect(best(.date, ["18-11-18 15:03"])?.normalized == "2018-11-18")
        #expect(best(.date, ["05 MAR 2018"])?.raw == "05 MAR 2018")
        #expect(best(.date, ["Invoice date March 4, 2025"])?.normalized == "2025-03-04")
        #expect(best(.date, ["2018-03-23"])?.normalized == "2018-03-23")
        #expect(best(.date, ["Phone 0123-45678"]) == nil)
        #expect(best(.date, ["ORD #50 -REG #19- 18/01/2018 10:27:03"])?.normalized == "2018-01-18")
        #expect(best(.date, ["12/13/72 ..", "Date 12/11/2016"])?.normalized == "2016-11-12")
        // A due date is not the issue date, and the other way round.
        #expect(best(.date, ["Due date: 03.04.2025", "Date: 04.03.2025"])?.normalized == "2025-03-04")
        #expect(best(.dueDate, ["Due date: 03.04.2025", "Date: 04.03.2025"])?.normalized == "2025-04-03")
    }

    @Test func companyNameWrappedOverTwoLinesWithoutItsRegistrationNumber() {
        let c = best(.company, ["LIAN CHI PU TIAN VEGETARIAN", "RESTAURANT SDN BHD (965752-T)", "NO 5, JALAN 1"])
        #expect(c?.normalized == "LIAN CHI PU TIAN VEGETARIAN RESTAURANT SDN BHD")
        #expect(c?.span.words == 0..<8)
        #expect(best(.company, ["HOME MASTER HARDWARE &", "ELECTRICAL", "NO.113G"])?.normalized == "HOME MASTER HARDWARE & ELECTRICAL")
        #expect(best(.company, ["MR D.I.Y. (M) SON BHD"])?.normalized == "MR D.I.Y. (M) SDN BHD")
        #expect(best(.company, ["RESTORAN WAN SHENG", "002043319-W"])?.normalized == "RESTORAN WAN SHENG")
    }

    @Test func addressBetweenRegistrationAndPhone() {
        let lines = ["GERBANG ALAF RESTAURANTS SDN BHD", "(65351-M)", "Licensee of McDonald's", "Level 6, Bangunan TH,",
                     "47400 Petaling Jaya", "016-5498845", "Selangor"]
        #expect(best(.address, lines)?.normalized == "Level 6, Bangunan TH, 47400 Petaling Jaya")
        // PP-OCR's fullwidth parentheses around the registration number.
        #expect(best(.address, ["MR D.I.Y.(M) SDN BHD", "（ CO.REG : 86Q671-D）", "10T 1851-A, JALAN KPB 6,", "43300 SERI KEMBANGAN"])?.normalized
                == "10T 1851-A, JALAN KPB 6, 43300 SERI KEMBANGAN")
        #expect(best(.company, ["RESTORAN WAN SHENG（002043319-W）"])?.normalized == "RESTORAN WAN SHENG")
        #expect(best(.address, ["ACME TRADING", "12 JALAN BESAR,", "45600 SELANGOR", "THANK YOU"], gapAfter: [2])?.normalized
                == "12 JALAN BESAR, 45600 SELANGOR")
        // A gap of several lines ends the address.
        #expect(best(.address, ["ACME TRADING", "12 JALAN BESAR,", "45600 SELANGOR", "ITEM 3 X 2.00"], gapAfter: [2])?.normalized
                == "12 JALAN BESAR, 45600 SELANGOR")
    }

    @Test func invoiceNumberAndCurrency() {
        #expect(best(.invoiceNumber, ["Invoice No: TCS-10487", "Date 2025-01-01"])?.normalized == "TCS-10487")
        #expect(best(.currency, ["Total EUR 1.234,56"])?.normalized == "EUR")
        #expect(best(.currency, ["FORMAT A4", "Total RM 4.00"])?.normalized == "MYR")
    }
}

@Suite("extraction on real scans", .serialized)
struct PipelineTests {
    static let receiptSchema = repository.appendingPathComponent("schemas/receipt.json").path

    @Test func receiptToValidJSONWithProvenance() async throws {
        let schema = try ExtractionSchema(contentsOf: Self.receiptSchema)
        let pipeline = try ExtractionPipeline(schema: schema, engine: .tesseract)
        let extraction = try await pipeline.extract(contentsOf: repository.appendingPathComponent("samples/receipt-004.jpg"))
        #expect(try schema.validator.isValid(extraction.document))
        #expect(extraction.document["total"]?.stringValue == "30.90")
        #expect(extraction.document["date"]?.stringValue == "18-11-18")
        let total = try #require(extraction.fields.first { $0.field.pointer == "/total" })
        let source = try #require(total.source)
        // The box lies on the page and holds the words cited.
        #expect(source.box.x0 >= 0 && source.box.y0 >= 0 && source.box.x1 <= 463 && source.box.y1 <= 1026)
        #expect(!source.words.isEmpty)
        #expect(total.confidence > 0 && total.confidence <= 1)
        let provenance = extraction.provenance(file: "receipt-004.jpg")
        #expect(provenance["fields"]?.arrayValue?.count == 4)
        #expect(provenance["fields"]?.arrayValue?.first?["box"]?.arrayValue?.count == 4)
    }

    @Test func aCorruptFileIsAnInputErrorNamingIt() async throws {
        let schema = try ExtractionSchema(contentsOf: Self.receiptSchema)
        let pipeline = try ExtractionPipeline(schema: schema, engine: .tesseract, passes: [TesseractConfiguration(pageSegmentationMode: 4)])
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-corrupt-\(UUID().uuidString).jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10]).write(to: bad)
        defer { try? FileManager.default.removeItem(at: bad) }
        do {
            _ = try await pipeline.extract(contentsOf: bad)
            Issue.record("expected an error")
        } catch {
            guard case .input(let file, let reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(file == bad.path)
            #expect(!reason.isEmpty)
        }
        #expect(FileManager.default.fileExists(atPath: bad.path))
    }

    @Test func visionEngineNotInstalledFallsBackToTesseract() throws {
        let schema = try ExtractionSchema(contentsOf: Self.receiptSchema)
        let pipeline = try ExtractionPipeline(schema: schema, engine: .vision)
        #expect(pipeline.engine.name == RuleEngine().name)
        #expect(pipeline.fallbackReason == "no vision-language model installed")
        #expect(try ExtractionPipeline(schema: schema, engine: .auto).fallbackReason == nil)
    }

    @Test func sroieSetLoadsWithGroundTruth() throws {
        let root = repository.deletingLastPathComponent().appendingPathComponent("shared/data/sroie-dev")
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        let items = try EvaluationSet.sroie(root)
        #expect(items.count == 60)
        #expect(items.allSatisfy { $0.expected.keys.sorted() == ["address", "company", "date", "total"] })
        let truth = try #require(items.first?.groundTruth?.pages.first)
        #expect(truth.lines.count > 10)
        #expect(truth.lines[0].words.count >= 1)
    }

    @Test func invoiceSetsLoadUnderTheInvoiceSchemasKeys() throws {
        let data = repository.deletingLastPathComponent().appendingPathComponent("shared/data")
        let i2d = data.appendingPathComponent("invoice2data-dev"), zug = data.appendingPathComponent("zugferd-xrechnung-dev")
        guard FileManager.default.fileExists(atPath: i2d.path), FileManager.default.fileExists(atPath: zug.path) else { return }
        let (layout, invoices) = try EvaluationSet.load(i2d)
        #expect(layout == .invoice2data && layout.schemaName == "invoice.json")
        let netpresse = try #require(invoices.first { $0.name == "NetpresseInvoice" })
        #expect(netpresse.expected == ["total": "56.02", "subtotal": "46.68", "invoice_date": "2022-11-28",
                                       "invoice_number": "2022089083", "currency": "EUR"])
        #expect(invoices.first { $0.name == "oyo" }?.image.pathExtension == "png", "the scan-like PNG where there is one")
        let (zl, zugferd) = try EvaluationSet.load(zug)
        #expect(zl == .zugferd && zugferd.count == 9)
        let first = try #require(zugferd.first { $0.name == "EN16931_1_Teilrechnung" })
        #expect(first.expected["invoice_date"] == "2018-06-05")
        #expect(first.expected["vendor.address"] == "Lieferantenstraße 20, 80333 München")
        #expect(first.expected["total"] == "197.65")
        #expect(first.expected["due_date"] == nil, "null in the XML: not scored")
        // Keys the schema has, so the scorer compares like with like.
        let schema = try ExtractionSchema(contentsOf: repository.appendingPathComponent("schemas/invoice.json").path)
        let keys = Set(schema.plan.fields.map { $0.path.joined(separator: ".") })
        #expect((invoices + zugferd).allSatisfy { Set($0.expected.keys).isSubset(of: keys) })
        #expect(FieldTally.normalize("1.234,56 €", field: "total") == "1234.56")
        #expect(FieldTally.normalize("05.06.2018", field: "invoice_date") == "2018-06-05")
    }

    @Test func pdfPagesRenderOnceAt300DPI() throws {
        let pdf = repository.deletingLastPathComponent().appendingPathComponent("shared/data/invoice2data-dev/oyo.pdf")
        guard FileManager.default.fileExists(atPath: pdf.path) else { return }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-pdf-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let pages = try PDFPages.render(pdf, into: folder)
        #expect(!pages.isEmpty)
        let page = try DocumentLoader().load(contentsOf: pages[0])
        #expect(page.pages[0].image.width > 2000, "an A4/letter page at 300 DPI is about 2480 px wide")
        let again = try PDFPages.render(pdf, into: folder)
        #expect(again == pages)
        #expect(try modificationDate(pages[0]) == (try modificationDate(again[0])), "not rendered again")
        let broken = folder.appendingPathComponent("broken.pdf")
        try Data("%PDF-1.4 truncated".utf8).write(to: broken)
        #expect(throws: ExtractionError.self) { try PDFPages.render(broken, into: folder) }
    }

    func modificationDate(_ url: URL) throws -> Date {
        try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date)
    }

    @Test func vatIdsAfterTheirLabel() {
        let c = best(.taxId, ["Lieferant GmbH", "Steuernummer: 201/113/40209", "USt.-Id.-Nr.: DE123456789",
                              "Kunde", "USt-IdNr: DE987654321"])
        #expect(c?.normalized == "DE123456789", "the first, the issuer's")
        #expect(best(.taxId, ["BTW nummer NL 8104.33.941.B01"])?.normalized == "NL810433941B01")
        #expect(best(.taxId, ["Total 12.50"]) == nil)
    }

    @Test func tallyComparesAsSROIEDoes() {
        var tally = FieldTally()
        tally.add(expected: ["date": "25/12/2018", "total": "RM 9.00", "company": "ACME  SDN BHD"],
                  predicted: ["date": "25-12-18", "total": "9.00", "company": "acme sdn bhd"])
        tally.add(expected: ["date": "01/01/2019", "total": "1.00", "company": "X"], predicted: ["date": "", "total": "2.00"])
        #expect(tally.overall.truePositives == 3)
        #expect(tally.overall.falsePositives == 1)
        #expect(tally.overall.falseNegatives == 3)
        #expect(tally.fields["date"]?.accuracy == 0.5)
    }
}

