/// Where a copied string came from: the runs of consecutive page words (joined by single
/// spaces) equal to it, as word-index ranges. A copy-from-page constraint guarantees at
/// least one; several mean the text occurs more than once on the page.
public enum PageSpans {
    public static func locate(_ value: String, in words: [String]) -> [ClosedRange<Int>] {
        let target = value.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let ws = words.filter { !$0.isEmpty }
        guard !target.isEmpty, target.count <= ws.count, !target.contains(where: \.isEmpty) else { return [] }
        var out: [ClosedRange<Int>] = []
        // Indices refer to the non-empty words, the ones the constraint sees.
        for i in 0...(ws.count - target.count) where ws[i] == target[0] {
            if ws[i..<(i + target.count)].elementsEqual(target) { out.append(i...(i + target.count - 1)) }
        }
        return out
    }
}
