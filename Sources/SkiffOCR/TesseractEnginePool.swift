public import SkiffImage
internal import Foundation

/// A fixed set of Tesseract engines shared by concurrent workers.
///
/// Engines are created lazily, at most `capacity` of them, and reused: a page
/// borrows an idle engine, runs on a thread outside Swift's cooperative pool
/// (OCR blocks for hundreds of milliseconds), and gives the engine back.
public final class TesseractEnginePool: @unchecked Sendable {
    public let configuration: TesseractConfiguration
    public let capacity: Int
    private let lock = NSLock()
    private var idle: [TesseractEngine] = []
    private var created = 0
    private var waiters: [CheckedContinuation<TesseractEngine?, Never>] = []
    private let queue: DispatchQueue

    public init(configuration: TesseractConfiguration, capacity: Int) {
        self.configuration = configuration
        self.capacity = max(1, capacity)
        self.queue = DispatchQueue(label: "skiff.tesseract", attributes: .concurrent)
    }

    /// Creates one engine now, so a missing model or library fails before any page is read.
    public func warmUp() throws(OCRError) {
        let engine = try TesseractEngine(configuration: configuration)
        lock.withLock {
            created += 1
            idle.append(engine)
        }
    }

    /// Recognises a page with a pooled engine; cancelling the task stops Tesseract at its next word.
    public func recognize(_ image: PixelBuffer, page: Int = 0) async throws -> OCRPage {
        if Task.isCancelled { throw OCRError.cancelled }
        let engine = try await borrow()
        defer { giveBack(engine) }
        let cancellation = TesseractEngine.Cancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<OCRPage, any Error>) in
                queue.async {
                    continuation.resume(with: Result { () throws(OCRError) -> OCRPage in
                        try engine.recognize(image, page: page, cancellation: cancellation)
                    })
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    private enum Claim {
        case engine(TesseractEngine)
        case create
        case wait
    }

    private func claim() -> Claim {
        lock.withLock {
            if let engine = idle.popLast() { return .engine(engine) }
            if created < capacity {
                created += 1
                return .create
            }
            return .wait
        }
    }

    private func borrow() async throws -> TesseractEngine {
        switch claim() {
        case .engine(let engine):
            return engine
        case .create:
            do {
                return try TesseractEngine(configuration: configuration)
            } catch {
                lock.withLock { created -= 1 }
                throw error
            }
        case .wait:
            // All engines busy: wait for one to come back.
            let engine = await withCheckedContinuation { (continuation: CheckedContinuation<TesseractEngine?, Never>) in
                let ready: TesseractEngine? = lock.withLock {
                    if let engine = idle.popLast() { return engine }
                    waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
            guard let engine else { throw OCRError.cancelled }
            return engine
        }
    }

    private func giveBack(_ engine: TesseractEngine) {
        let waiter: CheckedContinuation<TesseractEngine?, Never>? = lock.withLock {
            if !waiters.isEmpty { return waiters.removeFirst() }
            idle.append(engine)
            return nil
        }
        waiter?.resume(returning: engine)
    }
}
