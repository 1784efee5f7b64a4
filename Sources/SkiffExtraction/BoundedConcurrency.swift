/// Runs `operation` for the indexes `0..<count`, at most `width` at a time (one engine per
/// job, so memory stays bounded), and hands each result to `report` one at a time, in the
/// order they finish. The batch commands and the evaluator all schedule work this way.
public func forEachConcurrently<Output: Sendable>(
    _ count: Int, width: Int, operation: @escaping @Sendable (Int) async -> Output,
    report: (Int, Output) async -> Void
) async {
    await withTaskGroup(of: (Int, Output).self) { group in
        var next = 0
        func submit() {
            let index = next
            next += 1
            group.addTask { (index, await operation(index)) }
        }
        while next < count && next < max(1, width) { submit() }
        while let (index, output) = await group.next() {
            await report(index, output)
            if next < count { submit() }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double` for reports.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
