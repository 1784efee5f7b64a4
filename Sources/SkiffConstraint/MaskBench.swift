public import SkiffJSON
public import SkiffTokenizer
import SkiffSchema
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The MaskBench protocol (jsonschemabench `maskbench/`) on one corpus file: compile the
/// schema, then for every test instance (compact, its own key order, tokenized) compute the
/// mask before each token, check the token is in it, and advance; at the end, check the
/// document is complete. A valid instance rejected is a validation error; an invalid one
/// accepted, an invalidation error.
public struct MaskBenchResult: Sendable {
    public struct Instance: Sendable {
        public let index: Int
        public let valid: Bool
        public let tokens: [Int]
        public let accepted: Bool
        /// Token position of the first rejection (tokens.count: rejected at the end), nil if accepted.
        public let rejectedAt: Int?
    }

    public let file: String
    /// nil when compiled; otherwise why not.
    public let compileError: String?
    public let compileMicroseconds: Double
    public let maskMicroseconds: [Double]
    public let instances: [MaskBenchResult.Instance]
    /// Masks that allowed exactly one token (forced; a generator appends it without sampling).
    public let forcedMasks: Int
    /// Tokens where the mask and a direct advance disagreed (an engine bug; must be 0).
    public let maskMismatches: Int
    /// Keywords enforced by finished-value checks.
    public let checkedKeywords: [String]

    public var validationErrors: Int { instances.filter { $0.valid && !$0.accepted }.count }
    public var invalidationErrors: Int { instances.filter { !$0.valid && $0.accepted }.count }
    public var passing: Bool { compileError == nil && validationErrors == 0 && invalidationErrors == 0 && maskMismatches == 0 }
}

public enum MaskBench {
    /// Runs one corpus document (`{"schema", "tests": [{"valid", "data"}]}`).
    public static func run(file: String, document: JSONValue, tokenizer: BPETokenizer, vocabulary: TokenVocabulary,
                           options: ConstraintOptions = anyOrder, timeMasks: Bool = true) -> MaskBenchResult {
        let clock = ContinuousClock()
        guard let schemaValue = document["schema"] else {
            return MaskBenchResult(file: file, compileError: "no schema", compileMicroseconds: 0, maskMicroseconds: [],
                                   instances: [], forcedMasks: 0, maskMismatches: 0, checkedKeywords: [])
        }
        let t0 = clock.now
        let grammar: Grammar
        do {
            grammar = try Grammar(schema: schemaValue, options: options)
        } catch {
            let us = micro(clock.now - t0)
            return MaskBenchResult(file: file, compileError: "\(error)", compileMicroseconds: us, maskMicroseconds: [],
                                   instances: [], forcedMasks: 0, maskMismatches: 0, checkedKeywords: [])
        }
        let compileUS = micro(clock.now - t0)
        var masks: [Double] = []
        var instances: [MaskBenchResult.Instance] = []
        var forced = 0
        var mismatches = 0
        var verified = 0
        var mask = TokenMask(count: vocabulary.size)
        for (i, t) in (document["tests"]?.arrayValue ?? []).enumerated() {
            guard let data = t["data"], let valid = t["valid"]?.boolValue else { continue }
            let text = JSONSerializer.compact.string(from: data)
            let tokens = tokenizer.encode(text, parseSpecial: false)
            guard let m = try? ConstraintMatcher(grammar: grammar, vocabulary: vocabulary) else {
                instances.append(MaskBenchResult.Instance(index: i, valid: valid, tokens: tokens, accepted: false, rejectedAt: 0))
                continue
            }
            var rejectedAt: Int?
            for (k, tok) in tokens.enumerated() {
                let s = clock.now, c = cpuMicroseconds()
                m.fillMask(&mask)
                if timeMasks { masks.append(cpuTime ? cpuMicroseconds() - c : micro(clock.now - s)) }
                if mask.population == 1 { forced += 1 }
                if verify {
                    verified += 1
                    if verified % verifyEvery == 0 && m.referenceMask() != mask { mismatches += 1 }
                }
                let inMask = mask.contains(tok)
                let ok = m.consume(token: tok)
                if inMask != ok { mismatches += 1 }
                if !ok {
                    rejectedAt = k
                    break
                }
            }
            if rejectedAt == nil {
                // The end-of-sequence mask, as MaskBench computes it too.
                let s = clock.now, c = cpuMicroseconds()
                m.fillMask(&mask)
                if timeMasks { masks.append(cpuTime ? cpuMicroseconds() - c : micro(clock.now - s)) }
                if verify {
                    verified += 1
                    if verified % verifyEvery == 0 && m.referenceMask() != mask { mismatches += 1 }
                }
                if !m.isAccepting { rejectedAt = tokens.count }
            }
            instances.append(MaskBenchResult.Instance(index: i, valid: valid, tokens: tokens, accepted: rejectedAt == nil, rejectedAt: rejectedAt))
        }
        return MaskBenchResult(file: file, compileError: nil, compileMicroseconds: compileUS, maskMicroseconds: masks,
                               instances: instances, forcedMasks: forced, maskMismatches: mismatches,
                               checkedKeywords: grammar.checkedKeywords.sorted())
    }

    /// `SKIFF_MASK_CPU_TIME=1`: time masks by this thread's CPU time (steadier than wall time on
    /// a shared machine). `SKIFF_MASK_VERIFY=1`: compare every mask with `referenceMask()`
    /// (token by token; very slow) and count differences as mismatches.
    static let cpuTime = getenv("SKIFF_MASK_CPU_TIME") != nil
    static let verify = getenv("SKIFF_MASK_VERIFY") != nil
    /// `SKIFF_MASK_VERIFY=N`: only every Nth mask (a sample of a whole corpus run).
    static let verifyEvery = max(1, getenv("SKIFF_MASK_VERIFY").flatMap { Int(String(cString: $0)) } ?? 1)

    static func cpuMicroseconds() -> Double {
        guard cpuTime else { return 0 }
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) * 1e-3
    }

    /// Any key order: corpus instances keep their own order.
    public static var anyOrder: ConstraintOptions {
        var o = ConstraintOptions()
        o.propertyOrder = .any
        return o
    }

    static func micro(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) * 1e-12
    }

    /// The value at quantile `q` (0…1) of `xs` (nearest rank).
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let i = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[i]
    }
}
