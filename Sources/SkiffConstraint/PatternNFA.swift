import SkiffSchema

/// A Thompson NFA over code points built from a pattern's `RegexNode` tree, used to prune
/// string prefixes that can no longer match (search semantics: unanchored unless `^`).
/// The validator still decides the finished string, so the NFA only has to be a superset:
/// patterns with back-references, lookaround or word boundaries get no NFA.
struct PatternNFA: Sendable {
    enum Test: Sendable {
        case scalar(UInt32)
        case dot
        case set(RegexClass)
        func matches(_ c: UInt32) -> Bool {
            switch self {
            case .scalar(let s): return s == c
            case .dot: return c != 0x0A && c != 0x0D && c != 0x2028 && c != 0x2029
            case .set(let k): return k.matches(c)
            }
        }
    }
    /// Can this test accept some code point above ASCII? (Conservative: yes when unsure.)
    static func nonASCII(_ t: Test) -> Bool {
        switch t {
        case .scalar(let c): return c >= 0x80
        case .dot: return true
        case .set(let k):
            if k.negated || k.ranges.contains(where: { $0.upperBound >= 0x80 }) { return true }
            return k.builtins.contains { b, neg in
                if neg { return true }
                switch b {
                case .digit, .word: return false
                default: return true
                }
            }
        }
    }

    enum State: Sendable {
        case char(Test, next: Int)
        case split([Int])
        case startAssert(next: Int)
        case endAssert(next: Int)
        case match
    }

    static let maxStates = 256
    private(set) var states: [State] = []
    private(set) var start = 0
    /// Per state and "at start of input": char states reachable by epsilons, whether the match
    /// state is reachable (no end of input), and whether it is reachable at the end of input.
    private var chars: [[Bits]] = []
    private var matchNow: [[Bool]] = []
    private var matchEnd: [[Bool]] = []

    init?(_ node: RegexNode) {
        states.append(.match)
        guard let s = build(node, 0) else { return nil }
        start = s
        for flag in [false, true] {
            var c: [Bits] = [], m: [Bool] = [], e: [Bool] = []
            for s in states.indices {
                let r = closure(s, atStart: flag)
                c.append(r.0)
                m.append(r.1)
                e.append(r.2)
            }
            chars.append(c)
            matchNow.append(m)
            matchEnd.append(e)
        }
        restartAlive = matchEnd[0][start] || !chars[0][start].isEmpty
    }

    private mutating func add(_ s: State) -> Int? {
        guard states.count < Self.maxStates else { return nil }
        states.append(s)
        return states.count - 1
    }

    private mutating func build(_ node: RegexNode, _ next: Int) -> Int? {
        switch node {
        case .empty: return next
        case .scalar(let c): return add(.char(.scalar(c), next: next))
        case .dot: return add(.char(.dot, next: next))
        case .set(let k): return add(.char(.set(k), next: next))
        case .start: return add(.startAssert(next: next))
        case .end: return add(.endAssert(next: next))
        case .group(let n, _): return build(n, next)
        case .concat(let l):
            var cur = next
            for n in l.reversed() {
                guard let s = build(n, cur) else { return nil }
                cur = s
            }
            return cur
        case .alternation(let l):
            var outs: [Int] = []
            for n in l {
                guard let s = build(n, next) else { return nil }
                outs.append(s)
            }
            return add(.split(outs))
        case .quantified(let n, let lo, let hi, _):
            var cur = next
            if let hi {
                guard hi - lo <= Self.maxStates else { return nil }
                for _ in 0..<(hi - lo) {
                    guard let body = build(n, cur), let s = add(.split([body, next])) else { return nil }
                    cur = s
                }
            } else {
                guard let loop = add(.split([])) else { return nil }
                guard let body = build(n, loop) else { return nil }
                states[loop] = .split([body, next])
                cur = loop
            }
            guard lo <= Self.maxStates else { return nil }
            for _ in 0..<lo {
                guard let s = build(n, cur) else { return nil }
                cur = s
            }
            return cur
        case .wordBoundary, .backreference, .lookaround: return nil
        }
    }

    private func closure(_ s: Int, atStart: Bool) -> (Bits, Bool, Bool) {
        var cs = Bits(), now = false, end = false
        var seen = Set<Int>()
        var work: [(Int, Bool)] = [(s, false)]  // (state, passed an end assertion)
        while let (p, passedEnd) = work.popLast() {
            guard seen.insert(p * 2 + (passedEnd ? 1 : 0)).inserted else { continue }
            switch states[p] {
            case .char: if !passedEnd { cs.insert(p) }
            case .split(let l): for t in l { work.append((t, passedEnd)) }
            case .startAssert(let t): if atStart { work.append((t, passedEnd)) }
            case .endAssert(let t): work.append((t, true))
            case .match:
                if passedEnd { end = true } else { now = true; end = true }
            }
        }
        return (cs, now, end)
    }

    /// Kernel states after the opening quote.
    var initial: PatState {
        var k = PatState()
        k.kernel.insert(start)
        k.atStart = true
        k.matched = matchNow[1][start]
        return k
    }

    /// Steps by one code point; nil when no match is possible any more.
    func step(_ st: PatState, _ c: UInt32) -> PatState? {
        if st.matched { return st }
        var next = PatState()
        let flag = st.atStart ? 1 : 0
        var reach = Bits()
        st.kernel.forEach { reach.formUnion(chars[flag][$0]) }
        reach.forEach { s in
            if case .char(let t, let n) = states[s], t.matches(c) { next.kernel.insert(n) }
        }
        next.kernel.insert(start)  // search: a match may start at any position
        var alive = false
        next.kernel.forEach { s in
            if matchNow[0][s] { next.matched = true }
            if matchEnd[0][s] || !chars[0][s].isEmpty { alive = true }
        }
        return next.matched || alive ? next : nil
    }

    /// True when the pattern can never rule a prefix out: a search that may start at any position
    /// (no `^` in front) restarts after any code point, so only the end of the string decides.
    private(set) var restartAlive = false

    /// Can a non-ASCII code point come next? (A UTF-8 lead byte is only worth reading if so.)
    /// `step` restarts the search after every code point, so an unanchored pattern takes any.
    func allowsNonASCII(_ st: PatState) -> Bool {
        if st.matched || restartAlive { return true }
        let flag = st.atStart ? 1 : 0
        var reach = Bits()
        st.kernel.forEach { reach.formUnion(chars[flag][$0]) }
        var ok = false
        reach.forEach { s in
            if !ok, case .char(let t, _) = states[s], Self.nonASCII(t) { ok = true }
        }
        return ok
    }

    /// In pattern strings, escapes are limited to the canonical ones (`\"`, `\\`, `\/`, `\b`…,
    /// `\u00XX` for control characters; anything else is written as itself): after `b` moved the
    /// lexer to `st`, is the escape still both canonical and acceptable to the pattern?
    func escapeOK(_ st: StrState, _ b: UInt8) -> Bool {
        // A pattern that cannot die takes any escape, like a plain string (and the plain slice).
        if restartAlive { return true }
        switch st.esc {
        case 1:  // just read the backslash: some escapable character must fit the pattern
            for c: UInt32 in [0x22, 0x5C, 0x2F] where step(st.pat, c) != nil { return true }
            for c: UInt32 in 0..<0x20 where step(st.pat, c) != nil { return true }
            return false
        case 3, 4: return b == 0x30
        case 5: return b == 0x30 || b == 0x31
        default: return true
        }
    }

    /// Does the string end in a match?
    func accepts(_ st: PatState) -> Bool {
        if st.matched { return true }
        let flag = st.atStart ? 1 : 0
        var ok = false
        st.kernel.forEach { if matchEnd[flag][$0] { ok = true } }
        return ok
    }
}

/// 256 bits.
struct Bits: Hashable, Sendable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    var isEmpty: Bool { (w0 | w1 | w2 | w3) == 0 }
    mutating func insert(_ i: Int) {
        let bit: UInt64 = 1 << UInt64(i & 63)
        switch i >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }
    mutating func formUnion(_ o: Bits) {
        w0 |= o.w0; w1 |= o.w1; w2 |= o.w2; w3 |= o.w3
    }
    func forEach(_ body: (Int) -> Void) {
        for (k, w) in [w0, w1, w2, w3].enumerated() {
            var x = w
            while x != 0 {
                body(k * 64 + x.trailingZeroBitCount)
                x &= x - 1
            }
        }
    }
}

/// Pattern progress inside one string.
struct PatState: Hashable, Sendable {
    var kernel = Bits()
    var atStart = false
    var matched = false
}

/// The NFA determinised lazily over ASCII: pattern states are numbered as they are met and
/// ASCII transitions tabulated, so the token walk does one table lookup per byte. The table is
/// a raw buffer (no exclusivity checks in the hot loop); not thread-safe, like `Grammar`.
final class PatternDFA: @unchecked Sendable {
    let nfa: PatternNFA
    private var index: [PatState: Int32] = [:]
    private(set) var states: [PatState] = []
    /// trans[state * 128 + c]: -2 not computed yet, -1 dead.
    private var trans: UnsafeMutablePointer<Int32>
    private var capacity = 16
    private var nonASCIICache: [Int32: Bool] = [:]

    init(_ nfa: PatternNFA) {
        self.nfa = nfa
        trans = .allocate(capacity: 16 * 128)
    }

    deinit { trans.deallocate() }

    func id(_ st: PatState) -> Int32 {
        if let i = index[st] { return i }
        let i = Int32(states.count)
        index[st] = i
        states.append(st)
        if states.count > capacity {
            let bigger = UnsafeMutablePointer<Int32>.allocate(capacity: capacity * 2 * 128)
            bigger.update(from: trans, count: capacity * 128)
            trans.deallocate()
            trans = bigger
            capacity *= 2
        }
        (trans + Int(i) * 128).initialize(repeating: -2, count: 128)
        return i
    }

    func allowsNonASCII(_ s: Int32) -> Bool {
        if let b = nonASCIICache[s] { return b }
        let b = nfa.allowsNonASCII(states[Int(s)])
        nonASCIICache[s] = b
        return b
    }

    @inline(__always) func step(_ s: Int32, _ c: UInt32) -> Int32 {
        if c < 128 {
            let t = trans[Int(s) * 128 + Int(c)]
            if t != -2 { return t }
            let n = nfa.step(states[Int(s)], c).map { id($0) } ?? -1
            trans[Int(s) * 128 + Int(c)] = n
            return n
        }
        return nfa.step(states[Int(s)], c).map { id($0) } ?? -1
    }
}
