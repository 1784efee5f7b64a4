/// The regex baseline every evaluation prints next to Skiff's own figures, as the
/// extraction issue defines it: the first date the date patterns find, the largest amount
/// on a line that says TOTAL, the first line as the company, no address.
public enum RegexBaseline {
    /// SROIE-style fields (`company`, `date`, `address`, `total`) from one OCR reading.
    public static func receiptFields(_ reading: OCRPass) -> [String: String] {
        let lines = reading.pages.flatMap { $0.sourceLines(pass: 0) }
        var fields: [String: String] = [:]
        if let first = lines.first { fields["company"] = first.text.collapsingSpaces() }
        for line in lines {
            if let date = CandidateFinder.dateMatches(in: line.text).first {
                fields["date"] = date.raw
                break
            }
        }
        let totals = lines.filter { $0.upper.contains("TOTAL") }.flatMap { CandidateFinder.amountMatches(in: $0.text) }
        if let largest = totals.max(by: { (Double($0.value) ?? 0) < (Double($1.value) ?? 0) }) {
            fields["total"] = largest.raw
        }
        return fields
    }
}
