/// A deterministic automaton built from a compiled pattern when the pattern has no
/// back-references, lookaround or word boundaries (almost every `pattern` in practice).
/// Built eagerly over ASCII when `ECMARegex` is compiled, so it is immutable and shared
/// freely; matching is then one table lookup per character. Patterns whose automaton would
/// be too large, and non-ASCII characters that lead to states not built, fall back to the
/// backtracking VM.
struct RegexDFA: Sendable {
    static let maxStates = 192

    /// transitions[state * 128 + c] for ASCII c: the next state, or -1 for "dead".
    let transitions: [Int32]
    let accepting: [Bool]
    /// States holding a `$` that leads to a match if the input ends here.
    let acceptingAtEnd: [Bool]
    let pcs: [[Int]]
    let stateIndex: [[Int]: Int32]
    let code: [RegexInst]
    let classes: [CompiledClass]
    let closures: [[Int]]  // epsilon closure of each pc, not at the start of input
    let restart: [Int]?  // closure of pc 0 mid-input, merged into every state (unanchored search)
    let start: Int32

    init?(_ program: RegexProgram) {
        let code = program.code
        for inst in code {
            switch inst {
            case .wordBoundary, .backref, .look: return nil
            default: continue
            }
        }
        func closure(_ pc: Int, atStart: Bool) -> [Int] {
            var seen = Set<Int>()
            var out: [Int] = []
            var work = [pc]
            while let p = work.popLast() {
                guard p < code.count, seen.insert(p).inserted else { continue }
                switch code[p] {
                case .split(let a, let b): work.append(b); work.append(a)
                case .jump(let t): work.append(t)
                case .save, .mark, .progress: work.append(p + 1)
                case .start: if atStart { work.append(p + 1) }
                case .greedyRun:
                    out.append(p)
                    work.append(p + 1)
                case .scalar, .dot, .set, .end, .match: out.append(p)
                case .wordBoundary, .backref, .look: break
                }
            }
            return out
        }
        let closures = code.indices.map { closure($0, atStart: false) }
        let restart = program.anchoredAtStart ? nil : closures[0]
        func normalise(_ set: Set<Int>) -> [Int] {
            var s = set
            if let restart { s.formUnion(restart) }
            return s.sorted()
        }
        func matches(_ inst: RegexInst, _ c: UInt32) -> Bool {
            switch inst {
            case .scalar(let x): return c == x
            case .dot: return c != 0x0A && c != 0x0D && c != 0x2028 && c != 0x2029
            case .set(let k): return program.classes[k].contains(c)
            case .greedyRun(let m, _):
                switch m {
                case .scalar(let x): return c == x
                case .dot: return c != 0x0A && c != 0x0D && c != 0x2028 && c != 0x2029
                case .set(let k): return program.classes[k].contains(c)
                }
            default: return false
            }
        }
        func acceptsAtEnd(_ pcs: [Int]) -> Bool {
            var seen = Set<Int>()
            var work = pcs.filter { if case .end = code[$0] { return true } else { return false } }
            while let p = work.popLast() {
                guard seen.insert(p).inserted else { continue }
                if case .match = code[p] { return true }
                if case .end = code[p] { work.append(contentsOf: closures[p + 1]) }
            }
            return false
        }
        var states: [[Int]] = [normalise(Set(closure(0, atStart: true)))]
        var index: [[Int]: Int32] = [states[0]: 0]
        var table: [Int32] = []
        var i = 0
        while i < states.count {
            let current = states[i]
            for c in UInt32(0)..<128 {
                var next = Set<Int>()
                for p in current where matches(code[p], c) {
                    if case .greedyRun = code[p] { next.formUnion(closures[p]) ; next.insert(p) } else { next.formUnion(closures[p + 1]) }
                }
                let key = normalise(next)
                if key.isEmpty {
                    table.append(-1)
                    continue
                }
                if let existing = index[key] {
                    table.append(existing)
                } else {
                    guard states.count < Self.maxStates else { return nil }
                    index[key] = Int32(states.count)
                    table.append(Int32(states.count))
                    states.append(key)
                }
            }
            i += 1
        }
        transitions = table
        accepting = states.map { $0.contains { if case .match = code[$0] { return true } else { return false } } }
        acceptingAtEnd = states.map(acceptsAtEnd)
        pcs = states
        stateIndex = index
        self.code = code
        classes = program.classes
        self.closures = closures
        self.restart = restart
        start = 0
    }

    /// `true`/`false` when decided; `nil` when a non-ASCII character leads outside the built
    /// states (the caller then uses the backtracking VM).
    func matches(_ string: String) -> Bool? {
        var state = start
        if accepting[Int(state)] { return true }
        for scalar in string.unicodeScalars {
            let c = scalar.value
            if c < 128 {
                state = transitions[Int(state) * 128 + Int(c)]
            } else {
                guard let next = step(state, c) else { return nil }
                state = next
            }
            if state < 0 { return false }
            if accepting[Int(state)] { return true }
        }
        return acceptingAtEnd[Int(state)]
    }

    private func step(_ state: Int32, _ c: UInt32) -> Int32? {
        var next = Set<Int>()
        for p in pcs[Int(state)] {
            let hit: Bool
            switch code[p] {
            case .scalar(let x): hit = c == x
            case .dot: hit = c != 0x2028 && c != 0x2029
            case .set(let k): hit = classes[k].contains(c)
            case .greedyRun(let m, _):
                switch m {
                case .scalar(let x): hit = c == x
                case .dot: hit = c != 0x2028 && c != 0x2029
                case .set(let k): hit = classes[k].contains(c)
                }
            default: hit = false
            }
            guard hit else { continue }
            if case .greedyRun = code[p] {
                next.formUnion(closures[p])
                next.insert(p)
            } else {
                next.formUnion(closures[p + 1])
            }
        }
        if let restart { next.formUnion(restart) }
        if next.isEmpty { return -1 }
        return stateIndex[next.sorted()]
    }
}
