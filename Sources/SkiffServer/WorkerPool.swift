import Foundation
public import SkiffExtraction

/// The pipelines requests run on, one request each at a time, with a bounded line of waiting
/// requests: past it, `acquire` refuses at once (the service answers 503 with Retry-After)
/// instead of letting work and memory pile up.
public actor WorkerPool {
    private var idle: [ExtractionPipeline]
    private var waiters: [CheckedContinuation<ExtractionPipeline, Never>] = []
    public let size: Int
    public let queueDepth: Int
    /// Mean seconds a request held a worker, for Retry-After.
    private var meanSeconds = 1.0

    public struct Busy: Error, Sendable {
        /// Seconds after which a retry is likely to find a worker.
        public var retryAfter: Int
    }

    public init(pipelines: [ExtractionPipeline], queueDepth: Int) {
        idle = pipelines
        size = pipelines.count
        self.queueDepth = queueDepth
    }

    public var busy: Int { size - idle.count }
    public var waiting: Int { waiters.count }

    public func acquire() async throws(Busy) -> ExtractionPipeline {
        if let pipeline = idle.popLast() { return pipeline }
        guard waiters.count < queueDepth else {
            let ahead = Double(waiters.count + 1) / Double(max(1, size))
            throw Busy(retryAfter: max(1, Int((meanSeconds * ahead).rounded(.up))))
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    public func release(_ pipeline: ExtractionPipeline, heldFor seconds: Double) {
        meanSeconds = meanSeconds * 0.8 + seconds * 0.2
        if waiters.isEmpty {
            idle.append(pipeline)
        } else {
            waiters.removeFirst().resume(returning: pipeline)
        }
    }
}
