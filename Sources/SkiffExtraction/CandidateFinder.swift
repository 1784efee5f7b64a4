import Foundation
import SkiffScoring

/// A possible value for a field, found on the page by a rule.
public struct Candidate: Sendable, Hashable {
    public var kind: FieldKind
    /// The text as printed (the matched part of the line).
    public var raw: String
    /// ISO date or plain decimal, when the kind has one; otherwise the raw text, spaces collapsed.
    public var normalized: String
    public var span: SourceSpan
    /// How strongly the rule that found it points at this field, 0–1.
    public var strength: Double
    /// The rule, in words, for provenance.
    public var rule: String
}

/// Finds candidates for each field kind in recognised lines, with cues that hold for
/// receipts and invoices in general: keywords (in English, German, French, Malay where
/// receipts use them), position on the page, and value shapes. Written by hand because
/// the rules are the product here; each one is small and named in the provenance.
struct CandidateFinder {
    let lines: [SourceLine]

    func candidates(for kind: FieldKind) -> [Candidate] {
        switch kind {
        case .total: totals()
        case .subtotal: amounts(cues: Self.subtotalCues, kind: .subtotal)
        case .tax: amounts(cues: Self.taxCues, kind: .tax)
        case .date: dates(due: false)
        case .dueDate: dates(due: true)
        case .company: companies()
        case .address: addresses()
        case .invoiceNumber: invoiceNumbers()
        case .taxId: taxIds()
        case .currency: currencies()
        case .other: []
        }
    }

    // MARK: Amounts

    /// Lines whose amount is never the total: sub-totals, tax breakdowns, payment and change.
    static let notTotal = ["SUB", "EXCL", "CHANGE", "CASH", "TENDER", "CARD", "PAID", "ROUNDING ADJ", "ADJUSTMENT",
                           "DISCOUNT", "SAVING", "QTY", "QUANTITY", "ITEM", "TOTAL GST", "TOTAL TAX", "GST SUMMARY",
                           "TAX SUMMARY", "GST @", "VAT @", "NETTO", "BEFORE", "POINTS", "BALANCE B/F",
                           "ZUSCHL", "ABSCHL", "ANZAHLUNG", "OHNE UST", "OHNE MWST"]
    /// Cues for the amount payable, strongest first.
    static let totalTiers: [(cues: [String], strength: Double)] = [
        (["BRUTTOSUMME", "SUMME BRUTTO", "ROUNDED TOTAL", "TOTAL ROUNDED", "TOTAL AFTER ROUND", "ROUNDED AMOUNT", "NETT TOTAL", "NET TOTAL"], 1.0),
        (["GRAND TOTAL", "TOTAL AMOUNT", "TOTAL AMT", "TOTAL PAYABLE", "TOTAL DUE", "AMOUNT DUE", "BALANCE DUE",
          "AMOUNT PAYABLE", "TOTAL INCL", "TOTAL (INCL", "TOTAL SALES", "INCLUSIVE", "GESAMTBETRAG",
          "RECHNUNGSBETRAG", "ZAHLBETRAG", "BRUTTO", "MONTANT TTC", "TOTAL TTC", "JUMLAH"], 0.85),
        (["TOTAL", "TOTA1", "TOTAI", "T0TAL", "SUMME", "AMOUNT"], 0.7),
        (["NETT", "TTL"], 0.5),
    ]
    static let subtotalCues = ["SUBTOTAL", "SUB TOTAL", "SUB-TOTAL", "NET AMOUNT", "NETTO", "TOTAL EXCL", "ZWISCHENSUMME"]
    static let taxCues = ["GST", "VAT", "TAX", "MWST", "UST", "SST", "TVA"]

    /// Numbers with two decimals: `30.90`, `1,234.56`, `1.234,56`, `-1.73`, `4, 50` (OCR spaces).
    static func amountMatches(in text: String) -> [(range: Range<Int>, raw: String, value: String)] {
        // Swift's Regex has no look-behind: a match glued to a digit, point or comma on its left is dropped.
        let pattern = /-?\d{1,3}(?:[,. ]\d{3})*[.,] ?\d{2}(?!\d)|-?\d+[.,] ?\d{2}(?!\d)/
        return text.matches(of: pattern).compactMap { m in
            let raw = String(m.output)
            let range = text.offsets(of: m.range)
            guard !text.follows(range.lowerBound, oneOf: "0123456789.,"),
                  let value = AmountParser.decimal(raw.replacingSpaces()) else { return nil }
            return (range, raw, value)
        }
    }

    static let paymentCues = ["CASH", "PAID", "TENDER", "CARD", "VISA", "MASTER", "PAYMENT"]

    func totals() -> [Candidate] {
        var found: [Candidate] = []
        let byLine = lines.map { Self.amountMatches(in: $0.text) }
        for (i, line) in lines.enumerated() {
            if Self.notTotal.contains(where: { line.upper.contains($0) }) && !line.upper.contains("ROUNDED TOTAL")
                && !line.upper.contains("TOTAL ROUNDED") { continue }
            guard let tier = Self.totalTiers.first(where: { $0.cues.contains(where: { line.upper.contains($0) }) }) else { continue }
            // The amount is the last one on the line, or the first on the next line. A line
            // with several amounts is a row of a tax summary table more often than the total.
            if let last = byLine[i].last {
                let table = byLine[i].count > 1 ? 0.2 : 0
                found.append(candidate(.total, line, last, tier.strength - table, "last amount on a line with a total cue"))
            } else if i + 1 < lines.count, lines[i + 1].pass == line.pass, let next = byLine[i + 1].first,
                      !Self.notTotal.contains(where: { lines[i + 1].upper.contains($0) }),
                      !Self.paymentCues.contains(where: { lines[i + 1].upper.contains($0) }) {
                found.append(candidate(.total, lines[i + 1], next, tier.strength - 0.1, "amount below a total cue"))
            }
        }
        // What was paid breaks ties: cash handed over often equals the total exactly.
        var paid = Set<String>()
        for (i, line) in lines.enumerated() where Self.paymentCues.contains(where: { line.upper.contains($0) }) {
            for m in byLine[i] { paid.insert(m.value) }
        }
        for i in found.indices where paid.contains(found[i].normalized) {
            found[i].strength += 0.05
            found[i].rule += ", equal to the amount paid"
        }
        if found.isEmpty {
            // No cue read: the largest amount on the page (what was paid, when nothing else is).
            for (i, line) in lines.enumerated() where !line.upper.contains("CHANGE") {
                for m in byLine[i] { found.append(candidate(.total, line, m, 0.3, "largest amount on the page")) }
            }
            let largest = found.map { Double($0.normalized) ?? 0 }.max() ?? 0
            found.removeAll { (Double($0.normalized) ?? 0) < largest }
        }
        return found
    }

    func amounts(cues: [String], kind: FieldKind) -> [Candidate] {
        let strong = kind == .tax ? Self.strongTaxCues : Self.strongSubtotalCues
        return lines.compactMap { line in
            let isStrong = strong.contains(where: line.upper.contains)
            guard isStrong || cues.contains(where: { line.upper.contains($0) }) && (!line.upper.contains("TOTAL") || kind == .subtotal),
                  kind != .tax || isStrong || !Self.notTax.contains(where: line.upper.contains),
                  let last = Self.amountMatches(in: line.text).last else { return nil }
            return candidate(kind, line, last, isStrong ? 0.85 : 0.7,
                             "last amount on a line with a \(isStrong ? "labelled " : "")\(kind.rawValue) cue")
        }
    }

    /// Labels that name the sum itself, ahead of lines that only mention tax or net.
    static let strongSubtotalCues = ["SUMME OHNE", "OHNE UST", "OHNE MWST", "NETTOSUMME", "SUMME NETTO", "TOTAL HT",
                                     "TOTAL EXCL", "SUBTOTAL", "SUB TOTAL", "SUB-TOTAL"]
    static let strongTaxCues = ["STEUERBETRAG", "MWST-BETRAG", "MWST BETRAG", "UST-BETRAG", "TAX AMOUNT", "TOTAL TAX",
                                "TOTAL GST", "TOTAL VAT", "TOTAL TVA", "MONTANT TVA"]
    /// Lines that mention tax but hold another amount: net sums, tax numbers, rates.
    static let notTax = ["OHNE", "EXCL", "NETTO", "NUMMER", "-ID", "ID-NR", "ID.", "STEUERNR", "REG"]

    private func candidate(_ kind: FieldKind, _ line: SourceLine, _ m: (range: Range<Int>, raw: String, value: String),
                           _ strength: Double, _ rule: String) -> Candidate {
        Candidate(kind: kind, raw: m.raw, normalized: m.value, span: line.span(characters: m.range),
                  strength: strength, rule: rule)
    }

    // MARK: Dates

    static let currentYear = Calendar(identifier: .gregorian).component(.year, from: Date())

    static let documentWords = ["INVOICE", "RECHNUNG", "FACTURE", "FAKTUR", "GUTSCHRIFT", "ABRECHNUNG"]
    static let otherDateCues = ["LIEFER", "LEISTUNG", "DELIVERY", "SHIP", "BESTELL", "ORDER DATE", "PERIOD", "ZEITRAUM",
                                "CHECK", "LIVRAISON"]
    static let dueCues = ["DUE", "PAYABLE BY", "PAY BY", "FÄLLIG", "FAELLIG", "ZAHLBAR BIS", "ÉCHÉANCE"]

    /// Dates as receipts and invoices print them; each match is checked by `DateParser`.
    static func dateMatches(in text: String) -> [(range: Range<Int>, raw: String, value: String)] {
        let month = "(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\\.?"
        let patterns: [Regex<Substring>] = [
            /\d{1,2} ?[\/\-.] ?\d{1,2} ?[\/\-.] ?(?:\d{4}|\d{2})(?!\d)/,
            /\d{4}[\/\-.]\d{1,2}[\/\-.]\d{1,2}(?!\d)/,
        ]
        var results: [(range: Range<Int>, raw: String, value: String)] = []
        let upper = text.uppercased()
        for pattern in patterns {
            // A match that is no date (`19- 18/01` in `#19- 18/01/2018`) must not hide one that
            // starts inside it, so the search resumes one character on.
            var from = text.startIndex
            while from < text.endIndex, let m = text[from...].firstMatch(of: pattern) {
                let raw = String(m.output)
                let range = text.offsets(of: m.range)
                if !text.follows(range.lowerBound, oneOf: "0123456789"), let value = DateParser.iso(raw.replacingSpaces()) {
                    results.append((range, raw, value))
                    from = m.range.upperBound
                } else {
                    from = text.index(after: m.range.lowerBound)
                }
            }
        }
        // Month names: `05 MAR 2018`, `24-MAR-2018`, `March 4, 2025`.
        let named = [
            "\\d{1,2}[ \\-/]*\(month)[ \\-/,]*(?:\\d{4}|\\d{2})(?!\\d)",
            "\(month) \\d{1,2},? \\d{4}(?!\\d)",
        ]
        for source in named {
            guard let pattern = try? Regex(source) else { continue }
            for m in upper.matches(of: pattern) {
                let range = upper.offsets(of: m.range)
                if upper.follows(range.lowerBound, oneOf: "0123456789") { continue }
                let raw = String(text.dropFirst(range.lowerBound).prefix(range.count))
                if let value = DateParser.iso(String(upper[m.range])) { results.append((range, raw, value)) }
            }
        }
        return results.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    func dates(due: Bool) -> [Candidate] {
        var found: [Candidate] = []
        for line in lines {
            let isDue = Self.dueCues.contains(where: { line.upper.contains($0) })
            if due != isDue { continue }
            let hasCue = line.upper.contains("DATE") || line.upper.contains("DATUM") || line.upper.contains("TARIKH")
            // `Rechnung Nr. 471102 vom 05.06.2018`, `Invoice date`: the document's own date.
            let documentCue = Self.documentWords.contains(where: line.upper.contains)
                && (hasCue || line.upper.contains(" VOM ") || line.upper.contains(" DU ") || line.upper.contains(" DATED"))
            // Delivery, order and service dates are not the issue date.
            let otherDate = Self.otherDateCues.contains(where: line.upper.contains)
            for m in Self.dateMatches(in: line.text) {
                // Earlier lines first: the issue date heads the document, other dates follow.
                // A year far from today is more likely an OCR slip (`12/13/72`) than a receipt's.
                let year = Int(m.value.prefix(4)) ?? 0
                let plausible = (1990...(Self.currentYear + 1)).contains(year)
                let strength = (documentCue ? 0.9 : hasCue ? 0.8 : 0.6) - min(0.2, line.relativeTop * 0.2) - (plausible ? 0 : 0.4)
                    - (otherDate && !documentCue ? 0.25 : 0)
                found.append(candidate(due ? .dueDate : .date, line, m, strength,
                                       hasCue ? "date on a line with a date cue" : "date on the page"))
            }
        }
        return found
    }

    // MARK: Company and address

    /// Legal forms and trade words that mark a business name.
    static let companyMarks = ["SDN BHD", "SDN. BHD", "SDN.BHD", " BHD", "S/B", "SDN", "ENTERPRISE", "TRADING", "RESTAURANT",
                               "RESTORAN", "STORE", "MART", "SHOP", "STATIONERY", "BAKERIES", "BAKERY", "HARDWARE",
                               "MARKETING", "SUPERMARKET", "PHARMACY", "BOOK", "HOLDINGS", "INDUSTRIES", "SERVICES",
                               "CORPORATION", "COMPANY", " CO.", " LTD", "LIMITED", " INC", " LLC", "GMBH", " AG",
                               " KG", "PTE", " PLC", "S.A.", "SARL", " CAFE", "KEDAI", "TRADERS", "CENTRE", "CENTER"]
    /// Lines that are never the company or its address.
    static let notCompany = ["RECEIPT", "INVOICE", "TAX", "WELCOME", "THANK", "TEL", "FAX", "PHONE", "DATE", "CASHIER",
                             "RECHNUNG", "TABLE", "ORDER", "GST", "REG NO", "CO NO", "CO.REG", "COMPANY NO", "@", "WWW", "HTTP"]
    static let addressStops = ["TEL", "FAX", "PHONE", "H/P", "HP:", "GST", "EMAIL", "E-MAIL", "@", "WWW", "HTTP",
                               "INVOICE", "RECEIPT", "DATE", "CASHIER", "TABLE", "REG NO", "ROC", "TAX", "UST-ID", "VAT",
                               "DOC NO", "BILL", "ORDER", "TIME", "STEUERNUMMER", "UST.", "HANDELSREGISTER", "IBAN"]

    private func letterShare(_ text: String) -> Double {
        let nonSpace = text.filter { !$0.isWhitespace }
        return nonSpace.isEmpty ? 0 : Double(nonSpace.filter(\.isLetter).count) / Double(nonSpace.count)
    }

    /// Legal forms that end a company name; a line that is only these (or a trade word
    /// followed by them) continues the name on the line above.
    static let legalForms = ["SDN BHD", "SDN. BHD", "SDN.BHD", "BHD", "S/B", "LTD", "LIMITED", "INC", "LLC", "GMBH", "AG",
                             "PLT", "PTE", "PLC", "CO."]

    /// The business name: a line near the top with a legal form or trade word (joined with the
    /// line above when the name wraps), else the first line that reads as a name.
    func companies() -> [Candidate] {
        var found: [Candidate] = []
        for pass in Set(lines.map(\.pass)).sorted() {
            let top = Array(lines.filter { $0.pass == pass && $0.relativeTop < 0.4 }.prefix(12))
            let marked = top.indices.first { i in
                let line = top[i]
                let padded = " " + line.upper + " "
                return line.text.filter(\.isLetter).count >= 4 && Self.companyMarks.contains(where: { padded.contains($0) })
                    && !Self.notCompany.contains(where: { line.upper.contains($0) })
            }
            if let i = marked {
                var parts = [top[i]]
                let upper = Self.stripRegistration(top[i].upper)
                let startsWithMark = Self.companyMarks.contains { (" " + upper).hasPrefix($0.hasPrefix(" ") ? $0 : " " + $0) }
                let endsWithForm = Self.legalForms.contains { upper.hasSuffix($0) || upper.hasSuffix($0 + ".") }
                if i > 0, startsWithMark && endsWithForm || top[i - 1].upper.hasSuffix("&"), isNameLine(top[i - 1]),
                   adjacent(top[i - 1], top[i]) {
                    parts.insert(top[i - 1], at: 0)
                }
                if top[i].upper.hasSuffix("&"), i + 1 < top.count, isNameLine(top[i + 1]), adjacent(top[i], top[i + 1]) {
                    parts.append(top[i + 1])
                }
                let spans = parts.map(nameSpan)
                let span = spans.dropFirst().reduce(spans[0]) { $0.joined(with: $1) }
                let name = Self.fixLegalForm(Self.stripRegistration(span.text))
                found.append(Candidate(kind: .company, raw: name, normalized: name.collapsingSpaces(), span: span,
                                       strength: 0.8, rule: "line near the top with a legal form or trade word"))
            } else if let line = top.first(where: isNameLine) {
                let name = Self.stripRegistration(line.text)
                found.append(Candidate(kind: .company, raw: name, normalized: name.collapsingSpaces(),
                                       span: nameSpan(line), strength: 0.4, rule: "first line that reads as a name"))
            }
        }
        return found
    }

    /// The words of a line that belong to the name, without a registration number after it.
    private func nameSpan(_ line: SourceLine) -> SourceSpan {
        let kept = Self.stripRegistration(line.text).split(separator: " ").count
        let first = Self.labelWords(line)
        return line.span(words: first..<max(first + 1, min(kept, line.words.count)))
    }

    /// Field labels printed before a value (`Name: Lieferant GmbH`, `Anschrift: …`).
    static let labels: Set<String> = ["NAME:", "FIRMA:", "COMPANY:", "ANSCHRIFT:", "ADRESSE:", "ADDRESS:", "ADRESSE :"]

    /// How many leading words of the line are a label (0 or 1), never the whole line.
    static func labelWords(_ line: SourceLine) -> Int {
        guard line.words.count > 1, let word = line.words.first?.text.uppercased(), labels.contains(word) else { return 0 }
        return 1
    }

    private func isNameLine(_ line: SourceLine) -> Bool {
        line.text.count >= 3 && letterShare(line.text) >= 0.6 && !Self.notCompany.contains(where: { line.upper.contains($0) })
    }

    /// Whether `b` follows `a` closely, with no more than about one line's height between them.
    private func adjacent(_ a: SourceLine, _ b: SourceLine) -> Bool {
        let height = max(1, max(a.box.height, b.box.height))
        return b.box.y0 - a.box.y1 <= height * 3 / 2
    }

    /// Drops a registration number printed after the name: `(139386 X)`, `(965752-T)`, `(72826444)`.
    static func stripRegistration(_ text: String) -> String {
        var s = text
        // `（` too: PP-OCR writes the fullwidth form.
        while let open = s.lastIndex(where: { $0 == "(" || $0 == "（" }), s[open...].filter(\.isNumber).count >= 4 {
            s = String(s[..<open])
        }
        return s.trimming(" |.,:;-—")
    }

    /// `SON BHD`, `SDN GHD`, `SEN SHD` → `SDN BHD`: the commonest OCR slips in Malaysian legal forms.
    static func fixLegalForm(_ text: String) -> String {
        var words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        for i in words.indices.dropLast() {
            let a = words[i].uppercased().trimming("."), b = words[i + 1].uppercased().trimming(".")
            let firstOK = ["SDN", "SON", "S0N", "SEN", "SDM", "5DN"].contains(a)
            let secondOK = ["BHD", "GHD", "SHD", "8HD", "BHO", "BND", "BH0"].contains(b)
            guard firstOK && secondOK, words[i].first?.isUppercase == true else { continue }
            words[i] = "SDN" + String(words[i].drop(while: { $0 != "." }))
            words[i + 1] = "BHD" + String(words[i + 1].drop(while: { $0 != "." }))
        }
        return words.joined(separator: " ")
    }

    static let streetWords = ["JALAN", "JLN", "LOT", "NO", "UNIT", "LEVEL", "LOT", "STREET", "ROAD", "AVENUE", "STRASSE",
                              "STRAßE", "RUE", "BLOCK", "BLK", "FLOOR", "TAMAN", "KAWASAN", "LORONG", "PERSIARAN"]

    /// A telephone number: 9 or more digits in groups (`016-5498845`, `+603-91 30 2672`).
    static func hasPhoneNumber(_ text: String) -> Bool {
        text.contains(/\+?\(?\d{2,4}\)?[- ]?\d{3,4}[- ]?\d{3,5}/) && text.filter(\.isNumber).count >= 9
            && text.filter(\.isLetter).count <= 6
    }

    /// Other spans a ranker may prefer to the rules' pick (weaker than the rules' own):
    /// for a company, the name-like lines near the top of each reading; for an address, the
    /// rules' address cut after each of its lines, and one line further.
    func alternatives(for kind: FieldKind) -> [Candidate] {
        switch kind {
        case .company:
            return Set(lines.map(\.pass)).sorted().flatMap { pass in
                lines.filter { $0.pass == pass && $0.relativeTop < 0.4 }.prefix(8).filter(isNameLine).map { line in
                    let name = Self.fixLegalForm(Self.stripRegistration(line.text))
                    return Candidate(kind: .company, raw: name, normalized: name.collapsingSpaces(), span: nameSpan(line),
                                     strength: 0.3, rule: "a name-like line near the top")
                }
            }
        case .address:
            return addresses(cuts: true).filter { $0.rule.hasSuffix("for the ranker") }
        default:
            return []
        }
    }

    /// The lines after the company's: preamble without a number or street word skipped, then
    /// consecutive lines up to a contact, tax or document cue, a phone number or a gap.
    /// With `cuts`, also every shorter run of those lines and the run one line longer (weaker).
    func addresses(cuts: Bool = false) -> [Candidate] {
        var found: [Candidate] = []
        for company in companies() {
            let following = lines.filter {
                $0.pass == company.span.pass && $0.page == company.span.page && $0.firstWord >= company.span.words.upperBound
            }
            var parts: [SourceLine] = []
            var skipped = 0
            for line in following.prefix(9) {
                if let previous = parts.last, !adjacent(previous, line) { break }
                if Self.addressStops.contains(where: { line.upper.contains($0) }) || !Self.dateMatches(in: line.text).isEmpty {
                    break
                }
                // A long number: a phone number ends the address; before it, a registration number.
                let longNumber = Self.hasPhoneNumber(line.text)
                if longNumber && !parts.isEmpty { break }
                if parts.isEmpty {
                    let words = Set(line.upper.split(whereSeparator: { !$0.isLetter }).map(String.init))
                    let registration = longNumber
                        || line.text.count <= 28 && line.upper.contains("(") && line.text.filter(\.isNumber).count >= 4
                    let addressLike = line.text.contains(where: \.isNumber) || !words.isDisjoint(with: Self.streetWords)
                    if registration || !addressLike {
                        skipped += 1
                        if skipped > 3 { break }
                        continue
                    }
                }
                parts.append(line)
            }
            guard let first = parts.first else { continue }
            let head = first.span(words: Self.labelWords(first)..<first.words.count)
            let span = parts.dropFirst().reduce(head) { $0.joined(with: $1.span) }
            found.append(Candidate(kind: .address, raw: span.text, normalized: span.text.collapsingSpaces(), span: span,
                                   strength: company.strength * 0.8, rule: "lines under the company up to a contact or tax line"))
            if cuts {
                var runs = (1..<parts.count).map { Array(parts.prefix($0)) }
                if let last = parts.last, let i = following.firstIndex(where: { $0.index == last.index }), i + 1 < following.count {
                    runs.append(parts + [following[i + 1]])
                }
                for run in runs {
                    let s = run.dropFirst().reduce(run[0].span(words: Self.labelWords(run[0])..<run[0].words.count)) { $0.joined(with: $1.span) }
                    found.append(Candidate(kind: .address, raw: s.text, normalized: s.text.collapsingSpaces(), span: s,
                                           strength: company.strength * 0.55, rule: "lines under the company, cut for the ranker"))
                }
            }
        }
        return found
    }

    // MARK: Identifiers

    static let invoiceNumberCues = ["INVOICE NO", "INVOICE NUMBER", "INVOICE #", "INVOICE:", "INV NO", "INV. NO", "INV#",
                                    "BILL NO", "RECEIPT NO", "RECHNUNGSNUMMER", "RECHNUNGS-NR", "RECHNUNG NR", "RECHNUNG NR.",
                                    "FACTURE N", "DOC NO", "NO. FAKTUR"]

    func invoiceNumbers() -> [Candidate] {
        var found: [Candidate] = []
        for line in lines {
            // `Handelsrechnung (380) Nr. 471102`: a document word, then `Nr.` / `No.`.
            let titled = Self.documentWords.contains(where: line.upper.contains) ? [" NR.", " NR ", " NO.", " NO "].first(where: line.upper.contains) : nil
            guard let cue = Self.invoiceNumberCues.first(where: line.upper.contains) ?? titled,
                  let cueRange = line.upper.range(of: cue) else { continue }
            let after = line.upper.distance(from: line.upper.startIndex, to: cueRange.upperBound)
            // The first word after the cue that holds a digit.
            var offset = 0
            for word in line.words {
                defer { offset += word.text.count + 1 }
                let start = offset
                guard start + word.text.count > after, word.text.contains(where: \.isNumber) else { continue }
                let cleaned = word.text.trimming(":#.,;")
                guard !cleaned.isEmpty else { continue }
                found.append(Candidate(kind: .invoiceNumber, raw: cleaned, normalized: cleaned,
                                       span: line.span(characters: start..<(start + word.text.count)),
                                       strength: 0.8, rule: "first word with a digit after “\(cue.lowercased())”"))
                break
            }
        }
        return found
    }

    static let taxIdCues = ["UST-ID", "UST.-ID", "UST-IDNR", "USTID", "UST ID", "VAT", "TVA", "BTW", "MWST-NR", "TAX ID",
                            "GST ID", "GST REG", "GSTIN", "P.IVA"]

    /// EU-style VAT ids after their label: a country code and 8-12 digits or letters, printed
    /// with or without spaces and dots. The first on the page is the issuer's (the seller's
    /// block comes first), so later ones rank lower.
    func taxIds() -> [Candidate] {
        var found: [Candidate] = []
        for line in lines {
            // At the start of a word: `PRIVATE` holds no VAT label.
            let padded = " " + line.upper
            guard let cue = Self.taxIdCues.first(where: { padded.contains(" " + $0) }),
                  let cueRange = padded.range(of: " " + cue) else { continue }
            let after = padded.distance(from: padded.startIndex, to: cueRange.upperBound) - 1
            var offset = 0
            var words: [(text: String, start: Int)] = []
            for word in line.words {
                if offset >= after { words.append((word.text, offset)) }
                offset += word.text.count + 1
            }
            // Up to four words joined (`NL 8104.33.941.B01`, `GB 318 4620 57`).
            search: for i in words.indices {
                for n in (1...min(4, words.count - i)).reversed() {
                    let joined = words[i..<(i + n)].map(\.text).joined().uppercased().filter { $0.isLetter || $0.isNumber }
                    guard joined.count >= 10, joined.count <= 14, joined.prefix(2).allSatisfy(\.isLetter),
                          joined.dropFirst(2).filter(\.isNumber).count >= 8 else { continue }
                    let last = words[i + n - 1]
                    let span = line.span(characters: words[i].start..<(last.start + last.text.count))
                    found.append(Candidate(kind: .taxId, raw: span.text, normalized: joined, span: span,
                                           strength: 0.8 - 0.01 * Double(found.count), rule: "VAT id after “\(cue.lowercased())”"))
                    break search
                }
            }
        }
        return found
    }

    static let currencies: [(mark: String, code: String)] = [
        ("EUR", "EUR"), ("€", "EUR"), ("USD", "USD"), ("US$", "USD"), ("GBP", "GBP"), ("£", "GBP"), ("CHF", "CHF"),
        ("MYR", "MYR"), ("RM", "MYR"), ("SGD", "SGD"), ("JPY", "JPY"), ("¥", "JPY"), ("INR", "INR"), ("₹", "INR"),
        ("$", "USD"),
    ]

    func currencies() -> [Candidate] {
        for (mark, code) in Self.currencies {
            for line in lines {
                guard let range = line.upper.range(of: mark) else { continue }
                let start = line.upper.distance(from: line.upper.startIndex, to: range.lowerBound)
                // A letter code must stand alone (not the `RM` in `FORMAT`).
                if mark.first?.isLetter == true {
                    let before = start > 0 ? Array(line.upper)[start - 1] : " "
                    let afterIndex = start + mark.count
                    let chars = Array(line.upper)
                    let after: Character = afterIndex < chars.count ? chars[afterIndex] : " "
                    if before.isLetter || after.isLetter { continue }
                }
                return [Candidate(kind: .currency, raw: String(line.text.dropFirst(start).prefix(mark.count)),
                                  normalized: code, span: line.span(characters: start..<(start + mark.count)),
                                  strength: 0.6, rule: "currency code or symbol")]
            }
        }
        return []
    }
}

extension String {
    /// Character offsets of an index range of this string.
    func offsets(of range: Range<String.Index>) -> Range<Int> {
        let start = distance(from: startIndex, to: range.lowerBound)
        return start..<(start + distance(from: range.lowerBound, to: range.upperBound))
    }

    func replacingSpaces() -> String { filter { $0 != " " } }

    func collapsingSpaces() -> String { split(whereSeparator: \.isWhitespace).joined(separator: " ") }

    /// Whether the character just before `offset` is one of `set`.
    func follows(_ offset: Int, oneOf set: String) -> Bool {
        guard offset > 0 else { return false }
        return set.contains(self[index(startIndex, offsetBy: offset - 1)])
    }

    func trimming(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
