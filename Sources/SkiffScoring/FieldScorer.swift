public import SkiffJSON

/// A named rule applied to every field value on both sides before matching.
public enum FieldNormalizer: String, CaseIterable, Sendable, Codable {
    /// Trim and collapse runs of white space to one space.
    case spaces
    /// Lowercase (Unicode default case mapping).
    case `case`
    /// Amounts such as `RM 4.95`, `$8.20`, `1.234,56` or `1,234.56` to a plain decimal (`4.95`, `1234.56`).
    case amount
    /// Dates in common formats (`25/12/2018`, `18-11-18`, `05 MAR 2018`, `20180304`, …) to ISO `2018-12-25`; day first.
    case date

    public func apply(_ value: String) -> String {
        switch self {
        case .spaces:
            value.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        case .case:
            value.lowercased()
        case .amount:
            AmountParser.decimal(value) ?? value
        case .date:
            DateParser.iso(value) ?? value
        }
    }
}

/// Precision, recall and F1 of flattened (key, value) pairs, Donut / SROIE style.
public struct FieldCounts: Sendable, Hashable, Codable {
    public var truePositives: Int
    public var falsePositives: Int
    public var falseNegatives: Int

    public init(truePositives: Int = 0, falsePositives: Int = 0, falseNegatives: Int = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.falseNegatives = falseNegatives
    }

    /// nil when there is nothing to divide by (no predicted / no expected pairs).
    public var precision: Double? {
        truePositives + falsePositives == 0 ? nil : Double(truePositives) / Double(truePositives + falsePositives)
    }
    public var recall: Double? {
        truePositives + falseNegatives == 0 ? nil : Double(truePositives) / Double(truePositives + falseNegatives)
    }
    /// Donut's `cal_f1`: TP / (TP + (FP + FN) / 2); nil when both sides are empty.
    public var f1: Double? {
        let d = Double(truePositives) + Double(falsePositives + falseNegatives) / 2
        return d == 0 ? nil : Double(truePositives) / d
    }

    static func += (a: inout FieldCounts, b: FieldCounts) {
        a.truePositives += b.truePositives
        a.falsePositives += b.falsePositives
        a.falseNegatives += b.falseNegatives
    }
}

/// The field-level result for one document.
public struct FieldScore: Sendable, Codable {
    public var overall: FieldCounts
    /// Per dotted key.
    public var fields: [String: FieldCounts]
    /// Donut's tree-edit-distance accuracy; nil when the ground truth is empty.
    public var treeEditDistanceAccuracy: Double?
    /// Pairs that did not match, for reports: (key, value).
    public var missed: [FieldPair]
    public var spurious: [FieldPair]
}

public struct FieldPair: Sendable, Hashable, Codable {
    public var key: String
    public var value: String
}

/// Scores predicted JSON fields against ground truth, reproducing donut-python's
/// `JSONParseEvaluator` (`normalize_dict`, `flatten`, `cal_f1`, `cal_acc`).
public struct FieldScorer: Sendable {
    public var normalizers: [FieldNormalizer]

    public init(normalizers: [FieldNormalizer] = []) {
        self.normalizers = normalizers
    }

    public func score(reference: JSONValue, hypothesis: JSONValue) -> FieldScore {
        let ref = normalize(reference)
        let hyp = normalize(hypothesis)
        var answer = ref.flattened()
        var overall = FieldCounts()
        var fields: [String: FieldCounts] = [:]
        var spurious: [FieldPair] = []
        for pair in hyp.flattened() {
            if let i = answer.firstIndex(of: pair) {
                answer.remove(at: i)
                overall.truePositives += 1
                fields[pair.key, default: FieldCounts()].truePositives += 1
            } else {
                overall.falsePositives += 1
                fields[pair.key, default: FieldCounts()].falsePositives += 1
                spurious.append(pair)
            }
        }
        for pair in answer {
            overall.falseNegatives += 1
            fields[pair.key, default: FieldCounts()].falseNegatives += 1
        }
        let refTree = ref.tree(named: "<root>")
        let empty = NormalizedValue.dict([]).tree(named: "<root>")
        let whole = TreeEditDistance.distance(empty, refTree)
        let accuracy: Double? = whole == 0
            ? nil
            : max(0, 1 - Double(TreeEditDistance.distance(hyp.tree(named: "<root>"), refTree)) / Double(whole))
        return FieldScore(overall: overall, fields: fields, treeEditDistanceAccuracy: accuracy, missed: answer,
                          spurious: spurious)
    }

    /// `normalize_dict`: falsy values dropped, keys ordered by (length, key) descending,
    /// scalars turned into one-element lists of stripped strings; then our normalisers.
    func normalize(_ value: JSONValue) -> NormalizedValue {
        if value.isFalsy { return .dict([]) }
        switch value {
        case .object(let members):
            let keys = members.keys.sorted { a, b in
                let (la, lb) = (a.unicodeScalars.count, b.unicodeScalars.count)
                if la != lb { return la > lb }
                return b.unicodeScalars.lexicographicallyPrecedes(a.unicodeScalars)
            }
            var result: [(String, NormalizedValue)] = []
            for key in keys {
                guard let member = members[key] else { continue }
                let v = normalize(member)
                guard v.isTruthy else { continue }
                if case .dict = v {
                    result.append((key, .dicts([v])))
                } else {
                    result.append((key, v))
                }
            }
            return .dict(result)
        case .array(let items):
            if items.allSatisfy({ if case .object = $0 { true } else { false } }) {
                return .dicts(items.map(normalize).filter(\.isTruthy))
            }
            return .strings(items.compactMap { item -> String? in
                switch item {
                case .string, .number:
                    let s = item.pythonString.pythonStripped
                    return s.isEmpty ? nil : normalizers.reduce(s) { $1.apply($0) }
                default:
                    return nil
                }
            })
        default:
            return .strings([normalizers.reduce(value.pythonString.pythonStripped) { $1.apply($0) }])
        }
    }
}

/// The output of Donut's `normalize_dict`.
indirect enum NormalizedValue: Sendable {
    case dict([(String, NormalizedValue)])
    case dicts([NormalizedValue])
    case strings([String])

    var isTruthy: Bool {
        switch self {
        case .dict(let d): !d.isEmpty
        case .dicts(let d): !d.isEmpty
        case .strings(let s): !s.isEmpty
        }
    }

    /// Donut's `flatten`: (dotted key, value) pairs; list items share their parent's key.
    func flattened(key: String = "") -> [FieldPair] {
        switch self {
        case .dict(let members):
            members.flatMap { $0.1.flattened(key: key.isEmpty ? $0.0 : "\(key).\($0.0)") }
        case .dicts(let items):
            items.flatMap { $0.flattened(key: key) }
        case .strings(let values):
            values.map { FieldPair(key: key, value: $0) }
        }
    }

    /// Donut's `construct_tree_from_dict`.
    func tree(named name: String) -> TreeNode {
        switch self {
        case .dict(let members):
            TreeNode(label: name, children: members.map { $0.1.tree(named: $0.0) })
        case .dicts(let items):
            TreeNode(label: name, children: items.map { $0.tree(named: "<subtree>") })
        case .strings(let values):
            TreeNode(label: name, children: values.map { TreeNode(label: "<leaf>" + $0, children: []) })
        }
    }
}

struct TreeNode: Sendable {
    var label: String
    var children: [TreeNode]
}

/// Zhang–Shasha tree edit distance with Donut's costs: a leaf costs its text length to
/// insert or remove, an inner node 1; leaves are updated by string edit distance.
/// Written by hand: no available Swift package has it.
enum TreeEditDistance {
    struct Flat {
        var labels: [String] = []
        var leftmost: [Int] = []
        var keyroots: [Int] = []
    }

    static func flatten(_ root: TreeNode) -> Flat {
        var flat = Flat()
        @discardableResult
        func visit(_ node: TreeNode) -> Int {
            var first = -1
            for child in node.children {
                let l = visit(child)
                if first < 0 { first = l }
            }
            let index = flat.labels.count
            flat.labels.append(node.label)
            flat.leftmost.append(first < 0 ? index : first)
            return first < 0 ? index : first
        }
        visit(root)
        var seen = Set<Int>()
        for i in stride(from: flat.labels.count - 1, through: 0, by: -1) where seen.insert(flat.leftmost[i]).inserted {
            flat.keyroots.append(i)
        }
        flat.keyroots.reverse()
        return flat
    }

    static func isLeaf(_ label: String) -> Bool { label.contains("<leaf>") }
    static func text(_ label: String) -> [Unicode.Scalar] {
        Array(label.replacingAll("<leaf>").unicodeScalars)
    }

    static func indelCost(_ label: String) -> Int { isLeaf(label) ? text(label).count : 1 }

    static func updateCost(_ a: String, _ b: String) -> Int {
        switch (isLeaf(a), isLeaf(b)) {
        case (true, true):
            let ids = TokenizedPair(reference: text(a).map { String($0) }, hypothesis: text(b).map { String($0) })
            return EditDistance.distance(ids.referenceIDs, ids.hypothesisIDs)
        case (false, true): return 1 + text(b).count
        case (true, false): return 1 + text(a).count
        case (false, false): return a == b ? 0 : 1
        }
    }

    /// The cost of turning tree `a` into tree `b`.
    static func distance(_ a: TreeNode, _ b: TreeNode) -> Int {
        let x = flatten(a)
        let y = flatten(b)
        let n = x.labels.count
        let m = y.labels.count
        var treedist = [Int](repeating: 0, count: n * m)
        let removeCost = x.labels.map(indelCost)
        let insertCost = y.labels.map(indelCost)
        for i in x.keyroots {
            for j in y.keyroots {
                let li = x.leftmost[i]
                let lj = y.leftmost[j]
                let rows = i - li + 2
                let cols = j - lj + 2
                var fd = [Int](repeating: 0, count: rows * cols)
                for r in 1..<rows { fd[r * cols] = fd[(r - 1) * cols] + removeCost[li + r - 1] }
                for c in 1..<cols { fd[c] = fd[c - 1] + insertCost[lj + c - 1] }
                for r in 1..<rows {
                    let xi = li + r - 1
                    for c in 1..<cols {
                        let yj = lj + c - 1
                        let remove = fd[(r - 1) * cols + c] + removeCost[xi]
                        let insert = fd[r * cols + c - 1] + insertCost[yj]
                        if x.leftmost[xi] == li && y.leftmost[yj] == lj {
                            let update = fd[(r - 1) * cols + c - 1] + updateCost(x.labels[xi], y.labels[yj])
                            fd[r * cols + c] = min(remove, insert, update)
                            treedist[xi * m + yj] = fd[r * cols + c]
                        } else {
                            let pr = x.leftmost[xi] - li
                            let pc = y.leftmost[yj] - lj
                            let subtree = fd[pr * cols + pc] + treedist[xi * m + yj]
                            fd[r * cols + c] = min(remove, insert, subtree)
                        }
                    }
                }
            }
        }
        return treedist[(n - 1) * m + (m - 1)]
    }
}

extension String {
    /// Python's `str.replace(needle, "")`, on code points.
    func replacingAll(_ needle: String) -> String {
        var scalars = Array(unicodeScalars)
        TextNormalizer.replace(&scalars, Array(needle.unicodeScalars), [])
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
