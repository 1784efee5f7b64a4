import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Skiff
import SkiffServer

/// Requests per second and latency of `POST /v1/extract` on a real loopback server, next to the
/// same pages through the same pipelines without HTTP, in the same run.
struct ServeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Requests/s and p50/p99 latency of POST /v1/extract (Tesseract engine) against the pipeline alone.")

    @Argument(help: "Image files or folders (default: ../shared/data/sroie-dev/img).")
    var inputs: [String] = ["../shared/data/sroie-dev/img"]

    @Option(help: "Requests to send (pages are reused in turn).")
    var requests: Int = 60

    @Option(help: "Client connections at once.")
    var concurrency: Int = 2

    @Option(help: "Server workers (pipelines).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Tesseract models each page is read with (the service's default: fast,standard).")
    var ocr: String = "fast,standard"

    @Flag(help: "Skip the run without HTTP.")
    var skipDirect = false

    func run() async throws {
        let files = InputFiles.collect(inputs).files
        guard !files.isEmpty else {
            printError("skiff bench serve: no images in \(inputs.joined(separator: " "))")
            throw ExitCode(1)
        }
        let pages = try files.map { try Data(contentsOf: $0.url) }
        let passes = ocr.split(separator: ",").map {
            TesseractConfiguration(model: TesseractModel(argument: String($0)), pageSegmentationMode: 4, assumedResolution: 300)
        }
        let schema = try ExtractionSchema(contentsOf: bundledSchema("receipt.json"))
        let pipelines = try (0..<jobs).map { _ in try ExtractionPipeline(schema: schema, engine: .tesseract, passes: passes, jobs: 1) }
        emit("skiff bench serve: \(requests) requests over \(pages.count) pages, \(concurrency) connections, \(jobs) workers, "
             + "OCR \(ocr), \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // The pipeline alone: the same pages, the same workers, no HTTP.
        if !skipDirect {
            let loader = DocumentLoader()
            let clock = ContinuousClock()
            let start = clock.now
            let count = requests
            let latencies = LatencyLog()
            await forEachConcurrently(count, width: jobs, operation: { index in
                let began = clock.now
                let pipeline = pipelines[index % pipelines.count]
                if let document = try? loader.load(pages[index % pages.count], label: "page") {
                    _ = try? await pipeline.extract(document)
                }
                latencies.add((clock.now - began).seconds)
            }, report: { _, _ in })
            let seconds = (clock.now - start).seconds
            emit(String(format: "pipeline alone:   %6.2f pages/s   p50 %6.0f ms   p99 %6.0f ms", Double(count) / seconds,
                        latencies.percentile(0.5) * 1000, latencies.percentile(0.99) * 1000))
        }

        var logger = Logger(label: "skiff.bench")
        // Stopping the server by cancellation makes Hummingbird log its closed channels as errors.
        logger.logLevel = .critical
        let service = SkiffService(configuration: ServerConfiguration(port: 0, workers: jobs, queueDepth: concurrency),
                                   pipelines: pipelines, defaultSchema: schema, logger: logger)
        let (ports, portReady) = AsyncStream<Int>.makeStream()
        let app = Application(router: service.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portReady.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            server.cancel()
            printError("skiff bench serve: the server did not start")
            throw ExitCode(1)
        }
        let client = LoopbackHTTPClient(port: port, timeout: 300)
        let total = requests, connections = concurrency
        let result = await Task.detached { () -> (Double, LatencyLog, [Int: Int]) in
            let latencies = LatencyLog()
            let next = Counter()
            let statuses = StatusLog()
            let start = Date()
            let group = DispatchGroup()
            for _ in 0..<connections {
                group.enter()
                Thread {
                    while true {
                        let index = next.take()
                        guard index < total else { break }
                        let began = Date()
                        let status = (try? client.request("POST", "/v1/extract", headers: ["Content-Type": "image/jpeg"],
                                                          body: pages[index % pages.count]).status) ?? -1
                        latencies.add(Date().timeIntervalSince(began))
                        statuses.add(status)
                    }
                    group.leave()
                }.start()
            }
            group.wait()
            return (Date().timeIntervalSince(start), latencies, statuses.counts)
        }.value
        server.cancel()
        _ = try? await server.value
        let (seconds, latencies, statuses) = result
        emit(String(format: "POST /v1/extract: %6.2f requests/s p50 %6.0f ms   p99 %6.0f ms", Double(total) / seconds,
                    latencies.percentile(0.5) * 1000, latencies.percentile(0.99) * 1000))
        emit("statuses: " + statuses.keys.sorted().map { "\($0): \(statuses[$0]!)" }.joined(separator: ", "))
    }
}

final class LatencyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    func add(_ value: Double) { lock.withLock { values.append(value) } }
    /// Nearest-rank percentile.
    func percentile(_ p: Double) -> Double {
        lock.withLock {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take() -> Int { lock.withLock { defer { value += 1 }; return value } }
}

final class StatusLog: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var counts: [Int: Int] = [:]
    func add(_ status: Int) { lock.withLock { counts[status, default: 0] += 1 } }
}
