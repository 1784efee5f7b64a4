/// A JSON number kept exactly as written. Its value is available as an exact decimal
/// (`decimal`), so big integers, `1.0` vs `1` and exponents survive parsing, comparison and
/// `multipleOf` without binary floating-point rounding.
public struct JSONNumber: Sendable {
    /// The number's text as it appeared in the document (valid JSON number grammar).
    public let literal: String

    /// Creates a number from JSON number text; `nil` when the text is not a JSON number.
    public init?(literal: String) {
        guard JSONNumber.isValidLiteral(Array(literal.utf8)) else { return nil }
        self.literal = literal
    }

    init(uncheckedLiteral: String) { literal = uncheckedLiteral }

    public init(_ value: Int) { literal = String(value) }

    /// `nil` for NaN and infinities, which JSON cannot represent.
    public init?(exactly value: Double) {
        guard value.isFinite else { return nil }
        literal = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) + ".0" : "\(value)"
    }

    init(_ value: Double) { self = JSONNumber(exactly: value) ?? JSONNumber(0) }

    /// The exact value.
    public var decimal: ExactDecimal { ExactDecimal(validLiteral: literal) }

    /// The nearest `Double` (may round; ±infinity when out of range).
    public var doubleValue: Double { Double(literal) ?? decimal.approximateDouble }

    /// The value when it is an integer that fits `Int64` (`2.0` and `2e3` included).
    public var int64Value: Int64? {
        if let v = Int64(literal) { return v }
        return decimal.int64Value
    }

    /// True when the value is mathematically an integer (`1.0` and `1e2` are).
    public var isInteger: Bool {
        var isPlain = true
        for b in literal.utf8 where b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
            isPlain = false
            break
        }
        return isPlain || decimal.isInteger
    }

    static func isValidLiteral(_ b: [UInt8]) -> Bool {
        var i = 0
        let n = b.count
        func digit(_ i: Int) -> Bool { i < n && b[i] >= 0x30 && b[i] <= 0x39 }
        if i < n && b[i] == UInt8(ascii: "-") { i += 1 }
        guard digit(i) else { return false }
        if b[i] == 0x30 { i += 1 } else { while digit(i) { i += 1 } }
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
        }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) { i += 1 }
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
        }
        return i == n
    }
}

extension JSONNumber: Equatable, Hashable, Comparable {
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        if lhs.literal == rhs.literal { return true }
        if let a = Int64(lhs.literal), let b = Int64(rhs.literal) { return a == b }
        return lhs.decimal == rhs.decimal
    }
    public static func < (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        if let a = Int64(lhs.literal), let b = Int64(rhs.literal) { return a < b }
        return lhs.decimal < rhs.decimal
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(decimal) }
}

extension JSONNumber: CustomStringConvertible {
    public var description: String { literal }
}

/// An exact decimal: `(-1)^isNegative × digits × 10^exponent`, normalised so that `digits`
/// has no leading or trailing zeros (zero is `digits == []`, never negative).
public struct ExactDecimal: Sendable, Hashable, Comparable {
    public let isNegative: Bool
    /// Significant decimal digits, most significant first, each 0...9.
    public let digits: [UInt8]
    public let exponent: Int

    public init(isNegative: Bool, digits: [UInt8], exponent: Int) {
        var d = digits[...]
        while let f = d.first, f == 0 { d = d.dropFirst() }
        var e = exponent
        while let l = d.last, l == 0 { d = d.dropLast(); e += 1 }
        self.digits = Array(d)
        self.isNegative = d.isEmpty ? false : isNegative
        self.exponent = d.isEmpty ? 0 : e
    }

    /// Parses JSON number text that is already known to be valid. Exponents beyond ±10^15
    /// saturate (such numbers are already far outside any `Double`).
    init(validLiteral: String) {
        var neg = false
        var digits: [UInt8] = []
        var exp = 0
        var afterPoint = 0
        var expValue = 0
        var expNeg = false
        var state = 0  // 0 int, 1 fraction, 2 exponent
        for b in literal(validLiteral) {
            switch b {
            case UInt8(ascii: "-"): if state == 2 { expNeg = true } else { neg = true }
            case UInt8(ascii: "+"): break
            case UInt8(ascii: "."): state = 1
            case UInt8(ascii: "e"), UInt8(ascii: "E"): state = 2
            default:
                let d = b &- 0x30
                if state == 2 {
                    if expValue < 1_000_000_000_000_000 { expValue = expValue * 10 + Int(d) }
                } else {
                    if !(digits.isEmpty && d == 0) { digits.append(d) }
                    if state == 1 { afterPoint += 1 }
                }
            }
        }
        exp = (expNeg ? -expValue : expValue) - afterPoint
        self.init(isNegative: neg, digits: digits, exponent: exp)
    }

    public var isZero: Bool { digits.isEmpty }
    public var isInteger: Bool { exponent >= 0 }

    /// Position of the most significant digit: value magnitude is in [10^(m-1), 10^m).
    private var magnitude: Int { digits.count + exponent }

    public var int64Value: Int64? {
        guard isInteger, magnitude <= 19 else { return nil }
        var v: Int64 = 0
        for d in digits {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            v = s
        }
        for _ in 0..<exponent {
            let (m, o) = v.multipliedReportingOverflow(by: 10)
            if o { return nil }
            v = m
        }
        return isNegative ? -v : v
    }

    public var approximateDouble: Double {
        if isZero { return 0 }
        let text = (isNegative ? "-" : "") + digits.map { String($0) }.joined() + "e\(exponent)"
        return Double(text) ?? (isNegative ? -.infinity : .infinity)
    }

    private static func compareMagnitude(_ a: ExactDecimal, _ b: ExactDecimal) -> Int {
        if a.isZero || b.isZero { return (a.isZero ? 0 : 1) - (b.isZero ? 0 : 1) }
        if a.magnitude != b.magnitude { return a.magnitude < b.magnitude ? -1 : 1 }
        let n = max(a.digits.count, b.digits.count)
        for i in 0..<n {
            let x = i < a.digits.count ? a.digits[i] : 0
            let y = i < b.digits.count ? b.digits[i] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }

    public static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
        if a.isNegative != b.isNegative { return a.isNegative }
        let c = compareMagnitude(a, b)
        return a.isNegative ? c > 0 : c < 0
    }

    /// True when `self / divisor` is an integer; exact for any size of `self` and for
    /// divisors of up to 18 significant digits (others fall back to `Double`).
    public func isMultiple(of divisor: ExactDecimal) -> Bool {
        if divisor.isZero { return false }
        if isZero { return true }
        // self = A·10^ea, divisor = B·10^eb; A and B have no trailing zeros.
        let shift = exponent - divisor.exponent
        if shift < 0 {
            // A·10^shift / B needs A divisible by 10^-shift, impossible without trailing zeros.
            return false
        }
        guard divisor.digits.count <= 18 else {
            let q = approximateDouble / divisor.approximateDouble
            return q.isFinite && q == q.rounded()
        }
        var b: UInt64 = 0
        for d in divisor.digits { b = b * 10 + UInt64(d) }
        var r: UInt64 = 0
        for d in digits { r = (r * 10 + UInt64(d)) % b }
        // r · 10^shift mod b, by fast exponentiation with full-width products.
        var result = r
        var base: UInt64 = 10 % b
        var e = shift
        func mulmod(_ x: UInt64, _ y: UInt64) -> UInt64 {
            let p = x.multipliedFullWidth(by: y)
            return b.dividingFullWidth((p.high, p.low)).remainder
        }
        while e > 0 && result != 0 {
            if e & 1 == 1 { result = mulmod(result, base) }
            base = mulmod(base, base)
            e >>= 1
        }
        return result == 0
    }
}

@inline(__always) private func literal(_ s: String) -> String.UTF8View { s.utf8 }
