import SkiffJSON
import SkiffSchema

/// The state of one constrained output: a small set of parse configurations over the bytes
/// written so far. Advance by token or byte, roll back, and compute the mask of tokens that
/// keep the output on a path to a valid document. Not thread-safe (its grammar memoises).
public final class ConstraintMatcher {
    public let grammar: Grammar
    public let vocabulary: TokenVocabulary
    private var configs: [Config]
    private var buffer: [UInt8] = []
    private var history: [(configs: [Config], length: Int)] = []
    private var stepper: Stepper
    /// Tokens consumed so far.
    public private(set) var tokenCount = 0

    public init(grammar: Grammar, vocabulary: TokenVocabulary) throws(ConstraintError) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        stepper = Stepper(grammar: grammar)
        var start: [Config] = []
        stepper.pushValue(grammar.root, nil, &start)
        if let f = stepper.failure { throw f }
        configs = start
        buffer.reserveCapacity(4096)
    }

    /// The bytes written so far.
    public var output: [UInt8] { buffer }

    /// False once no continuation is possible (every configuration died).
    public var isAlive: Bool { !configs.isEmpty }

    /// True when the output so far is a complete, valid document.
    public var isAccepting: Bool { accepting(configs) }

    /// True when the document is complete and nothing more may follow.
    public var isFinished: Bool { configs.allSatisfy { if case .done = $0.top { return true } else { return false } } && !configs.isEmpty }

    private func accepting(_ cs: [Config]) -> Bool {
        for c in cs where c.stack == nil {
            switch c.top {
            case .done: return true
            case .number(let s, let start, let phase) where numberAccepting(phase):
                var tmp: [Config] = []
                buffer.withUnsafeBufferPointer { p in stepper.complete(s, start, buffer.count - 1, nil, p, &tmp) }
                if !tmp.isEmpty { return true }
            default: continue
            }
        }
        return false
    }

    /// Feeds one byte to every configuration (the byte is already at the end of `buffer`).
    @inline(__always) private func step(_ cs: [Config], _ b: UInt8) -> [Config] {
        var out: [Config] = []
        let pos = buffer.count - 1
        buffer.withUnsafeBufferPointer { p in
            for c in cs { stepper.feed(c, b, pos, p, &out) }
        }
        if out.count > 1 {
            if out.count <= 8 {
                // Small sets: pairwise comparison is cheaper than hashing whole stacks.
                var kept: [Config] = []
                kept.reserveCapacity(out.count)
                for c in out where !kept.contains(c) { kept.append(c) }
                out = kept
            } else {
                var seen = Set<Config>()
                out = out.filter { seen.insert($0).inserted }
            }
        }
        if out.count > grammar.options.maxConfigurations {
            stepper.failure = .limitExceeded("more than \(grammar.options.maxConfigurations) live parses (ambiguous schema)")
            out.removeAll()
        }
        return out
    }

    /// Appends `bytes`; false (and no change) when they cannot continue the output.
    @discardableResult
    public func consume(bytes: [UInt8]) -> Bool {
        let saved = (configs, buffer.count)
        var cs = configs
        for b in bytes {
            buffer.append(b)
            cs = step(cs, b)
            if cs.isEmpty {
                buffer.removeSubrange(saved.1...)
                return false
            }
        }
        history.append(saved)
        configs = cs
        stepper.committed = buffer.count
        return true
    }

    /// Appends a token; false (and no change) when it is not allowed. End of sequence is
    /// allowed exactly when the document is complete (and changes nothing).
    @discardableResult
    public func consume(token: Int) -> Bool {
        if token == vocabulary.eos { return isAccepting }
        guard token >= 0 && token < vocabulary.size else { return false }
        let b = vocabulary.tokenBytes[token]
        guard !b.isEmpty, consume(bytes: b) else { return false }
        tokenCount += 1
        return true
    }

    /// Undoes the last `n` successful `consume` calls.
    public func rollback(_ n: Int = 1) {
        for _ in 0..<min(n, history.count) {
            guard let h = history.popLast() else { return }
            configs = h.configs
            buffer.removeSubrange(h.length...)
            stepper.committed = buffer.count
            tokenCount = max(0, tokenCount - 1)
        }
    }

    /// Can `bytes` follow the output? (Leaves the state unchanged.)
    private func admits(_ bytes: [UInt8], _ from: [Config]? = nil) -> Bool {
        let n = buffer.count
        defer { buffer.removeSubrange(n...) }
        var cs = from ?? configs
        for b in bytes {
            buffer.append(b)
            cs = step(cs, b)
            if cs.isEmpty { return false }
        }
        return true
    }

    /// Would `token` be allowed now? (Cheaper than a full mask: one path through the trie.)
    public func allows(_ token: Int) -> Bool {
        if token == vocabulary.eos { return isAccepting }
        guard token >= 0 && token < vocabulary.size, !vocabulary.tokenBytes[token].isEmpty else { return false }
        return admits(vocabulary.tokenBytes[token])
    }

    /// A failure inside the engine (a limit), if one occurred.
    public var failure: ConstraintError? { stepper.failure }

    /// Writes the set of allowed tokens into `mask` (resized to the vocabulary).
    public func fillMask(_ mask: inout TokenMask) {
        guard let key = signature() else {
            computeMask(&mask)
            return
        }
        let vid = ObjectIdentifier(vocabulary)
        if grammar.maskCacheVocabulary != vid {
            grammar.maskCache.removeAll()
            grammar.maskCacheVocabulary = vid
        }
        if let m = grammar.maskCache[key] {
            mask = m
            return
        }
        computeMask(&mask)
        if grammar.maskCache.count >= Grammar.maskCacheLimit { grammar.maskCache.removeAll() }
        grammar.maskCache[key] = mask
    }

    /// The parse state with everything that cannot change the mask left out (value start
    /// offsets, code points already read, string lengths without bounds, array indices past
    /// the last one that matters); nil when a finished-value check could read the output, so
    /// the mask depends on more than the state.
    private func signature() -> [Int32]? {
        var key: [Int32] = []
        key.reserveCapacity(32)
        for c in configs {
            key.append(-1 - Int32(c.ws))
            var frame: Frame? = c.top
            var stack = c.stack
            while let f = frame {
                guard append(f, &key) else { return nil }
                frame = stack?.frame
                stack = stack?.parent
            }
        }
        return key
    }

    private func append(_ st: StrState, _ bounded: Bool, _ key: inout [Int32]) {
        key.append(Int32(st.esc) | Int32(st.need) << 8 | Int32(st.lo) << 16)
        key.append(Int32(st.hi))
        key.append(bounded ? st.cps : 0)
        key.append(st.trie)
        if (2...5).contains(st.esc) || st.esc >= 8 { key.append(Int32(st.hex)) }
        if st.esc >= 6 { key.append(Int32(st.high)) }
        if st.need > 0 { key.append(Int32(bitPattern: st.cp)) }
    }

    private func append(_ info: ObjInfo, _ key: inout [Int32]) {
        key.append(Int32(info.lastRank))
        key.append(Int32(info.seen.count))
        for k in info.seen { key.append(grammar.intern(k)) }
    }

    private func append(_ f: Frame, _ key: inout [Int32]) -> Bool {
        switch f {
        case .done: key.append(0)
        case .value(let s):
            guard s.checks.isEmpty && !s.integerOnly else { return false }
            key += [1, Int32(s.id)]
        case .string(let s, _, let st):
            guard s.checks.isEmpty && s.patternNFA == nil else { return false }
            key += [2, Int32(s.id)]
            append(st, s.minLength > 0 || s.maxLength != Int.max, &key)
        case .copy: return false
        case .number(let s, let start, let phase):
            guard s.checks.isEmpty && !s.integerOnly else { return false }
            key += [3, Int32(s.id), Int32(phase)]
            if grammar.options.maxNumberLength != nil { key.append(Int32(buffer.count - Int(start))) }
        case .literal(let s, _, let which, let pos):
            guard s.checks.isEmpty else { return false }
            key += [4, Int32(s.id), Int32(which), Int32(pos)]
        case .objStart(let s, _):
            guard s.checks.isEmpty else { return false }
            key += [5, Int32(s.id)]
        case .objKey(let s, _, let info, let keyStart, let st):
            guard s.checks.isEmpty else { return false }
            key += [6, Int32(s.id)]
            append(info, &key)
            append(st, false, &key)
            // The key so far decides duplicates, names and order.
            key.append(Int32(buffer.count - Int(keyStart)))
            for b in buffer[Int(keyStart)...] { key.append(Int32(b)) }
        case .objColon(let s, _, let info, let k):
            guard s.checks.isEmpty else { return false }
            key += [7, Int32(s.id), grammar.intern(k)]
            append(info, &key)
        case .objNext(let s, _, let info):
            guard s.checks.isEmpty else { return false }
            key += [8, Int32(s.id)]
            append(info, &key)
        case .objComma(let s, _, let info):
            guard s.checks.isEmpty else { return false }
            key += [9, Int32(s.id)]
            append(info, &key)
        case .arrStart(let s, _):
            guard s.checks.isEmpty else { return false }
            key += [10, Int32(s.id)]
        case .arrNext(let s, _, let count):
            guard s.checks.isEmpty else { return false }
            // Past max(minItems, prefix length) every index behaves alike unless maxItems counts.
            let c = s.maxItems == Int.max ? min(Int(count), max(s.minItems, s.maxPrefix) + 1) : Int(count)
            key += [11, Int32(s.id), Int32(c)]
        }
        return true
    }

    /// The mask of a set is the union of its configurations' masks, so configurations are
    /// grouped: plain string bodies share the precomputed slice, pattern-pruned bodies their
    /// cached inside set, and only the rest walk the token trie.
    private func computeMask(_ mask: inout TokenMask) {
        if mask.count != vocabulary.size { mask = TokenMask(count: vocabulary.size) } else { mask.removeAll() }
        if let eos = vocabulary.eos, isAccepting { mask.insert(eos) }
        guard !configs.isEmpty else { return }
        var plain: [Config] = []
        var budget = -1
        var patterned: [(Spec, StrState, [Config])] = []
        var rest: [Config] = []
        for c in configs {
            switch c.top {
            case .string(let s, _, let st) where s.enumTrie == nil && st.isPlain:
                if s.patternNFA != nil {
                    if let i = patterned.firstIndex(where: { $0.0 === s && $0.1 == st }) {
                        patterned[i].2.append(c)
                    } else {
                        patterned.append((s, st, [c]))
                    }
                } else {
                    plain.append(c)
                    budget = max(budget, s.maxLength == Int.max ? Int.max : s.maxLength - Int(st.cps))
                }
            case .objKey(let s, _, _, _, let st) where st.isPlain && s.closedNames == nil && grammar.options.propertyOrder == .any:
                plain.append(c)
                budget = Int.max
            default:
                rest.append(c)
            }
        }
        if !plain.isEmpty {
            // Inside a string body: the precomputed slice, then only the tokens that close it.
            mask.formUnion(vocabulary.insideUpTo[min(budget, TokenVocabulary.maxBucket)])
            for t in vocabulary.longInside where Int(t.need) <= budget { mask.insert(Int(t.id)) }
            var slow: [Config] = []
            for c in plain {
                if case .objKey(let s, _, _, _, _) = c.top, !s.hasPatternProperties, openKeyExits(c, &mask) {
                    continue
                }
                // Step the shared suffixes once; checks that read the content (the string's own,
                // its parents') are assumed to pass there and their tokens tried for real.
                guard case .string(let s, let start, var st) = c.top else {
                    slow.append(c)
                    continue
                }
                let cps = Int(st.cps)
                let room = s.maxLength == Int.max ? Int.max : s.maxLength - cps
                st.cps = Int32(max(cps, s.minLength))
                let lifted = Config(top: .string(s, start: start, st), stack: c.stack)
                let fits = { (id: Int) -> Bool in
                    let need = Int(self.vocabulary.exitNeed[id])
                    return need <= room && cps + need >= s.minLength
                }
                watchedExitWalk(afterQuote: false, [lifted], c, &mask, fits)
            }
            for t in vocabulary.exits where !slow.isEmpty && !mask.contains(Int(t)) && admits(vocabulary.tokenBytes[Int(t)], slow) {
                mask.insert(Int(t))
            }
        }
        for (s, st, group) in patterned {
            guard let dfa = s.patternDFA else { continue }
            let room = s.maxLength == Int.max ? Int.max : s.maxLength - Int(st.cps)
            if dfa.nfa.restartAlive {
                // An unanchored pattern never rules a prefix out: the body is a plain one, and
                // only the closing tokens consult the pattern.
                mask.formUnion(vocabulary.insideUpTo[min(room, TokenVocabulary.maxBucket)])
                for t in vocabulary.longInside where Int(t.need) <= room { mask.insert(Int(t.id)) }
            } else {
                // No token needs more than maxInsideNeed code points: larger budgets are one entry.
                let budget = min(room, vocabulary.maxInsideNeed + 1)
                let key = PatKey(pat: st.pat, budget: budget)
                if let m = s.insideCache[key] {
                    mask.formUnion(m)
                } else {
                    var inside = TokenMask(count: vocabulary.size)
                    insideWalk(0, StrState(), dfa.id(st.pat), dfa, budget, &inside)
                    s.insideCache[key] = inside
                    mask.formUnion(inside)
                }
            }
            let start = dfa.id(st.pat)
            let minCps = s.minLength - Int(st.cps)
            for t in vocabulary.exits where !mask.contains(Int(t)) {
                // The content before the closing quote must fit the pattern (and the length
                // bounds) before the parse is consulted.
                let bytes = vocabulary.tokenBytes[Int(t)]
                let need = Int(vocabulary.exitNeed[Int(t)])
                guard need <= room && need >= minCps else { continue }
                var lex = StrState()
                var p = start
                var ok = true
                for b in bytes {
                    let before = lex.cps
                    if lexString(&lex, b, maxLength: Int.max) != .more { break }
                    if lex.cps != before {
                        p = dfa.step(p, lex.cp)
                        if p < 0 { ok = false; break }
                    }
                }
                if ok && dfa.nfa.accepts(dfa.states[Int(p)]) && admits(bytes, group) { mask.insert(Int(t)) }
            }
        }
        if !rest.isEmpty { walk(vocabulary.trie, 0, rest, &mask) }
    }

    /// The mask by brute force: every token tried on its own with `allows`. What `fillMask`'s
    /// shortcuts (slices, caches, suffix walks) must reproduce exactly; for tests and
    /// `SKIFF_MASK_VERIFY`, far too slow for decoding.
    public func referenceMask() -> TokenMask {
        var m = TokenMask(count: vocabulary.size)
        for t in 0..<vocabulary.size where allows(t) { m.insert(t) }
        return m
    }

    public func mask() -> TokenMask {
        var m = TokenMask(count: vocabulary.size)
        fillMask(&m)
        return m
    }

    /// Tokens that stay inside a string body under a pattern (lexer and pattern DFA only),
    /// depth-first with explicit stacks. Plain printable ASCII bytes (most of the vocabulary)
    /// need only the code point count and one DFA table lookup, so they run on a small state;
    /// escapes and UTF-8 go through the full lexer state.
    private func insideWalk(_ root: Int, _ st0: StrState, _ pat0: Int32, _ dfa: PatternDFA, _ budget: Int, _ mask: inout TokenMask) {
        let trie = vocabulary.trie
        var fast: [(node: Int32, pat: Int32, cps: Int32)] = []
        var slow: [(node: Int32, st: StrState, pat: Int32)] = []
        if st0.isPlain { fast.append((Int32(root), pat0, st0.cps)) } else { slow.append((Int32(root), st0, pat0)) }
        mask.words.withUnsafeMutableBufferPointer { words in
            @inline(__always) func take(_ child: Int) {
                let ts = Int(trie.tokenStart[child])
                for t in ts..<(ts + Int(trie.tokenCount[child])) {
                    let id = Int(trie.tokenList[t])
                    words[id >> 6] |= 1 << UInt64(id & 63)
                }
            }
            // One byte from a full lexer state; pushes the child onto the right stack.
            @inline(__always) func general(_ b: UInt8, _ st: StrState, _ pat: Int32, _ child: Int) {
                var next = st
                guard lexString(&next, b, maxLength: budget) == .more else { return }
                var p = pat
                if next.cps != st.cps {
                    p = dfa.step(pat, next.cp)
                    guard p >= 0 else { return }
                } else if b >= 0xC0 && next.esc == 0 {
                    guard dfa.allowsNonASCII(pat) else { return }
                } else if next.esc != 0 {
                    var probe = next
                    probe.pat = dfa.states[Int(pat)]
                    guard dfa.nfa.escapeOK(probe, b) else { return }
                }
                take(child)
                guard trie.edgeCount[child] > 0 else { return }
                if next.isPlain { fast.append((Int32(child), p, next.cps)) } else { slow.append((Int32(child), next, p)) }
            }
            while !fast.isEmpty || !slow.isEmpty {
                while let (node, pat, cps) = fast.popLast() {
                    let start = Int(trie.edgeStart[Int(node)]), end = start + Int(trie.edgeCount[Int(node)])
                    for e in start..<end {
                        let b = trie.edgeByte[e]
                        let child = Int(trie.edgeTarget[e])
                        if b >= 0x20 && b < 0x80 && b != 0x22 && b != 0x5C {
                            guard Int(cps) < budget else { continue }
                            let p = dfa.step(pat, UInt32(b))
                            guard p >= 0 else { continue }
                            take(child)
                            if trie.edgeCount[child] > 0 { fast.append((Int32(child), p, cps + 1)) }
                        } else {
                            var st = StrState()
                            st.cps = cps
                            general(b, st, pat, child)
                        }
                    }
                }
                while let (node, st, pat) = slow.popLast() {
                    let start = Int(trie.edgeStart[Int(node)]), end = start + Int(trie.edgeCount[Int(node)])
                    for e in start..<end { general(trie.edgeByte[e], st, pat, Int(trie.edgeTarget[e])) }
                }
            }
        }
    }

    /// A key of a closed object (only `closedNames` may be written) from trie `node`: the walk
    /// follows the bytes of the names still possible (not written yet, and in order when the
    /// order is fixed), and where a name's closing quote is reached, the generic walk goes on
    /// from the state after the key. Equivalent to stepping the key byte by byte, without
    /// re-matching every name at every byte.
    private func keyWalk(_ node: Int, _ c: Config, _ mask: inout TokenMask) {
        guard case .objKey(let s, let start, let info, let keyStart, _) = c.top, let closed = s.closedNames else { return }
        let written = buffer[Int(keyStart)...]
        var cands: [Int32] = []
        for (i, name) in closed.enumerated()
        where name.count > written.count && name.starts(with: written) && s.mayWrite(s.closedNameStrings[i], after: info) {
            cands.append(Int32(i))
        }
        keyWalk(node, written.count, cands, closed, s, start, info, c.stack, &mask)
    }

    private func keyWalk(_ node: Int, _ depth: Int, _ cands: [Int32], _ closed: [[UInt8]], _ s: Spec, _ start: Int32,
                         _ info: ObjInfo, _ stack: Stack?, _ mask: inout TokenMask) {
        let trie = vocabulary.trie
        let es = Int(trie.edgeStart[node]), ee = es + Int(trie.edgeCount[node])
        let sorted = cands.sorted { closed[Int($0)][depth] < closed[Int($1)][depth] }
        var i = 0
        while i < sorted.count {
            let b = closed[Int(sorted[i])][depth]
            var j = i
            while j < sorted.count && closed[Int(sorted[j])][depth] == b { j += 1 }
            defer { i = j }
            // Children are sorted by byte: binary search.
            var lo = es, hi = ee
            while lo < hi {
                let mid = (lo + hi) / 2
                if trie.edgeByte[mid] < b { lo = mid + 1 } else { hi = mid }
            }
            guard lo < ee, trie.edgeByte[lo] == b else { continue }
            let child = Int(trie.edgeTarget[lo])
            let ts = Int(trie.tokenStart[child])
            for t in ts..<(ts + Int(trie.tokenCount[child])) { mask.insert(Int(trie.tokenList[t])) }
            buffer.append(b)
            var going: [Int32] = []
            for k in i..<j {
                let n = Int(sorted[k])
                if closed[n].count == depth + 1 {
                    // The closing quote: the key is written; the rest of the token follows from after it.
                    let colon = Config(top: .objColon(s, start: start, info, key: s.closedNameStrings[n]), stack: stack)
                    walk(trie, child, [colon], &mask)
                } else {
                    going.append(sorted[k])
                }
            }
            if !going.isEmpty && trie.edgeCount[child] > 0 {
                keyWalk(child, depth + 1, going, closed, s, start, info, stack, &mask)
            }
            buffer.removeLast()
        }
    }

    /// The closing tokens of an open object's key (no `patternProperties`, any key order): every
    /// key other than the known, required and already written ones gets the same value schema
    /// and bookkeeping, so those tokens share one suffix walk from after the closing quote; the
    /// few that would write a special key are tried on their own. False when the key so far has
    /// an escape (the bytes are then not the key).
    private func openKeyExits(_ own: Config, _ mask: inout TokenMask) -> Bool {
        guard case .objKey(let s, let start, let info, let keyStart, let st) = own.top, st.isPlain else { return false }
        let p0 = Int(keyStart) + 1
        guard p0 <= buffer.count, !buffer[p0...].contains(0x5C) else { return false }
        let prefix = buffer[p0...]
        var specials: [ArraySlice<UInt8>] = []
        func consider(_ name: [UInt8]) {
            if name.count >= prefix.count && name.starts(with: prefix) { specials.append(name[prefix.count...]) }
        }
        for n in s.specialKeyBytes { consider(n) }
        for k in info.seen { consider(Array(JSONSerializer.compact.data(from: .string(k)).dropFirst().dropLast())) }
        var generic = TokenMask(count: vocabulary.size)
        var genericKey: String?
        var alone: [Int32] = []
        for t in vocabulary.exits where !mask.contains(Int(t)) {
            let id = Int(t)
            let bytes = vocabulary.tokenBytes[id]
            let at = Int(vocabulary.exitAt[id])
            if vocabulary.exitKeySlow[id] || specials.contains(where: { $0.count == at && $0.elementsEqual(bytes[..<at]) }) {
                alone.append(t)
                continue
            }
            if genericKey == nil { genericKey = String(decoding: Array(prefix) + bytes[..<at], as: UTF8.self) }
            generic.insert(id)
        }
        if let key = genericKey, (try? s.child(key)) ?? nil != nil {
            let colon = Config(top: .objColon(s, start: start, info, key: key), stack: own.stack)
            watchedExitWalk(afterQuote: true, [colon], own, &mask) { generic.contains($0) }
        }
        for t in alone where !mask.contains(Int(t)) && admits(vocabulary.tokenBytes[Int(t)], [own]) { mask.insert(Int(t)) }
        return true
    }

    /// The closing-token suffix trie walked from `cs` (from the root, or with `afterQuote` from
    /// just after the closing quote, `cs` then being the state after it), for the tokens that
    /// `fits`. A finished-value check over content the walk left out is assumed to pass
    /// (`Stepper.watchFrom`); the tokens found past one are tried on their real bytes from `real`.
    private func watchedExitWalk(afterQuote: Bool, _ cs: [Config], _ real: Config, _ mask: inout TokenMask, _ fits: (Int) -> Bool) {
        let trie = vocabulary.exitTrie
        var node = 0
        if afterQuote {
            let es = Int(trie.edgeStart[0])
            guard let e = (es..<(es + Int(trie.edgeCount[0]))).first(where: { trie.edgeByte[$0] == 0x22 }) else { return }
            node = Int(trie.edgeTarget[e])
            let ts = Int(trie.tokenStart[node])
            for t in ts..<(ts + Int(trie.tokenCount[node])) where fits(Int(trie.tokenList[t])) { mask.insert(Int(trie.tokenList[t])) }
        }
        var redo: [Int32] = []
        let savedFrom = stepper.watchFrom
        stepper.watchFrom = buffer.count
        exitWalk(node, cs, &mask, fits, &redo, false)
        stepper.watchFrom = savedFrom
        for t in redo where !mask.contains(Int(t)) && admits(vocabulary.tokenBytes[Int(t)], [real]) { mask.insert(Int(t)) }
    }

    /// `tainted`: a check was assumed to pass on the way here, so the tokens found go to `redo`.
    private func exitWalk(_ node: Int, _ cs: [Config], _ mask: inout TokenMask, _ fits: (Int) -> Bool, _ redo: inout [Int32],
                          _ tainted: Bool) {
        let trie = vocabulary.exitTrie
        let start = Int(trie.edgeStart[node]), end = start + Int(trie.edgeCount[node])
        for e in start..<end {
            buffer.append(trie.edgeByte[e])
            let hits = stepper.watchHits
            let next = step(cs, trie.edgeByte[e])
            let taint = tainted || stepper.watchHits != hits
            if !next.isEmpty {
                let child = Int(trie.edgeTarget[e])
                let ts = Int(trie.tokenStart[child])
                for t in ts..<(ts + Int(trie.tokenCount[child])) {
                    let id = Int(trie.tokenList[t])
                    if fits(id) {
                        if taint { redo.append(Int32(id)) } else { mask.insert(id) }
                    }
                }
                exitWalk(child, next, &mask, fits, &redo, taint)
            }
            buffer.removeLast()
        }
    }

    private func walk(_ trie: TokenTrie, _ node: Int, _ cs: [Config], _ mask: inout TokenMask) {
        var cs = cs
        if cs.contains(where: { if case .objKey(let s, _, _, _, _) = $0.top { return s.closedNames != nil } else { return false } }) {
            // Keys of closed objects follow the candidate names instead of the whole trie.
            var others: [Config] = []
            for c in cs {
                if case .objKey(let s, _, _, _, _) = c.top, s.closedNames != nil { keyWalk(node, c, &mask) } else { others.append(c) }
            }
            guard !others.isEmpty else { return }
            cs = others
        }
        let start = Int(trie.edgeStart[node]), end = start + Int(trie.edgeCount[node])
        for e in start..<end {
            let b = trie.edgeByte[e]
            buffer.append(b)
            let next = step(cs, b)
            if !next.isEmpty {
                let child = Int(trie.edgeTarget[e])
                let ts = Int(trie.tokenStart[child])
                for t in ts..<(ts + Int(trie.tokenCount[child])) { mask.insert(Int(trie.tokenList[t])) }
                walk(trie, child, next, &mask)
            }
            buffer.removeLast()
        }
    }
}

