public import Foundation
public import Hummingbird
public import Logging
public import SkiffExtraction
import SkiffImage
import SkiffJSON
import SkiffOCR
import SkiffScoring

/// The HTTP service: routes, limits and the worker pool, on Hummingbird 2. Handlers turn
/// domain errors into HTTP errors in one place (`ServiceError`); every route is listed once in
/// `endpoints`, which both registers it and writes the OpenAPI document.
public struct SkiffService: Sendable {
    public let configuration: ServerConfiguration
    public let pool: WorkerPool
    public let metrics = ServiceMetrics()
    let defaultSchema: ExtractionSchema
    let bundledSchemas: [String: ExtractionSchema]
    let loader: DocumentLoader
    let hasVision: Bool
    let logger: Logger

    /// - Parameters:
    ///   - pipelines: one per worker, each with its own engines.
    ///   - schemas: schemas a request may name (`?schema=receipt`), besides sending its own.
    public init(configuration: ServerConfiguration, pipelines: [ExtractionPipeline], defaultSchema: ExtractionSchema,
                schemas: [String: ExtractionSchema] = [:], logger: Logger = Logger(label: "skiff.serve")) {
        self.configuration = configuration
        pool = WorkerPool(pipelines: pipelines, queueDepth: configuration.queueDepth)
        self.defaultSchema = defaultSchema
        bundledSchemas = schemas
        loader = DocumentLoader(options: DecodingOptions(maxPixels: configuration.maxPixels))
        hasVision = pipelines.first.map { $0.fallback != nil } ?? false
        self.logger = logger
    }

    /// One route: what registers it and what the OpenAPI document says about it.
    public struct Endpoint: Sendable {
        public var method: HTTPRequest.Method
        public var path: String
        public var operation: String
        public var summary: String
        /// Content types the body may have (empty: no body).
        public var accepts: [String]
        /// Query parameters: name → description.
        public var query: [(String, String)]
        /// Status codes it may answer besides 200.
        public var errors: [Int]
    }

    public static let endpoints: [Endpoint] = [
        Endpoint(method: .post, path: "/v1/extract", operation: "extract",
                 summary: "Extract schema-valid JSON from one scanned page: the image as the body, or multipart/form-data with parts file, schema (a JSON Schema) and engine.",
                 accepts: ["image/png", "image/jpeg", "application/octet-stream", "multipart/form-data"],
                 query: [("schema", "a bundled schema by name (receipt, invoice); default receipt"),
                         ("engine", "auto (the server's engine) or tesseract (rules over OCR words)")],
                 errors: [400, 408, 413, 415, 422, 503]),
        Endpoint(method: .post, path: "/v1/ocr", operation: "ocr",
                 summary: "Read one page with every configured Tesseract pass: words, lines and blocks with boxes and confidences.",
                 accepts: ["image/png", "image/jpeg", "application/octet-stream"], query: [],
                 errors: [400, 408, 413, 415, 503]),
        Endpoint(method: .post, path: "/v1/score", operation: "score",
                 summary: "CER and WER of a hypothesis against a reference text: {\"reference\", \"hypothesis\", \"profile\"}.",
                 accepts: ["application/json"], query: [], errors: [400, 413]),
        Endpoint(method: .get, path: "/healthz", operation: "health", summary: "Liveness and the worker pool's state.",
                 accepts: [], query: [], errors: []),
        Endpoint(method: .get, path: "/metrics", operation: "metrics",
                 summary: "Prometheus text: requests, latency histograms, pages, failures, queue depth.",
                 accepts: [], query: [], errors: []),
        Endpoint(method: .get, path: "/openapi.json", operation: "openapi", summary: "This document.",
                 accepts: [], query: [], errors: []),
    ]

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        for endpoint in Self.endpoints {
            router.on(RouterPath(endpoint.path), method: endpoint.method) { request, context in
                try await respond(endpoint, request)
            }
        }
        return router
    }

    /// Times the handler, records it, and maps its error.
    private func respond(_ endpoint: Endpoint, _ request: Request) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let response = try await handle(endpoint, request)
            metrics.record(route: endpoint.path, status: Int(response.status.code), seconds: (clock.now - start).seconds)
            return response
        } catch {
            metrics.record(route: endpoint.path, status: Int(error.status.code), seconds: (clock.now - start).seconds)
            metrics.failed(route: endpoint.path, reason: error.reason)
            if case .internalError = error {
                logger.error("request failed", metadata: ["route": "\(endpoint.path)", "error": "\(error)"])
            }
            throw error.httpError
        }
    }

    private func handle(_ endpoint: Endpoint, _ request: Request) async throws(ServiceError) -> Response {
        switch endpoint.operation {
        case "extract": return try await withDeadline { () throws(ServiceError) in try await extract(request) }
        case "ocr": return try await withDeadline { () throws(ServiceError) in try await ocr(request) }
        case "score": return try await withDeadline { () throws(ServiceError) in try await score(request) }
        case "health":
            var o = JSONObject()
            o["status"] = .string("ok")
            o["workers"] = .number(JSONNumber(pool.size))
            o["busy"] = .number(JSONNumber(await pool.busy))
            o["waiting"] = .number(JSONNumber(await pool.waiting))
            o["queue_depth"] = .number(JSONNumber(configuration.queueDepth))
            return json(.object(o))
        case "metrics":
            let text = metrics.text(workers: pool.size, busy: await pool.busy, waiting: await pool.waiting)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        case "openapi":
            return json(OpenAPIDocument.make(endpoints: Self.endpoints, configuration: configuration))
        default:
            throw .internalError("no handler for \(endpoint.path)")
        }
    }

    // MARK: Handlers

    private func extract(_ request: Request) async throws(ServiceError) -> Response {
        let body = try await collect(request)
        var image = body
        var schema = defaultSchema
        var engine = request.uri.queryParameters["engine"].map(String.init) ?? "auto"
        if let name = request.uri.queryParameters["schema"].map(String.init) {
            guard let named = bundledSchemas[name] else {
                throw .badRequest("unknown schema \(name); send your own in a multipart part named schema, or one of: "
                                  + bundledSchemas.keys.sorted().joined(separator: ", "))
            }
            schema = named
        }
        if let contentType = request.headers[.contentType], let boundary = MultipartForm.boundary(contentType: contentType) {
            let form = try MultipartForm(body: body, boundary: boundary)
            guard let file = form.part("file") ?? form.part("image") else {
                throw .badRequest("multipart request without a part named file (the image)")
            }
            image = file.body
            if let part = form.part("schema") { schema = try parseSchema(part.body) }
            if let part = form.part("engine") { engine = String(decoding: part.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        guard ["auto", "tesseract", "vision"].contains(engine) else {
            throw .badRequest("unknown engine \(engine) (auto, tesseract or vision)")
        }
        if engine == "vision" && !hasVision { throw .badRequest("engine vision: no vision-language model is loaded on this server") }
        let document = try decode(image)
        let rulesOnly = engine == "tesseract"
        let extraction = try await onWorker { pipeline async throws(ServiceError) -> Extraction in
            do {
                return try await pipeline.extract(document, schema: schema, rulesOnly: rulesOnly)
            } catch let error as ExtractionError {
                throw .extraction(error)
            } catch {
                throw .internalError("\(error)")
            }
        }
        metrics.pagesProcessed(document.pages.count)
        var o = JSONObject()
        o["document"] = extraction.document
        o["provenance"] = extraction.provenance(file: "request")
        o["schema"] = .string(schema.name)
        return json(.object(o))
    }

    private func ocr(_ request: Request) async throws(ServiceError) -> Response {
        let document = try decode(try await collect(request))
        let passes = try await onWorker { pipeline async throws(ServiceError) -> [OCRPass] in
            do {
                return try await pipeline.recognize(document)
            } catch let error as ExtractionError {
                throw .extraction(error)
            } catch {
                throw .internalError("\(error)")
            }
        }
        metrics.pagesProcessed(document.pages.count)
        struct Pass: Encodable {
            var name: String
            var pages: [OCRPage]
        }
        struct Body: Encodable {
            var passes: [Pass]
        }
        return try encoded(Body(passes: passes.map { Pass(name: $0.name, pages: $0.pages) }))
    }

    private func score(_ request: Request) async throws(ServiceError) -> Response {
        let body = try await collect(request)
        struct Input: Decodable {
            var reference: String
            var hypothesis: String
            var profile: String?
            var orderInsensitive: Bool?
        }
        let input: Input
        do {
            input = try JSONDecoder().decode(Input.self, from: Data(body))
        } catch {
            throw .badRequest("expected {\"reference\": TEXT, \"hypothesis\": TEXT, \"profile\": NAME}: \(Self.describe(error))")
        }
        let profile: ScoringProfile
        if let name = input.profile {
            guard let known = ScoringProfile(rawValue: name) else {
                throw .badRequest("unknown profile \(name) (one of: \(ScoringProfile.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            profile = known
        } else {
            profile = .nfc
        }
        let score = TextScorer(profile: profile, orderInsensitive: input.orderInsensitive ?? false)
            .score(reference: input.reference, hypothesis: input.hypothesis)
        struct Output: Encodable {
            var cer: Double
            var wer: Double
            var profile: String
            var definition: String
            var score: TextScore
        }
        return try encoded(Output(cer: score.cer, wer: score.wer, profile: profile.rawValue, definition: profile.definition,
                                  score: score))
    }

    // MARK: Plumbing

    private func collect(_ request: Request) async throws(ServiceError) -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw .tooLarge("body of \(length) bytes is more than the limit of \(limit) bytes")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            if (error as? any HTTPResponseError)?.status == .contentTooLarge {
                throw .tooLarge("body is more than the limit of \(limit) bytes")
            }
            throw .badRequest("cannot read the body: \(error)")
        }
    }

    private func decode(_ bytes: [UInt8]) throws(ServiceError) -> Document {
        guard !bytes.isEmpty else { throw .badRequest("empty body: send a PNG or JPEG page") }
        do {
            return try loader.load(Data(bytes), label: "request body")
        } catch {
            throw .image(error, label: "request body")
        }
    }

    private func parseSchema(_ bytes: [UInt8]) throws(ServiceError) -> ExtractionSchema {
        guard bytes.count <= configuration.maxSchemaBytes else {
            throw .tooLarge("schema of \(bytes.count) bytes is more than the limit of \(configuration.maxSchemaBytes) bytes")
        }
        let value: JSONValue
        do {
            value = try JSONParser().parse(bytes)
        } catch {
            throw .badRequest("schema is not JSON: \(error)")
        }
        do {
            return try ExtractionSchema(value, name: "request schema")
        } catch {
            throw .unprocessable("schema: \(error)")
        }
    }

    /// Runs `work` on a worker's pipeline, or answers 503 when none is free and the queue is full.
    private func onWorker<T: Sendable>(_ work: (ExtractionPipeline) async throws(ServiceError) -> T) async throws(ServiceError) -> T {
        let pipeline: ExtractionPipeline
        do {
            pipeline = try await pool.acquire()
        } catch {
            throw .busy(retryAfter: error.retryAfter)
        }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let result = try await work(pipeline)
            await pool.release(pipeline, heldFor: (clock.now - start).seconds)
            return result
        } catch {
            await pool.release(pipeline, heldFor: (clock.now - start).seconds)
            throw error
        }
    }

    /// The request timeout: waiting, reading and processing together. The work is cancelled
    /// (Tesseract stops at its next word) and the answer is 408.
    private func withDeadline(_ work: @escaping @Sendable () async throws(ServiceError) -> Response) async throws(ServiceError) -> Response {
        let seconds = configuration.requestTimeout
        let result: Result<Response, ServiceError> = await withTaskGroup(of: Result<Response, ServiceError>?.self) { group in
            group.addTask {
                do {
                    return .success(try await work())
                } catch let error as ServiceError {
                    return .failure(error)
                } catch {
                    return .failure(.internalError("\(error)"))
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return Task.isCancelled ? nil : .failure(.timeout("the request took longer than the limit of \(seconds) s"))
            }
            var first: Result<Response, ServiceError>?
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? .failure(.internalError("no result"))
        }
        return try result.get()
    }

    private func json(_ value: JSONValue) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: JSONSerializer.compact.data(from: value))))
    }

    private func encoded(_ value: some Encodable) throws(ServiceError) -> Response {
        do {
            let data = try JSONEncoder().encode(value)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        } catch {
            throw .internalError("cannot encode the answer: \(error)")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let context): context.debugDescription
        default: "\(error)"
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
