/// Reads amounts written the ways receipts and invoices write them.
public enum AmountParser {
    /// `RM 4.95` → `4.95`, `1.234,56` → `1234.56`, `$8.20` → `8.20`, `9` → `9.00`; nil if not an amount.
    public static func decimal(_ text: String) -> String? {
        var s = Substring(text.trimmingWhitespace)
        // Currency: a symbol or a 2–3 letter code before or after the number.
        for code in ["MYR", "USD", "EUR", "GBP", "RM", "US$", "$", "€", "£", "¥", "₹"] {
            if s.uppercased().hasPrefix(code) { s = s.dropFirst(code.count) }
            if s.uppercased().hasSuffix(code) { s = s.dropLast(code.count) }
            s = Substring(String(s).trimmingWhitespace)
        }
        var negative = false
        if s.hasPrefix("-") {
            negative = true
            s = s.dropFirst()
        } else if s.hasPrefix("+") {
            s = s.dropFirst()
        }
        guard let first = s.first, first.isASCII, first.isNumber,
              s.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." || $0 == "," || $0 == "'" || $0 == " " })
        else { return nil }
        let digitsAndSeparators = s.filter { $0 != " " && $0 != "'" }
        let dots = digitsAndSeparators.filter { $0 == "." }.count
        let commas = digitsAndSeparators.filter { $0 == "," }.count
        var integer = ""
        var fraction = ""
        func split(at separator: Character) {
            if let i = digitsAndSeparators.lastIndex(of: separator) {
                integer = digitsAndSeparators[..<i].filter(\.isNumber)
                fraction = String(digitsAndSeparators[digitsAndSeparators.index(after: i)...])
            }
        }
        if dots > 0 && commas > 0 {
            // The later separator is the decimal one: 1.234,56 or 1,234.56.
            let lastDot = digitsAndSeparators.lastIndex(of: ".")
            let lastComma = digitsAndSeparators.lastIndex(of: ",")
            split(at: (lastDot ?? digitsAndSeparators.startIndex) > (lastComma ?? digitsAndSeparators.startIndex) ? "." : ",")
        } else if dots == 1 {
            split(at: ".")
        } else if commas == 1 {
            let after = digitsAndSeparators.split(separator: ",", omittingEmptySubsequences: false).last ?? ""
            if after.count == 3 {
                integer = digitsAndSeparators.filter(\.isNumber)  // 1,234: thousands
            } else {
                split(at: ",")
            }
        } else {
            integer = digitsAndSeparators.filter(\.isNumber)  // no or repeated separators: grouping only
        }
        guard fraction.allSatisfy(\.isNumber), !integer.isEmpty || !fraction.isEmpty else { return nil }
        var whole = String(integer.drop(while: { $0 == "0" }))
        if whole.isEmpty { whole = "0" }
        var cents = String(fraction)
        while cents.count > 2 && cents.hasSuffix("0") { cents.removeLast() }
        while cents.count < 2 { cents.append("0") }
        let zero = whole == "0" && cents.allSatisfy { $0 == "0" }
        return (negative && !zero ? "-" : "") + whole + "." + cents
    }
}

/// Reads dates in the formats found on receipts and invoices; day before month when ambiguous.
public enum DateParser {
    static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    /// `25/12/2018`, `18-11-18`, `05 MAR 2018`, `24-MAR-2018`, `2018-03-23`, `20180304`, `25032018`, `March 5, 2018` → ISO.
    public static func iso(_ text: String) -> String? {
        let s = text.trimmingWhitespace.uppercased()
        if s.count == 8, s.allSatisfy({ $0.isASCII && $0.isNumber }) {
            let d = Array(s).map { Int(String($0)) ?? 0 }
            func num(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + d[$1] } }
            if let v = valid(year: num(0..<4), month: num(4..<6), day: num(6..<8)), (1900...2099).contains(num(0..<4)) {
                return v
            }
            return valid(year: num(4..<8), month: num(2..<4), day: num(0..<2))
        }
        // Split into number and word parts on separators.
        var parts: [String] = []
        var current = ""
        for c in s {
            if c.isLetter || c.isNumber {
                if let last = current.last, last.isNumber != c.isNumber {
                    parts.append(current)
                    current = ""
                }
                current.append(c)
            } else if [" ", "/", "-", ".", ","].contains(c) {
                if !current.isEmpty { parts.append(current) }
                current = ""
            } else {
                return nil
            }
        }
        if !current.isEmpty { parts.append(current) }
        guard parts.count == 3 else { return nil }
        func month(_ word: String) -> Int? {
            guard word.count >= 3, word.allSatisfy(\.isLetter) else { return nil }
            guard let i = months.firstIndex(of: String(word.prefix(3))) else { return nil }
            return i + 1
        }
        func year(_ p: String) -> Int? {
            guard let v = Int(p) else { return nil }
            if p.count == 4 { return v }
            if p.count == 2 { return v < 70 ? 2000 + v : 1900 + v }
            return nil
        }
        let (a, b, c) = (parts[0], parts[1], parts[2])
        if let m = month(b), let d = Int(a), let y = year(c) { return valid(year: y, month: m, day: d) }
        if let m = month(a), let d = Int(b), let y = year(c) { return valid(year: y, month: m, day: d) }
        guard let x = Int(a), let mm = Int(b), Int(c) != nil else { return nil }
        if a.count == 4, let d = Int(c) { return valid(year: x, month: mm, day: d) }
        guard let y = year(c) else { return nil }
        return valid(year: y, month: mm, day: x) ?? valid(year: y, month: x, day: mm)
    }

    static func valid(year: Int, month: Int, day: Int) -> String? {
        guard (1...12).contains(month), day >= 1, year >= 1000, year <= 9999 else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[month - 1] else { return nil }
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
