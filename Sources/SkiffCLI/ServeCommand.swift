import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Skiff
import SkiffInbox
import SkiffServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve extraction over HTTP on this machine (and optionally watch inboxes in the same process).",
        discussion: """
            POST /v1/extract (a PNG or JPEG as the body, or multipart/form-data with parts file, \
            schema and engine), POST /v1/ocr, POST /v1/score, GET /healthz, GET /metrics \
            (Prometheus text), GET /openapi.json. Requests beyond the workers and the queue get \
            503 with Retry-After; bodies, pages and schemas over their limits get 413.
            """)

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port (0: any free port, printed at start).")
    var port: Int = 8080

    @OptionGroup var pipeline: PipelineOptions

    @Option(help: "Requests processed at once, each worker with its own Tesseract engines.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Requests that may wait for a worker before the answer is 503 (default: 2 per worker).")
    var queue: Int?

    @Option(help: "Largest request body in bytes.")
    var maxBody: Int = 20 << 20

    @Option(help: "Largest page in pixels (width × height).")
    var maxPixels: Int = 40_000_000

    @Option(help: "Largest schema a request may send, in bytes.")
    var maxSchema: Int = 64 << 10

    @Option(help: "Seconds a request may take, waiting included.")
    var timeout: Double = 60

    @Option(help: "Also watch this inbox folder (repeatable; see skiff watch).")
    var inbox: [String] = []

    @Option(help: "Output folder for --inbox (a subfolder per inbox when there are several).")
    var out: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard inbox.isEmpty || out != nil else { throw ValidationError("--inbox needs --out") }
        guard timeout > 0, maxBody > 0, maxPixels > 0, maxSchema > 0 else { throw ValidationError("limits must be positive") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        bootstrapLogging(level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "skiff.serve")
        let service: SkiffService
        var inboxes: [Inbox] = []
        do {
            let schema = try pipeline.loadSchema()
            var named: [String: ExtractionSchema] = [:]
            for name in ["receipt", "invoice"] { named[name] = try ExtractionSchema(contentsOf: bundledSchema(name + ".json")) }
            let pipelines = try (0..<jobs).map { _ in try pipeline.makePipeline(schema: schema, command: "serve") }
            service = SkiffService(
                configuration: ServerConfiguration(host: host, port: port, workers: jobs, queueDepth: queue, maxBodyBytes: maxBody,
                                                   maxPixels: maxPixels, maxSchemaBytes: maxSchema, requestTimeout: timeout),
                pipelines: pipelines, defaultSchema: schema, schemas: named, logger: logger)
            let options = pipeline
            for folder in inbox {
                let base = URL(fileURLWithPath: out ?? "out")
                let output = inbox.count == 1 ? base : base.appendingPathComponent(URL(fileURLWithPath: folder).lastPathComponent)
                inboxes.append(try Inbox(configuration: InboxConfiguration(inbox: URL(fileURLWithPath: folder), output: output),
                                         logger: Logger(label: "skiff.inbox")) {
                    try options.makePipeline(schema: schema, command: "serve")
                })
            }
        } catch {
            printError("skiff serve: \(error)")
            throw ExitCode(2)
        }
        let host = self.host
        let app = Application(
            router: service.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "skiff"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                printError("skiff serve: listening on http://\(host):\(port)")
            },
            logger: logger)
        let running = inboxes
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // SIGTERM / SIGINT: the server stops taking connections and finishes its requests.
                    try await app.runService()
                    for inbox in running { await inbox.stop() }
                }
                for inbox in running {
                    group.addTask { _ = try await inbox.run() }
                }
                try await group.waitForAll()
            }
        } catch {
            printError("skiff serve: \(error)")
            throw ExitCode(1)
        }
    }
}
