/// The service's address and limits.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (printed when the server is up).
    public var port: Int
    /// Requests processed at once: one pipeline (with its own Tesseract engines) each.
    public var workers: Int
    /// Requests that may wait for a worker; beyond that the answer is 503 with Retry-After.
    public var queueDepth: Int
    /// Largest request body, in bytes.
    public var maxBodyBytes: Int
    /// Largest page, in pixels (width × height, read from the header before decoding).
    public var maxPixels: Int
    /// Largest schema a request may carry, in bytes.
    public var maxSchemaBytes: Int
    /// Seconds a request may take, waiting and processing together.
    public var requestTimeout: Double

    public init(host: String = "127.0.0.1", port: Int = 8080, workers: Int = 1, queueDepth: Int? = nil,
                maxBodyBytes: Int = 20 << 20, maxPixels: Int = 40_000_000, maxSchemaBytes: Int = 64 << 10,
                requestTimeout: Double = 60) {
        self.host = host
        self.port = port
        self.workers = max(1, workers)
        self.queueDepth = max(0, queueDepth ?? self.workers * 2)
        self.maxBodyBytes = maxBodyBytes
        self.maxPixels = maxPixels
        self.maxSchemaBytes = maxSchemaBytes
        self.requestTimeout = requestTimeout
    }
}
