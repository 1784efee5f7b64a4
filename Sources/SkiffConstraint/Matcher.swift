import SkiffJSON
import SkiffSchema

/// Lexer state inside a string: escapes (with `\uXXXX` surrogate pairs), UTF-8 validity,
/// code points so far, and the position in an enum trie.
struct StrState: Hashable {
    /// 0 plain, 1 after `\`, 2–5 `\u` hex digits read (phase-2), 6 after a high surrogate (want `\`),
    /// 7 want `u`, 8–11 low-surrogate hex digits.
    var esc: UInt8 = 0
    /// UTF-8 continuation bytes still expected, and the range the next one must fall in.
    var need: UInt8 = 0
    var lo: UInt8 = 0x80
    var hi: UInt8 = 0xBF
    var hex: UInt16 = 0
    var cps: Int32 = 0
    var trie: Int32 = -1
    /// The code point being read (complete when `cps` grows), and a pending high surrogate.
    var cp: UInt32 = 0
    var high: UInt16 = 0
    var pat = PatState()
    var isPlain: Bool { esc == 0 && need == 0 }
}

/// Object bookkeeping: keys written so far and the rank of the last one.
struct ObjInfo: Hashable {
    var seen: [String] = []
    var lastRank = 0
}

/// The top of one configuration: where the lexer and parser stand.
enum Frame: Hashable {
    case done
    case value(Spec)
    case string(Spec, start: Int32, StrState)
    /// A copy-from-page string: offsets in the page text the output so far may end at.
    case copy(Spec, start: Int32, StrState, positions: [Int32])
    case number(Spec, start: Int32, phase: UInt8)
    case literal(Spec, start: Int32, which: UInt8, pos: UInt8)
    case objStart(Spec, start: Int32)
    case objKey(Spec, start: Int32, ObjInfo, keyStart: Int32, StrState)
    case objColon(Spec, start: Int32, ObjInfo, key: String)
    case objNext(Spec, start: Int32, ObjInfo)
    case objComma(Spec, start: Int32, ObjInfo)
    case arrStart(Spec, start: Int32)
    case arrNext(Spec, start: Int32, count: Int32)
}

extension Spec: Hashable {
    static func == (a: Spec, b: Spec) -> Bool { a === b }
    func hash(into h: inout Hasher) { h.combine(id) }
}

/// A persistent (immutable, shared) stack of suspended frames: pushing allocates one node,
/// popping and forking are free, so nondeterminism and rollback stay cheap.
final class Stack: Hashable, @unchecked Sendable {
    let frame: Frame
    let parent: Stack?
    let depth: Int
    let hashCache: Int
    init(_ frame: Frame, _ parent: Stack?) {
        self.frame = frame
        self.parent = parent
        depth = (parent?.depth ?? 0) + 1
        var h = Hasher()
        h.combine(frame)
        h.combine(parent?.hashCache ?? 0)
        hashCache = h.finalize()
    }
    static func == (a: Stack, b: Stack) -> Bool {
        var x: Stack? = a, y: Stack? = b
        while let p = x, let q = y {
            if p === q { return true }
            if p.hashCache != q.hashCache || p.frame != q.frame { return false }
            x = p.parent
            y = q.parent
        }
        return x == nil && y == nil
    }
    func hash(into h: inout Hasher) { h.combine(hashCache) }
}

/// One parse in progress.
struct Config: Hashable {
    var top: Frame
    var stack: Stack?
    /// Whitespace bytes in the current run (flexible-whitespace mode only).
    var ws: UInt8 = 0
}

private let literals: [[UInt8]] = [Array("true".utf8), Array("false".utf8), Array("null".utf8)]

@inline(__always) private func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
@inline(__always) private func isHex(_ b: UInt8) -> Bool {
    isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
}
@inline(__always) private func hexValue(_ b: UInt8) -> UInt16 {
    isDigit(b) ? UInt16(b - 0x30) : UInt16((b | 0x20) - 0x61 + 10)
}

/// Steps configurations over bytes. `buffer` holds every byte of the output so far (the
/// byte being fed is at `pos`), so finished values can be handed to the validator.
struct Stepper {
    let grammar: Grammar
    var failure: ConstraintError?
    /// Results of finished-value checks while the committed output stays `committed` bytes long:
    /// every token that closes the same value with the same bytes shares one validator run.
    var committed = 0 {
        didSet { if committed != oldValue { checkMemo.removeAll(keepingCapacity: true) } }
    }
    struct CheckKey: Hashable {
        let spec: Int
        let start: Int32
        let end: Int
        let tail: [UInt8]
    }
    var checkMemo: [CheckKey: Bool] = [:]
    /// Suffix walks step bytes without the content before them: a finished-value check on a
    /// value that started before `watchFrom` would read the wrong bytes, so it is assumed to
    /// pass and counted in `watchHits`, and the walk decides the tokens it reaches that way
    /// from their real bytes (the assumption only widens, so nothing valid is pruned).
    var watchFrom = Int.min  // no walk in progress: nothing watched
    var watchHits = 0

    init(grammar: Grammar) { self.grammar = grammar }

    /// Feeds `b` (at `buffer[pos]`) to `c`, appending the resulting configurations to `out`.
    mutating func feed(_ c: Config, _ b: UInt8, _ pos: Int, _ buffer: UnsafeBufferPointer<UInt8>, _ out: inout [Config]) {
        if grammar.options.maxWhitespace > 0 && (b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09) {
            switch c.top {
            case .value, .objStart, .objColon, .objNext, .objComma, .arrStart, .arrNext, .done:
                // Bounded runs: small models otherwise loop on whitespace.
                if Int(c.ws) < grammar.options.maxWhitespace { out.append(Config(top: c.top, stack: c.stack, ws: c.ws + 1)) }
                return
            default: break
            }
        }
        switch c.top {
        case .done:
            return
        case .value(let s):
            startValue(s, c.stack, b, pos, buffer, &out)
        case .string(let s, let start, var st):
            if let trie = s.enumTrie {
                let t = trie.step(st.trie, b)
                guard t >= 0 else { return }
                if b == 0x22 && st.esc == 0 {
                    // In canonical serialisations a bare quote only ends the string.
                    complete(s, start, pos, c.stack, buffer, &out)
                    return
                }
                st.esc = (b == 0x5C && st.esc == 0) ? 1 : 0
                st.trie = t
                out.append(Config(top: .string(s, start: start, st), stack: c.stack))
                return
            }
            let before = st.cps
            switch lexString(&st, b, maxLength: s.maxLength) {
            case .dead: return
            case .more:
                if let nfa = s.patternNFA {
                    if st.cps != before {
                        guard let p = nfa.step(st.pat, st.cp) else { return }
                        st.pat = p
                    } else if b >= 0xC0 && st.esc == 0 {
                        // A UTF-8 lead byte: only if the pattern can take a non-ASCII character.
                        guard nfa.allowsNonASCII(st.pat) else { return }
                    } else if st.esc != 0 {
                        guard nfa.escapeOK(st, b) else { return }
                    }
                }
                out.append(Config(top: .string(s, start: start, st), stack: c.stack))
            case .closed:
                guard Int(st.cps) >= s.minLength else { return }
                if let nfa = s.patternNFA, !nfa.accepts(st.pat) { return }
                complete(s, start, pos, c.stack, buffer, &out)
            }
        case .copy(let s, let start, var st, let positions):
            switch lexString(&st, b, maxLength: s.maxLength) {
            case .dead: return
            case .closed:
                guard pos - Int(start) > 1, Int(st.cps) >= s.minLength,
                      positions.contains(where: { grammar.pageWordEnd[Int($0)] }) else { return }
                complete(s, start, pos, c.stack, buffer, &out)
            case .more:
                var next: [Int32] = []
                let text = grammar.pageText
                for p in positions where Int(p) < text.count && text[Int(p)] == b { next.append(p + 1) }
                guard !next.isEmpty else { return }
                out.append(Config(top: .copy(s, start: start, st, positions: next), stack: c.stack))
            }
        case .number(let s, let start, let phase):
            if let p = numberStep(phase, b) {
                if let cap = grammar.options.maxNumberLength, pos - Int(start) + 1 > cap { return }
                out.append(Config(top: .number(s, start: start, phase: p), stack: c.stack))
                return
            }
            guard numberAccepting(phase) else { return }
            // The byte ends the number: finish it, then the parent reads the byte.
            var tmp: [Config] = []
            complete(s, start, pos - 1, c.stack, buffer, &tmp)
            for t in tmp { feed(t, b, pos, buffer, &out) }
        case .literal(let s, let start, let which, let p):
            let lit = literals[Int(which)]
            guard lit[Int(p)] == b else { return }
            if Int(p) + 1 == lit.count {
                complete(s, start, pos, c.stack, buffer, &out)
            } else {
                out.append(Config(top: .literal(s, start: start, which: which, pos: p + 1), stack: c.stack))
            }
        case .objStart(let s, let start):
            if b == 0x7D {
                guard s.required.isEmpty && s.minProperties == 0 else { return }
                complete(s, start, pos, c.stack, buffer, &out)
            } else if b == 0x22 {
                guard s.maxProperties > 0 else { return }
                let info = ObjInfo()
                guard keyPossible(s, info, buffer[pos...pos]) else { return }
                out.append(Config(top: .objKey(s, start: start, info, keyStart: Int32(pos), StrState()), stack: c.stack))
            }
        case .objComma(let s, let start, let info):
            guard b == 0x22, keyPossible(s, info, buffer[pos...pos]) else { return }
            out.append(Config(top: .objKey(s, start: start, info, keyStart: Int32(pos), StrState()), stack: c.stack))
        case .objKey(let s, let start, let info, let keyStart, var st):
            switch lexString(&st, b, maxLength: Int.max) {
            case .dead: return
            case .more:
                if s.closedNames != nil || grammar.options.propertyOrder != .any {
                    guard keyPossible(s, info, buffer[Int(keyStart)...pos]) else { return }
                }
                out.append(Config(top: .objKey(s, start: start, info, keyStart: keyStart, st), stack: c.stack))
            case .closed:
                let bytes = Array(buffer[Int(keyStart)...pos])
                guard case .string(let key)? = try? JSONParser().parse(bytes) else { return }
                guard s.mayWrite(key, after: info), (try? s.child(key)) ?? nil != nil else { return }
                out.append(Config(top: .objColon(s, start: start, info, key: key), stack: c.stack))
            }
        case .objColon(let s, let start, var info, let key):
            guard b == 0x3A else { return }
            guard let child = fetch({ () throws(ConstraintError) in try s.child(key) }) ?? nil else { return }
            info.lastRank = s.rank(key)
            info.seen.append(key)
            let parent = Stack(.objNext(s, start: start, info), c.stack)
            guard parent.depth <= grammar.options.maxDepth else {
                failure = .limitExceeded("nesting deeper than \(grammar.options.maxDepth)")
                return
            }
            pushValue(child, parent, &out)
        case .objNext(let s, let start, let info):
            if b == 0x7D {
                guard info.seen.count >= s.minProperties else { return }
                for r in s.required where !info.seen.contains(r) { return }
                complete(s, start, pos, c.stack, buffer, &out)
            } else if b == 0x2C {
                guard info.seen.count < s.maxProperties else { return }
                if s.closedNames != nil || grammar.options.propertyOrder != .any {
                    guard keyPossible(s, info, []) else { return }
                }
                out.append(Config(top: .objComma(s, start: start, info), stack: c.stack))
            }
        case .arrStart(let s, let start):
            if b == 0x5D {
                guard s.minItems == 0 else { return }
                complete(s, start, pos, c.stack, buffer, &out)
                return
            }
            guard s.maxItems > 0, let item = fetch({ () throws(ConstraintError) in try s.item(0) }) ?? nil else { return }
            let parent = Stack(.arrNext(s, start: start, count: 1), c.stack)
            guard parent.depth <= grammar.options.maxDepth else {
                failure = .limitExceeded("nesting deeper than \(grammar.options.maxDepth)")
                return
            }
            var tmp: [Config] = []
            pushValue(item, parent, &tmp)
            for t in tmp { feed(t, b, pos, buffer, &out) }
        case .arrNext(let s, let start, let count):
            if b == 0x5D {
                guard Int(count) >= s.minItems else { return }
                complete(s, start, pos, c.stack, buffer, &out)
            } else if b == 0x2C {
                guard Int(count) < s.maxItems,
                      let item = fetch({ () throws(ConstraintError) in try s.item(Int(count)) }) ?? nil else { return }
                pushValue(item, Stack(.arrNext(s, start: start, count: count + 1), c.stack), &out)
            }
        }
    }

    private mutating func fetch<T>(_ body: () throws(ConstraintError) -> T) -> T? {
        do { return try body() } catch {
            failure = error
            return nil
        }
    }

    /// Pushes the branches of `s` as value frames over `stack`.
    mutating func pushValue(_ s: Spec, _ stack: Stack?, _ out: inout [Config]) {
        guard let bs = fetch({ () throws(ConstraintError) in try s.branches() }) else { return }
        for b in bs { out.append(Config(top: .value(b), stack: stack)) }
    }

    private mutating func startValue(_ s: Spec, _ stack: Stack?, _ b: UInt8, _ pos: Int, _ buffer: UnsafeBufferPointer<UInt8>, _ out: inout [Config]) {
        let start = Int32(pos)
        switch b {
        case 0x7B: if s.types.contains(.object) { out.append(Config(top: .objStart(s, start: start), stack: stack)) }
        case 0x5B: if s.types.contains(.array) { out.append(Config(top: .arrStart(s, start: start), stack: stack)) }
        case 0x22:
            if s.copyFromPage {
                out.append(Config(top: .copy(s, start: start, StrState(), positions: grammar.pageWordStarts), stack: stack))
            } else if s.types.contains(.string) {
                var st = StrState()
                if s.enumTrie != nil { st.trie = 0 }
                if let nfa = s.patternNFA { st.pat = nfa.initial }
                out.append(Config(top: .string(s, start: start, st), stack: stack))
            }
        case 0x2D: if s.types.contains(.number) { out.append(Config(top: .number(s, start: start, phase: 0), stack: stack)) }
        case 0x30: if s.types.contains(.number) { out.append(Config(top: .number(s, start: start, phase: 1), stack: stack)) }
        case 0x31...0x39: if s.types.contains(.number) { out.append(Config(top: .number(s, start: start, phase: 2), stack: stack)) }
        case 0x74, 0x66:
            if s.types.contains(.boolean) {
                out.append(Config(top: .literal(s, start: start, which: b == 0x74 ? 0 : 1, pos: 1), stack: stack))
            }
        case 0x6E: if s.types.contains(.null) { out.append(Config(top: .literal(s, start: start, which: 2, pos: 1), stack: stack)) }
        default: return
        }
    }

    /// A value of spec `s` spans `buffer[start...end]`: run the checks, then resume the parent.
    mutating func complete(_ s: Spec, _ start: Int32, _ end: Int, _ stack: Stack?, _ buffer: UnsafeBufferPointer<UInt8>, _ out: inout [Config]) {
        if !s.checks.isEmpty || s.integerOnly {
            if Int(start) < watchFrom {
                // Assumed to pass; the walk re-tries what depends on it (see `watchFrom`).
                watchHits += 1
                if let stack {
                    out.append(Config(top: stack.frame, stack: stack.parent))
                } else {
                    out.append(Config(top: .done, stack: nil))
                }
                return
            }
            let key = CheckKey(spec: s.id, start: start, end: end,
                               tail: end >= committed ? Array(buffer[max(committed, Int(start))...end]) : [])
            if let ok = checkMemo[key] {
                guard ok else { return }
            } else {
                let ok = check(s, Array(buffer[Int(start)...end]))
                checkMemo[key] = ok
                guard ok else { return }
            }
        }
        if let stack {
            out.append(Config(top: stack.frame, stack: stack.parent))
        } else {
            out.append(Config(top: .done, stack: nil))
        }
    }

    private func check(_ s: Spec, _ bytes: [UInt8]) -> Bool {
        guard let v = try? JSONParser().parse(bytes) else { return false }
        if s.integerOnly, case .number(let n) = v, !n.isInteger { return false }
        for n in s.checks {
            guard (try? grammar.schema.isValid(v, against: n)) == true else { return false }
        }
        return true
    }

    /// Can a key starting with `prefix` (opening quote included; empty: not started) still be written?
    private func keyPossible(_ s: Spec, _ info: ObjInfo, _ prefix: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        keyPossible(s, info, Array(prefix))
    }

    private func keyPossible(_ s: Spec, _ info: ObjInfo, _ prefix: [UInt8]) -> Bool {
        let ordered = grammar.options.propertyOrder != .any
        guard let closed = s.closedNames else {
            if !ordered { return true }
            // Open objects: any new key is possible unless a skipped required key forbids it.
            // Unknown keys rank last, so they are possible when every required key is written.
            if s.required.allSatisfy({ info.seen.contains($0) }) { return true }
            return s.names.indices.contains { i in
                let name = s.names[i]
                guard !info.seen.contains(name), s.rank(name) >= info.lastRank else { return false }
                return prefixMatches(JSONSerializer.compact.data(from: .string(name)), prefix)
            }
        }
        for (i, name) in closed.enumerated() where prefixMatches(name, prefix) && s.mayWrite(s.closedNameStrings[i], after: info) {
            return true
        }
        return false
    }

    @inline(__always) private func prefixMatches(_ name: [UInt8], _ prefix: [UInt8]) -> Bool {
        guard prefix.count <= name.count else { return false }
        for i in prefix.indices where name[i] != prefix[i] { return false }
        return true
    }
}

extension Spec {
    /// May key `name` come next in an object that has `info` so far? Not written yet, and with a
    /// fixed order not ranked before the last key nor after a required key still missing.
    func mayWrite(_ name: String, after info: ObjInfo) -> Bool {
        if info.seen.contains(name) { return false }
        guard grammar.options.propertyOrder != .any else { return true }
        let r = rank(name)
        return r >= info.lastRank && !required.contains(where: { !info.seen.contains($0) && rank($0) < r })
    }
}

enum LexResult { case dead, more, closed }

/// One byte of a JSON string body (after the opening quote).
@inline(__always) func lexString(_ st: inout StrState, _ b: UInt8, maxLength: Int) -> LexResult {
    if st.need > 0 {
        guard b >= st.lo && b <= st.hi else { return .dead }
        st.cp = st.cp << 6 | UInt32(b & 0x3F)
        st.need -= 1
        st.lo = 0x80
        st.hi = 0xBF
        if st.need == 0 { st.cps += 1 }
        return Int(st.cps) <= maxLength ? .more : .dead
    }
    switch st.esc {
    case 0:
        switch b {
        case 0x22: return .closed
        case 0x5C: st.esc = 1; return Int(st.cps) < maxLength ? .more : .dead
        case 0x00..<0x20: return .dead
        case 0x20..<0x80: st.cps += 1; st.cp = UInt32(b)
        case 0xC2...0xDF: st.need = 1; st.cp = UInt32(b & 0x1F)
        case 0xE0: st.need = 2; st.lo = 0xA0; st.cp = UInt32(b & 0x0F)
        case 0xE1...0xEC, 0xEE, 0xEF: st.need = 2; st.cp = UInt32(b & 0x0F)
        case 0xED: st.need = 2; st.hi = 0x9F; st.cp = UInt32(b & 0x0F)
        case 0xF0: st.need = 3; st.lo = 0x90; st.cp = UInt32(b & 0x07)
        case 0xF1...0xF3: st.need = 3; st.cp = UInt32(b & 0x07)
        case 0xF4: st.need = 3; st.hi = 0x8F; st.cp = UInt32(b & 0x07)
        default: return .dead
        }
        return Int(st.cps) < maxLength || (Int(st.cps) == maxLength && st.need == 0) ? .more : .dead
    case 1:
        switch b {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
            st.esc = 0
            st.cps += 1
            switch b {
            case 0x62: st.cp = 0x08
            case 0x66: st.cp = 0x0C
            case 0x6E: st.cp = 0x0A
            case 0x72: st.cp = 0x0D
            case 0x74: st.cp = 0x09
            default: st.cp = UInt32(b)
            }
        case 0x75:
            st.esc = 2
            st.hex = 0
        default: return .dead
        }
        return .more
    case 2...5:
        guard isHex(b) else { return .dead }
        st.hex = st.hex << 4 | hexValue(b)
        if st.esc < 5 {
            st.esc += 1
            return .more
        }
        switch st.hex {
        case 0xD800...0xDBFF: st.esc = 6; st.high = st.hex
        case 0xDC00...0xDFFF: return .dead
        default:
            st.esc = 0
            st.cps += 1
            st.cp = UInt32(st.hex)
        }
        return .more
    case 6: guard b == 0x5C else { return .dead }; st.esc = 7; return .more
    case 7: guard b == 0x75 else { return .dead }; st.esc = 8; return .more
    case 8: guard b == 0x64 || b == 0x44 else { return .dead }; st.esc = 9; st.hex = 0xD; return .more
    case 9:
        guard (b >= 0x63 && b <= 0x66) || (b >= 0x43 && b <= 0x46) else { return .dead }
        st.esc = 10
        st.hex = st.hex << 4 | hexValue(b)
        return .more
    case 10: guard isHex(b) else { return .dead }; st.esc = 11; st.hex = st.hex << 4 | hexValue(b); return .more
    default:
        guard isHex(b) else { return .dead }
        st.hex = st.hex << 4 | hexValue(b)
        st.esc = 0
        st.cps += 1
        st.cp = 0x10000 + (UInt32(st.high - 0xD800) << 10) + UInt32(st.hex - 0xDC00)
        return .more
    }
}

/// JSON number lexer: 0 after `-`, 1 `0`, 2 integer digits, 3 after `.`, 4 fraction digits,
/// 5 after `e`, 6 after the exponent sign, 7 exponent digits. Nil: `b` cannot continue.
@inline(__always) func numberStep(_ phase: UInt8, _ b: UInt8) -> UInt8? {
    switch phase {
    case 0: return b == 0x30 ? 1 : (b >= 0x31 && b <= 0x39 ? 2 : nil)
    case 1: return b == 0x2E ? 3 : (b == 0x65 || b == 0x45 ? 5 : nil)
    case 2: return isDigit(b) ? 2 : (b == 0x2E ? 3 : (b == 0x65 || b == 0x45 ? 5 : nil))
    case 3: return isDigit(b) ? 4 : nil
    case 4: return isDigit(b) ? 4 : (b == 0x65 || b == 0x45 ? 5 : nil)
    case 5: return isDigit(b) ? 7 : (b == 0x2B || b == 0x2D ? 6 : nil)
    case 6, 7: return isDigit(b) ? 7 : nil
    default: return nil
    }
}

@inline(__always) func numberAccepting(_ phase: UInt8) -> Bool { phase == 1 || phase == 2 || phase == 4 || phase == 7 }
