/// One ocreval-style confusion: a run of consecutive errors, `{correct}-{generated}`.
public struct ISRIConfusion: Sendable, Hashable, Codable {
    public var key: String
    public var errors: Int

    public init(key: String, errors: Int) {
        self.key = key
        self.errors = errors
    }
}

/// Turns an alignment into confusion lists.
public enum Confusions {
    /// dinglehopper's difference table: `"GT :: OCR"` → count for every non-hit step,
    /// `None` standing for the missing side.
    public static func pairs(_ tokens: TokenizedPair, _ operations: [EditOperation]) -> [String: Int] {
        var result: [String: Int] = [:]
        walk(tokens, operations) { op, r, h in
            guard op != .hit else { return }
            result["\(r ?? "None") :: \(h ?? "None")", default: 0] += 1
        }
        return result
    }

    /// ocreval's confusion list: each maximal run of non-hit steps is one entry keyed
    /// `{correct}-{generated}` (newline shown as `<\n>`), counted by its number of steps;
    /// equal entries are summed, sorted by errors, most first, then by first appearance.
    public static func isriRuns(_ tokens: TokenizedPair, _ operations: [EditOperation]) -> [ISRIConfusion] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        var correct = ""
        var generated = ""
        var steps = 0
        func flush() {
            guard steps > 0 else { return }
            let key = "{\(correct)}-{\(generated)}"
            if counts[key] == nil { order.append(key) }
            counts[key, default: 0] += steps
            correct = ""
            generated = ""
            steps = 0
        }
        walk(tokens, operations) { op, r, h in
            if op == .hit {
                flush()
                return
            }
            steps += 1
            if let r { correct += display(r) }
            if let h { generated += display(h) }
        }
        flush()
        let entries = order.enumerated().map { (index: $0.offset, entry: ISRIConfusion(key: $0.element, errors: counts[$0.element] ?? 0)) }
        return entries.sorted { ($0.entry.errors, -$0.index) > ($1.entry.errors, -$1.index) }.map(\.entry)
    }

    /// ocreval's spelling of a unit in a confusion key: a newline as `<\n>`, a lone
    /// combining mark on a dotted circle (`◌̊`) so it stays visible.
    static func display(_ unit: String) -> String {
        if unit == "\n" { return "<\\n>" }
        guard let first = unit.unicodeScalars.first else { return unit }
        switch first.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return "\u{25CC}" + unit
        default: return unit
        }
    }

    /// Calls `body` with each step and the reference / hypothesis token it involves.
    public static func walk(_ tokens: TokenizedPair, _ operations: [EditOperation],
                            _ body: (EditOperation, String?, String?) -> Void)
    {
        var i = 0
        var j = 0
        for op in operations {
            switch op {
            case .hit, .substitution:
                body(op, tokens.reference[i], tokens.hypothesis[j])
                i += 1
                j += 1
            case .deletion:
                body(op, tokens.reference[i], nil)
                i += 1
            case .insertion:
                body(op, nil, tokens.hypothesis[j])
                j += 1
            }
        }
    }
}

/// jiwer's word measures beyond WER.
public struct JiwerMeasures: Sendable, Hashable, Codable {
    /// Match error rate: (S + D + I) / (H + S + D + I).
    public var mer: Double
    /// Word information lost: 1 − wip.
    public var wil: Double
    /// Word information preserved: (H / N_ref) · (H / N_hyp).
    public var wip: Double

    public init(_ c: ErrorCounts) {
        let (h, s, d, i) = (Double(c.hits), Double(c.substitutions), Double(c.deletions), Double(c.insertions))
        if c.referenceUnits == 0 {
            mer = c.hypothesisUnits == 0 ? 0 : 1
            wip = c.hypothesisUnits == 0 ? 1 : 0
        } else {
            mer = (s + d + i) / (h + s + d + i)
            wip = c.hypothesisUnits >= 1 ? (h / Double(c.referenceUnits)) * (h / Double(c.hypothesisUnits)) : 0
        }
        wil = 1 - wip
    }
}

/// ocreval's figures.
public enum ISRIReport {
    /// `accuracy`'s percentage: (characters − errors) / characters · 100 (may be negative).
    public static func accuracyPercent(_ c: ErrorCounts) -> Double {
        c.referenceUnits == 0 ? 100 : Double(c.referenceUnits - c.errors) / Double(c.referenceUnits) * 100
    }
}
