/// The jobs handed to workers: first in, first out; `next` waits for one, and returns nil once
/// the queue is closed (shutdown), so workers finish the job they hold and stop.
actor WorkQueue {
    private var items: [Int64] = []
    private var waiters: [CheckedContinuation<Int64?, Never>] = []
    private var closed = false

    func push(_ id: Int64) {
        guard !closed else { return }
        if waiters.isEmpty {
            items.append(id)
        } else {
            waiters.removeFirst().resume(returning: id)
        }
    }

    func next() async -> Int64? {
        if !items.isEmpty { return items.removeFirst() }
        if closed { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Closes the queue; returns the jobs that were waiting (they stay `seen` in the journal).
    @discardableResult
    func close() -> [Int64] {
        closed = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters = []
        defer { items = [] }
        return items
    }
}
