/// ECMAScript (ECMA-262, `u` flag) regular expressions, as JSON Schema's `pattern`,
/// `patternProperties` and `format: regex` require.
///
/// Written by hand: Foundation's `NSRegularExpression` is ICU syntax, not ECMAScript (`\w`,
/// `\d`, `$`, identity escapes and `\cX` all differ), and Swift's `Regex` is neither
/// ECMAScript nor available with a step budget. The parsed `RegexNode` tree is public so the
/// constrained decoder can turn patterns into automata; matching runs a backtracking VM with
/// a step budget, so a catastrophic pattern fails with `RegexError.stepLimitExceeded`
/// instead of hanging.
// A class so that handing a compiled pattern around costs one reference count, not one per buffer.
public final class ECMARegex: Sendable {
    public let source: String
    /// The parsed pattern.
    public let root: RegexNode
    public let captureCount: Int
    let program: RegexProgram

    public init(_ source: String) throws(RegexError) {
        self.source = source
        var parser = RegexParser(Array(source.unicodeScalars).map(\.value))
        let root = try parser.parseAll()
        self.root = root
        self.captureCount = parser.captureCount
        var compiler = RegexCompiler()
        self.program = try compiler.compile(root, captures: parser.captureCount)
        self.dfa = RegexDFA(program)
    }

    let dfa: RegexDFA?

    /// True when the pattern matches somewhere in `string` (JSON Schema patterns are not anchored).
    public func firstMatch(in string: String, stepLimit: Int = 1_000_000) throws(RegexError) -> Bool {
        var scratch = RegexScratch()
        return try firstMatch(in: string, stepLimit: stepLimit, scratch: &scratch)
    }

    /// The same, reusing `scratch`'s buffers (a validator keeps one for all its matches).
    public func firstMatch(in string: String, stepLimit: Int, scratch: inout RegexScratch) throws(RegexError) -> Bool {
        if let dfa, let answer = dfa.matches(string) { return answer }
        var input = scratch.input
        scratch.input = []
        input.removeAll(keepingCapacity: true)
        for b in string.utf8 where b < 0x80 { input.append(UInt32(b)) }
        if input.count != string.utf8.count {
            input.removeAll(keepingCapacity: true)
            for s in string.unicodeScalars { input.append(s.value) }
        }
        var vm = RegexVM(program: program, input: input, budget: stepLimit, scratch: &scratch)
        defer { vm.giveBack(to: &scratch) }
        return try vm.search()
    }
}

/// Buffers reused across matches, so matching allocates nothing in the common case.
public struct RegexScratch: Sendable {
    var input: [UInt32] = []
    var slots: [Int] = []
    var stack: [RegexVM.Entry] = []
    public init() {}
}

/// Why a pattern could not be compiled or matched.
public enum RegexError: Error, Sendable, Equatable, CustomStringConvertible {
    case syntax(String, offset: Int)
    case tooLarge(Int)
    case stepLimitExceeded(Int)

    public var description: String {
        switch self {
        case .syntax(let m, let o): "invalid ECMAScript regex at character \(o + 1): \(m)"
        case .tooLarge(let n): "regex expands to more than \(n) instructions"
        case .stepLimitExceeded(let n): "regex matching exceeded its budget of \(n) steps (catastrophic backtracking?)"
        }
    }
}

/// The parsed form of a pattern.
public indirect enum RegexNode: Sendable, Equatable {
    case empty
    case scalar(UInt32)
    /// `.`: any code point except line terminators.
    case dot
    case set(RegexClass)
    /// `^` and `$` (no multiline flag: start and end of input).
    case start, end
    case wordBoundary(negated: Bool)
    /// A group; `capture` is the 1-based capture index, `nil` for `(?:…)`.
    case group(RegexNode, capture: Int?)
    case concat([RegexNode])
    case alternation([RegexNode])
    case quantified(RegexNode, min: Int, max: Int?, greedy: Bool)
    case backreference(Int)
    case lookaround(RegexNode, ahead: Bool, negated: Bool)
}

/// A character class: explicit ranges plus predefined classes, possibly negated.
public struct RegexClass: Sendable, Equatable {
    public enum Builtin: Sendable, Equatable {
        case digit, word, space
        case property(Set<Unicode.GeneralCategory>, negated: Bool)
    }
    public var ranges: [ClosedRange<UInt32>] = []
    public var builtins: [(Builtin, negated: Bool)] = []
    public var negated = false

    public static func == (a: RegexClass, b: RegexClass) -> Bool {
        a.ranges == b.ranges && a.negated == b.negated && a.builtins.count == b.builtins.count
            && zip(a.builtins, b.builtins).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    func contains(_ c: UInt32) -> Bool {
        var hit = false
        for r in ranges where r.contains(c) { hit = true; break }
        if !hit {
            for (b, neg) in builtins where RegexClass.test(b, c) != neg { hit = true; break }
        }
        return hit != negated
    }

    static func isSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09...0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF: true
        default: false
        }
    }
    static func isWord(_ c: UInt32) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }
    static func test(_ b: Builtin, _ c: UInt32) -> Bool {
        switch b {
        case .digit: return c >= 0x30 && c <= 0x39
        case .word: return isWord(c)
        case .space: return isSpace(c)
        case .property(let cats, let neg):
            guard let s = Unicode.Scalar(c) else { return neg }
            return cats.contains(s.properties.generalCategory) != neg
        }
    }
}

// MARK: - Parser

private let syntaxCharacters: Set<UInt32> = Set("^$\\.*+?()[]{}|/".unicodeScalars.map(\.value))

struct RegexParser {
    let s: [UInt32]
    var i = 0
    var captureCount = 0
    var names: [String: Int] = [:]
    var pendingNamedRefs: [(String, Int)] = []

    init(_ s: [UInt32]) { self.s = s }

    func fail(_ m: String) -> RegexError { .syntax(m, offset: i) }
    var atEnd: Bool { i >= s.count }
    func peek(_ k: Int = 0) -> UInt32? { i + k < s.count ? s[i + k] : nil }
    mutating func eat(_ c: Unicode.Scalar) -> Bool {
        if peek() == c.value { i += 1; return true }
        return false
    }

    mutating func parseAll() throws(RegexError) -> RegexNode {
        // Count groups first so that forward references like \2 before group 2 resolve.
        let node = try parseDisjunction()
        if !atEnd { throw fail("unmatched ')'") }
        for (name, at) in pendingNamedRefs where names[name] == nil {
            throw RegexError.syntax("unknown group name '\(name)'", offset: at)
        }
        return try resolveNamed(node)
    }

    /// Replaces placeholder indices of `\k<name>` and checks numbered references.
    func resolveNamed(_ n: RegexNode) throws(RegexError) -> RegexNode {
        switch n {
        case .backreference(let k) where k < 0:
            return .backreference(names[pendingNamedRefs[-k - 1].0] ?? 0)
        case .backreference(let k):
            if k > captureCount { throw RegexError.syntax("back-reference \\\(k) to a missing group", offset: 0) }
            return n
        case .group(let inner, let cap): return .group(try resolveNamed(inner), capture: cap)
        case .concat(let items):
            var out: [RegexNode] = []
            for item in items { out.append(try resolveNamed(item)) }
            return .concat(out)
        case .alternation(let items):
            var out: [RegexNode] = []
            for item in items { out.append(try resolveNamed(item)) }
            return .alternation(out)
        case .quantified(let inner, let lo, let hi, let g): return .quantified(try resolveNamed(inner), min: lo, max: hi, greedy: g)
        case .lookaround(let inner, let a, let neg): return .lookaround(try resolveNamed(inner), ahead: a, negated: neg)
        default: return n
        }
    }

    mutating func parseDisjunction() throws(RegexError) -> RegexNode {
        var alts = [try parseAlternative()]
        while eat("|") { alts.append(try parseAlternative()) }
        return alts.count == 1 ? alts[0] : .alternation(alts)
    }

    mutating func parseAlternative() throws(RegexError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != 0x7C /* | */, c != 0x29 /* ) */ {
            items.append(try parseTerm())
        }
        return items.isEmpty ? .empty : items.count == 1 ? items[0] : .concat(items)
    }

    mutating func parseTerm() throws(RegexError) -> RegexNode {
        let c = s[i]
        var atom: RegexNode
        var quantifiable = true
        switch c {
        case 0x5E: i += 1; return .start
        case 0x24: i += 1; return .end
        case 0x5C where peek(1) == 0x62: i += 2; return .wordBoundary(negated: false)
        case 0x5C where peek(1) == 0x42: i += 2; return .wordBoundary(negated: true)
        case 0x28:
            i += 1
            if eat("?") {
                if eat(":") {
                    atom = .group(try parseDisjunction(), capture: nil)
                } else if eat("=") {
                    atom = .lookaround(try parseDisjunction(), ahead: true, negated: false)
                } else if eat("!") {
                    atom = .lookaround(try parseDisjunction(), ahead: true, negated: true)
                } else if peek() == 0x3C && (peek(1) == 0x3D || peek(1) == 0x21) {
                    let neg = peek(1) == 0x21
                    i += 2
                    atom = .lookaround(try parseDisjunction(), ahead: false, negated: neg)
                    quantifiable = false
                } else if eat("<") {
                    let name = try parseGroupName()
                    if names[name] != nil { throw fail("duplicate group name '\(name)'") }
                    captureCount += 1
                    let idx = captureCount
                    names[name] = idx
                    atom = .group(try parseDisjunction(), capture: idx)
                } else {
                    throw fail("invalid group")
                }
            } else {
                captureCount += 1
                let idx = captureCount
                atom = .group(try parseDisjunction(), capture: idx)
            }
            guard eat(")") else { throw fail("missing ')'") }
            if case .lookaround(_, true, _) = atom { quantifiable = false }
        case 0x2E: i += 1; atom = .dot
        case 0x5B: atom = .set(try parseClass())
        case 0x5C: atom = try parseAtomEscape()
        case 0x2A, 0x2B, 0x3F: throw fail("nothing to repeat")
        case 0x7B: throw fail("nothing to repeat / lone '{'")
        case 0x7D, 0x5D: throw fail("lone '\(c == 0x7D ? "}" : "]")' (not allowed with the u flag)")
        default: i += 1; atom = .scalar(c)
        }
        guard let q = peek() else { return atom }
        var minCount = 0
        var maxCount: Int? = nil
        switch q {
        case 0x2A: i += 1
        case 0x2B: i += 1; minCount = 1
        case 0x3F: i += 1; maxCount = 1
        case 0x7B:
            i += 1
            guard let a = parseInt() else { throw fail("invalid quantifier") }
            minCount = a
            maxCount = a
            if eat(",") {
                maxCount = parseInt()
            }
            guard eat("}") else { throw fail("invalid quantifier") }
            if let m = maxCount, m < minCount { throw fail("numbers out of order in {} quantifier") }
        default: return atom
        }
        if !quantifiable { throw fail("lookaround cannot be quantified") }
        let greedy = !eat("?")
        return .quantified(atom, min: minCount, max: maxCount, greedy: greedy)
    }

    mutating func parseInt() -> Int? {
        var v = 0
        var any = false
        while let c = peek(), c >= 0x30 && c <= 0x39 {
            v = min(v * 10 + Int(c - 0x30), 1_000_000)
            any = true
            i += 1
        }
        return any ? v : nil
    }

    mutating func parseGroupName() throws(RegexError) -> String {
        var name = ""
        while let c = peek(), c != 0x3E {
            guard let sc = Unicode.Scalar(c), sc.properties.isIDContinue || c == 0x24 else { throw fail("invalid group name") }
            name.unicodeScalars.append(sc)
            i += 1
        }
        guard eat(">"), !name.isEmpty else { throw fail("invalid group name") }
        return name
    }

    mutating func parseAtomEscape() throws(RegexError) -> RegexNode {
        i += 1
        guard let c = peek() else { throw fail("\\ at end of pattern") }
        if c >= 0x31 && c <= 0x39 {
            let n = parseInt() ?? 0
            return .backreference(n)
        }
        if c == 0x6B /* k */ {
            i += 1
            guard eat("<") else { throw fail("invalid named reference") }
            let at = i
            let name = try parseGroupName()
            pendingNamedRefs.append((name, at))
            // Names may be defined later; resolved lazily at match time through `names`.
            return .backreference(-(pendingNamedRefs.count))
        }
        switch try parseClassEscape(inClass: false) {
        case .scalar(let v): return .scalar(v)
        case .cls(let cl): return .set(cl)
        }
    }

    enum Escaped { case scalar(UInt32), cls(RegexClass) }

    mutating func parseClassEscape(inClass: Bool) throws(RegexError) -> Escaped {
        let c = s[i]
        i += 1
        func builtin(_ b: RegexClass.Builtin, _ neg: Bool) -> Escaped {
            var cl = RegexClass()
            cl.builtins = [(b, neg)]
            return .cls(cl)
        }
        switch c {
        case 0x64: return builtin(.digit, false)
        case 0x44: return builtin(.digit, true)
        case 0x77: return builtin(.word, false)
        case 0x57: return builtin(.word, true)
        case 0x73: return builtin(.space, false)
        case 0x53: return builtin(.space, true)
        case 0x74: return .scalar(0x09)
        case 0x6E: return .scalar(0x0A)
        case 0x76: return .scalar(0x0B)
        case 0x66: return .scalar(0x0C)
        case 0x72: return .scalar(0x0D)
        case 0x62 where inClass: return .scalar(0x08)
        case 0x2D where inClass: return .scalar(0x2D)
        case 0x30:
            if let d = peek(), d >= 0x30 && d <= 0x39 { throw fail("invalid decimal escape") }
            return .scalar(0)
        case 0x63:
            guard let l = peek(), (l >= 0x41 && l <= 0x5A) || (l >= 0x61 && l <= 0x7A) else { throw fail("invalid \\c escape") }
            i += 1
            return .scalar(l % 32)
        case 0x78:
            guard let h = hex(2) else { throw fail("invalid \\x escape") }
            return .scalar(h)
        case 0x75:
            if eat("{") {
                var v: UInt32 = 0
                var n = 0
                while let d = peek(), let x = hexValue(d) { v = v &* 16 &+ x; n += 1; i += 1; if v > 0x10FFFF { throw fail("code point out of range") } }
                guard n > 0, eat("}") else { throw fail("invalid \\u{…} escape") }
                return .scalar(v)
            }
            guard let h = hex(4) else { throw fail("invalid \\u escape") }
            if h >= 0xD800 && h < 0xDC00, peek() == 0x5C, peek(1) == 0x75 {
                let save = i
                i += 2
                if let lo = hex(4), lo >= 0xDC00 && lo < 0xE000 {
                    return .scalar(0x10000 + ((h - 0xD800) << 10) + (lo - 0xDC00))
                }
                i = save
            }
            return .scalar(h)
        case 0x70, 0x50:
            guard eat("{") else { throw fail("invalid property escape") }
            var name = ""
            while let d = peek(), d != 0x7D { name.unicodeScalars.append(Unicode.Scalar(d) ?? " "); i += 1 }
            guard eat("}") else { throw fail("invalid property escape") }
            guard let cats = unicodeCategories(name) else { throw fail("unsupported Unicode property '\(name)'") }
            return builtin(.property(cats, negated: false), c == 0x50)
        default:
            if syntaxCharacters.contains(c) { return .scalar(c) }
            throw RegexError.syntax("invalid identity escape '\\\(Character(Unicode.Scalar(c) ?? " "))'", offset: i - 1)
        }
    }

    func hexValue(_ d: UInt32) -> UInt32? {
        switch d {
        case 0x30...0x39: d - 0x30
        case 0x41...0x46: d - 0x41 + 10
        case 0x61...0x66: d - 0x61 + 10
        default: nil
        }
    }

    mutating func hex(_ n: Int) -> UInt32? {
        var v: UInt32 = 0
        for k in 0..<n {
            guard let d = peek(k), let x = hexValue(d) else { return nil }
            v = v * 16 + x
        }
        i += n
        return v
    }

    mutating func parseClass() throws(RegexError) -> RegexClass {
        i += 1
        var cl = RegexClass()
        if eat("^") { cl.negated = true }
        func classAtom(_ p: inout RegexParser) throws(RegexError) -> Escaped {
            guard let c = p.peek() else { throw p.fail("unterminated character class") }
            if c == 0x5C {
                p.i += 1
                guard !p.atEnd else { throw p.fail("\\ at end of pattern") }
                return try p.parseClassEscape(inClass: true)
            }
            p.i += 1
            return .scalar(c)
        }
        while true {
            guard let c = peek() else { throw fail("unterminated character class") }
            if c == 0x5D { i += 1; return cl }
            let a = try classAtom(&self)
            if peek() == 0x2D, let n = peek(1), n != 0x5D {
                i += 1
                let b = try classAtom(&self)
                guard case .scalar(let lo) = a, case .scalar(let hi) = b else { throw fail("invalid character class range") }
                guard lo <= hi else { throw fail("range out of order in character class") }
                cl.ranges.append(lo...hi)
                continue
            }
            switch a {
            case .scalar(let v): cl.ranges.append(v...v)
            case .cls(let inner): cl.builtins.append(contentsOf: inner.builtins)
            }
        }
    }
}

/// General-category names and aliases accepted in `\p{…}` (scripts are not supported).
func unicodeCategories(_ name: String) -> Set<Unicode.GeneralCategory>? {
    var n = name
    if n.hasPrefix("General_Category=") { n.removeFirst("General_Category=".count) }
    if n.hasPrefix("gc=") { n.removeFirst(3) }
    typealias G = Unicode.GeneralCategory
    let table: [String: [G]] = [
        "L": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter],
        "Lu": [.uppercaseLetter], "Ll": [.lowercaseLetter], "Lt": [.titlecaseLetter], "Lm": [.modifierLetter], "Lo": [.otherLetter],
        "LC": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter],
        "M": [.nonspacingMark, .spacingMark, .enclosingMark], "Mn": [.nonspacingMark], "Mc": [.spacingMark], "Me": [.enclosingMark],
        "N": [.decimalNumber, .letterNumber, .otherNumber], "Nd": [.decimalNumber], "Nl": [.letterNumber], "No": [.otherNumber],
        "P": [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation, .otherPunctuation],
        "Pc": [.connectorPunctuation], "Pd": [.dashPunctuation], "Ps": [.openPunctuation], "Pe": [.closePunctuation],
        "Pi": [.initialPunctuation], "Pf": [.finalPunctuation], "Po": [.otherPunctuation],
        "S": [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol], "Sm": [.mathSymbol], "Sc": [.currencySymbol], "Sk": [.modifierSymbol], "So": [.otherSymbol],
        "Z": [.spaceSeparator, .lineSeparator, .paragraphSeparator], "Zs": [.spaceSeparator], "Zl": [.lineSeparator], "Zp": [.paragraphSeparator],
        "C": [.control, .format, .surrogate, .privateUse, .unassigned], "Cc": [.control], "Cf": [.format], "Cs": [.surrogate], "Co": [.privateUse], "Cn": [.unassigned],
    ]
    let aliases: [String: String] = [
        "Letter": "L", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll", "Titlecase_Letter": "Lt", "Modifier_Letter": "Lm",
        "Other_Letter": "Lo", "Cased_Letter": "LC", "Mark": "M", "Combining_Mark": "M", "Nonspacing_Mark": "Mn",
        "Spacing_Mark": "Mc", "Enclosing_Mark": "Me", "Number": "N", "Decimal_Number": "Nd", "digit": "Nd",
        "Letter_Number": "Nl", "Other_Number": "No", "Punctuation": "P", "punct": "P", "Symbol": "S", "Separator": "Z",
        "Space_Separator": "Zs", "Other": "C", "Control": "Cc", "cntrl": "Cc", "Format": "Cf", "Surrogate": "Cs",
        "Private_Use": "Co", "Unassigned": "Cn", "Math_Symbol": "Sm", "Currency_Symbol": "Sc",
        "Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd", "Open_Punctuation": "Ps", "Close_Punctuation": "Pe",
        "Other_Punctuation": "Po", "Modifier_Symbol": "Sk", "Other_Symbol": "So", "Line_Separator": "Zl", "Paragraph_Separator": "Zp",
    ]
    if let c = table[n] { return Set(c) }
    if let a = aliases[n], let c = table[a] { return Set(c) }
    return nil
}

// MARK: - Compiler and VM

enum SingleMatcher {
    case scalar(UInt32)
    case dot
    case set(Int)
}

enum RegexInst {
    case scalar(UInt32)
    case dot
    case set(Int)  // index into RegexProgram.classes
    /// `x*`/`x+`/`x{n,}` (greedy) over one character: consume the longest run, give back one at a time.
    case greedyRun(SingleMatcher, min: Int)
    case split(Int, Int)  // try first, then second
    case jump(Int)
    case save(Int)
    case start, end
    case wordBoundary(Bool)
    case backref(Int)
    case look(Int, ahead: Bool, negated: Bool)
    case mark(Int)  // remember the position in register r
    case progress(Int)  // fail when no input was consumed since mark r (empty-loop guard)
    case match
}

/// A character class with a bitmap for ASCII, the common case.
struct CompiledClass {
    let cls: RegexClass
    let low: UInt64
    let high: UInt64

    init(_ cls: RegexClass) {
        self.cls = cls
        var lo: UInt64 = 0
        var hi: UInt64 = 0
        for c in UInt32(0)..<128 where cls.contains(c) {
            if c < 64 { lo |= 1 << UInt64(c) } else { hi |= 1 << UInt64(c - 64) }
        }
        low = lo
        high = hi
    }

    @inline(__always) func contains(_ c: UInt32) -> Bool {
        if c < 64 { return low & (1 << UInt64(c)) != 0 }
        if c < 128 { return high & (1 << UInt64(c - 64)) != 0 }
        return cls.contains(c)
    }
}

struct RegexProgram: @unchecked Sendable {
    var classes: [CompiledClass] = []
    /// When every match must begin with one of these code points (ASCII bitmap), start positions
    /// that cannot match are skipped.
    var firstScalar: UInt32? = nil
    var code: [RegexInst] = []
    var subprograms: [[RegexInst]] = []
    var slotCount = 0
    var captureSlots = 2
    var anchoredAtStart = false
}

extension RegexInst: @unchecked Sendable {}

struct RegexCompiler {
    static let maxInstructions = 100_000
    var subprograms: [[RegexInst]] = []
    var registers = 0
    var captures = 0
    var classes: [CompiledClass] = []

    mutating func compile(_ root: RegexNode, captures: Int) throws(RegexError) -> RegexProgram {
        self.captures = captures
        var code: [RegexInst] = []
        try emit(root, into: &code)
        code.append(.match)
        var p = RegexProgram()
        p.code = code
        p.subprograms = subprograms
        p.classes = classes
        if case .scalar(let c) = code.first { p.firstScalar = c }
        p.captureSlots = (captures + 1) * 2
        p.slotCount = p.captureSlots + registers
        if case .concat(let items) = root, case .start = items.first { p.anchoredAtStart = true }
        if case .start = root { p.anchoredAtStart = true }
        return p
    }

    mutating func singleMatcher(_ n: RegexNode) -> SingleMatcher? {
        switch n {
        case .scalar(let c): return .scalar(c)
        case .dot: return .dot
        case .set(let cl):
            classes.append(CompiledClass(cl))
            return .set(classes.count - 1)
        case .group(let inner, nil): return singleMatcher(inner)
        default: return nil
        }
    }

    static func canMatchEmpty(_ n: RegexNode) -> Bool {
        switch n {
        case .scalar, .dot, .set: return false
        case .empty, .start, .end, .wordBoundary, .lookaround, .backreference: return true
        case .group(let inner, _): return canMatchEmpty(inner)
        case .concat(let items): return items.allSatisfy(canMatchEmpty)
        case .alternation(let items): return items.contains(where: canMatchEmpty)
        case .quantified(let inner, let lo, _, _): return lo == 0 || canMatchEmpty(inner)
        }
    }

    mutating func emit(_ n: RegexNode, into code: inout [RegexInst]) throws(RegexError) {
        if code.count > Self.maxInstructions { throw .tooLarge(Self.maxInstructions) }
        switch n {
        case .empty: break
        case .scalar(let c): code.append(.scalar(c))
        case .dot: code.append(.dot)
        case .set(let cl):
            classes.append(CompiledClass(cl))
            code.append(.set(classes.count - 1))
        case .start: code.append(.start)
        case .end: code.append(.end)
        case .wordBoundary(let neg): code.append(.wordBoundary(neg))
        case .group(let inner, let cap):
            if let cap { code.append(.save(cap * 2)) }
            try emit(inner, into: &code)
            if let cap { code.append(.save(cap * 2 + 1)) }
        case .concat(let items): for item in items { try emit(item, into: &code) }
        case .alternation(let alts):
            var jumps: [Int] = []
            for (k, alt) in alts.enumerated() {
                if k < alts.count - 1 {
                    let split = code.count
                    code.append(.split(0, 0))
                    try emit(alt, into: &code)
                    jumps.append(code.count)
                    code.append(.jump(0))
                    code[split] = .split(split + 1, code.count)
                } else {
                    try emit(alt, into: &code)
                }
            }
            for j in jumps { code[j] = .jump(code.count) }
        case .backreference(let k): code.append(.backref(k))
        case .lookaround(let inner, let ahead, let neg):
            var sub: [RegexInst] = []
            try emit(inner, into: &sub)
            sub.append(.match)
            subprograms.append(sub)
            code.append(.look(subprograms.count - 1, ahead: ahead, negated: neg))
        case .quantified(let inner, let lo, let hi, let greedy):
            for _ in 0..<lo { try emit(inner, into: &code) }
            if let hi {
                // Optional copies nest: (x(x(x)?)?)?
                var exits: [Int] = []
                for _ in lo..<hi {
                    if code.count > Self.maxInstructions { throw .tooLarge(Self.maxInstructions) }
                    exits.append(code.count)
                    code.append(.split(0, 0))
                    try emit(inner, into: &code)
                }
                for e in exits { code[e] = greedy ? .split(e + 1, code.count) : .split(code.count, e + 1) }
            } else if greedy, let m = singleMatcher(inner) {
                // The `lo` copies were already emitted; the rest is one greedy run.
                code.append(.greedyRun(m, min: 0))
            } else if !Self.canMatchEmpty(inner) {
                // A body that always consumes input cannot loop forever: no progress check.
                let loop = code.count
                code.append(.split(0, 0))
                try emit(inner, into: &code)
                code.append(.jump(loop))
                code[loop] = greedy ? .split(loop + 1, code.count) : .split(code.count, loop + 1)
            } else {
                let reg = registers
                registers += 1
                let loop = code.count
                code.append(.split(0, 0))
                code.append(.mark(reg))
                try emit(inner, into: &code)
                code.append(.progress(reg))
                code.append(.jump(loop))
                code[loop] = greedy ? .split(loop + 1, code.count) : .split(code.count, loop + 1)
            }
        }
    }
}

struct RegexVM {
    let program: RegexProgram
    var input: [UInt32]
    var budget: Int
    let limit: Int
    var slots: [Int]

    init(program: RegexProgram, input: [UInt32], budget: Int, scratch: inout RegexScratch) {
        self.program = program
        self.input = input
        self.budget = budget
        self.limit = budget
        slots = scratch.slots
        scratch.slots = []
        slots.removeAll(keepingCapacity: true)
        slots.append(contentsOf: repeatElement(-1, count: program.slotCount))
        spare = scratch.stack
        scratch.stack = []
    }

    mutating func giveBack(to scratch: inout RegexScratch) {
        swap(&scratch.input, &input)
        swap(&scratch.slots, &slots)
        swap(&scratch.stack, &spare)
    }

    /// Backtrack entries: resume at a branch, undo a slot write, or retry a greedy run one
    /// character shorter (`run`: program counter, start position, length still to try).
    enum Entry: Sendable { case branch(Int, Int), restore(Int, Int), run(Int, Int, Int) }
    // Reused backtrack stack (nested lookaround runs allocate their own).
    private var spare: [Entry] = []

    mutating func search() throws(RegexError) -> Bool {
        let last = program.anchoredAtStart ? 0 : input.count
        var start = 0
        while start <= last {
            if let f = program.firstScalar {
                while start < input.count && input[start] != f { start += 1 }
                if start >= input.count || start > last { return false }
            }
            for k in slots.indices { slots[k] = -1 }
            if try run(program.code, at: start, endAt: nil) != nil { return true }
            start += 1
        }
        return false
    }

    @inline(__always) func matchesOne(_ m: SingleMatcher, _ c: UInt32) -> Bool {
        switch m {
        case .scalar(let x): return c == x
        case .dot: return c != 0x0A && c != 0x0D && c != 0x2028 && c != 0x2029
        case .set(let k): return program.classes[k].contains(c)
        }
    }

    func isWordAt(_ p: Int) -> Bool { p >= 0 && p < input.count && RegexClass.isWord(input[p]) }

    /// Runs `code` from `pos`; returns the end position of the first match.
    mutating func run(_ code: [RegexInst], at startPos: Int, endAt: Int?) throws(RegexError) -> Int? {
        var stack: [Entry] = []
        swap(&stack, &spare)
        stack.removeAll(keepingCapacity: true)
        defer { swap(&stack, &spare) }
        var pc = 0
        var pos = startPos
        while true {
            budget -= 1
            if budget < 0 { throw .stepLimitExceeded(limit) }
            var ok = true
            switch code[pc] {
            case .scalar(let c):
                if pos < input.count && input[pos] == c { pos += 1; pc += 1 } else { ok = false }
            case .dot:
                if pos < input.count, input[pos] != 0x0A, input[pos] != 0x0D, input[pos] != 0x2028, input[pos] != 0x2029 {
                    pos += 1; pc += 1
                } else { ok = false }
            case .set(let k):
                if pos < input.count && program.classes[k].contains(input[pos]) { pos += 1; pc += 1 } else { ok = false }
            case .split(let a, let b):
                stack.append(.branch(b, pos))
                pc = a
            case .greedyRun(let m, let minCount):
                var end = pos
                while end < input.count && matchesOne(m, input[end]) { end += 1 }
                budget -= (end - pos) / 4
                if end - pos < minCount {
                    ok = false
                } else {
                    let base = pos + minCount
                    if end > base { stack.append(.run(pc + 1, base, end - base - 1)) }
                    pos = end
                    pc += 1
                }
            case .jump(let t): pc = t
            case .save(let slot):
                stack.append(.restore(slot, slots[slot]))
                slots[slot] = pos
                pc += 1
            case .mark(let k):
                let slot = program.captureSlots + k
                stack.append(.restore(slot, slots[slot]))
                slots[slot] = pos
                pc += 1
            case .progress(let k):
                if slots[program.captureSlots + k] == pos { ok = false } else { pc += 1 }
            case .start: if pos == 0 { pc += 1 } else { ok = false }
            case .end: if pos == input.count { pc += 1 } else { ok = false }
            case .wordBoundary(let neg):
                let b = isWordAt(pos - 1) != isWordAt(pos)
                if b != neg { pc += 1 } else { ok = false }
            case .backref(let k):
                // Unset or out-of-range groups match the empty string (ECMAScript).
                let s0 = k > 0 && k * 2 + 1 < program.captureSlots ? slots[k * 2] : -1
                let s1 = k > 0 && k * 2 + 1 < program.captureSlots ? slots[k * 2 + 1] : -1
                if s0 < 0 || s1 < 0 {
                    pc += 1
                } else {
                    let len = s1 - s0
                    if pos + len <= input.count && input[s0..<s1].elementsEqual(input[pos..<(pos + len)]) {
                        pos += len
                        pc += 1
                    } else { ok = false }
                }
            case .look(let idx, let ahead, let neg):
                let saved = slots
                var found = false
                if ahead {
                    found = try run(program.subprograms[idx], at: pos, endAt: nil) != nil
                } else {
                    var k = pos
                    while k >= 0 && !found {
                        found = try run(program.subprograms[idx], at: k, endAt: pos) != nil
                        k -= 1
                    }
                }
                if found != neg {
                    if neg { slots = saved } else {
                        // Keep the captures a positive lookaround made, undoably.
                        for k in slots.indices where slots[k] != saved[k] { stack.append(.restore(k, saved[k])) }
                    }
                    pc += 1
                } else {
                    slots = saved
                    ok = false
                }
            case .match:
                if let endAt, pos != endAt { ok = false } else { return pos }
            }
            if !ok {
                while true {
                    guard let e = stack.popLast() else { return nil }
                    switch e {
                    case .restore(let k, let v): slots[k] = v
                    case .branch(let p, let at):
                        pc = p
                        pos = at
                    case .run(let p, let base, let len):
                        pc = p
                        pos = base + len
                        if len > 0 { stack.append(.run(p, base, len - 1)) }
                    }
                    if case .restore = e { continue }
                    break
                }
            }
        }
    }
}

extension RegexClass {
    /// True when code point `c` is in the class (for automata built from `RegexNode`).
    public func matches(_ c: UInt32) -> Bool { contains(c) }
}
