import Foundation
import SkiffJSON
import SkiffSchema
import SkiffServer
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `skiff serve` on loopback, driven over sockets: valid pages, garbage, oversized
/// bodies and pages, hostile schemas, 50 requests at once, the OpenAPI document against the routes.
@Suite("skiff serve on loopback", .serialized)
struct ServeTests {
    final class Server {
        let process: ChildProcess
        let client: LoopbackHTTPClient
        let log: String

        init(_ extra: [String] = []) throws {
            let folder = try temporaryFolder()
            log = folder.appendingPathComponent("serve.log").path
            process = try ChildProcess(productsFolder().appendingPathComponent("skiff").path,
                                       ["serve", "--port", "0", "--engine", "tesseract", "--ocr", "fast", "--jobs", "2", "--queue", "2",
                                        "--max-body", "3000000", "--max-pixels", "20000000", "--max-schema", "20000",
                                        "--log-level", "warning"] + extra, log: log)
            let deadline = Date().addingTimeInterval(90)
            var port: Int?
            while port == nil && Date() < deadline {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if let range = text.range(of: "listening on http://127.0.0.1:") {
                    port = Int(text[range.upperBound...].prefix { $0.isNumber })
                } else {
                    usleep(100_000)
                }
            }
            guard let port else {
                process.kill(SIGKILL)
                throw LoopbackHTTPClient.Failure(description: "the server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            client = LoopbackHTTPClient(port: port, timeout: 120)
        }

        func stop() -> Bool {
            process.kill(SIGTERM)
            let exited = process.wait(seconds: 20)
            if !exited { process.kill(SIGKILL) }
            return exited
        }
    }

    static func sample(_ name: String) throws -> Data { try Data(contentsOf: repository.appendingPathComponent("samples/" + name)) }

    static func message(_ answer: LoopbackHTTPClient.Answer) -> String? {
        let object = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        return (object?["error"] as? [String: Any])?["message"] as? String
    }

    static func multipart(_ parts: [(name: String, body: Data)]) -> (headers: [String: String], body: Data) {
        let boundary = "skiff-test-\(UUID().uuidString)"
        var body = Data()
        for part in parts {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\"\r\n\r\n".utf8) + part.body + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        return (["Content-Type": "multipart/form-data; boundary=\(boundary)"], body)
    }

    @Test(.timeLimit(.minutes(5)))
    func servesValidatesLimitsAndStaysUp() throws {
        let server = try Server()
        var stopped = false
        defer { if !stopped { _ = server.stop() } }
        let client = server.client

        // Valid pages: documents that validate against the schema they were asked for.
        let receiptSchema = try JSONSchema(JSONParser().parse(Array(Data(contentsOf: repository.appendingPathComponent("schemas/receipt.json")))))
        for name in ["receipt-007.jpg", "invoice-001.png"] {
            let answer = try client.request("POST", "/v1/extract", headers: ["Content-Type": "image/*"], body: Self.sample(name))
            #expect(answer.status == 200, "\(name): \(answer.text)")
            let value = try JSONParser().parse(Array(answer.body))
            let document = try #require(value["document"])
            #expect(try receiptSchema.isValid(document), "\(name): the document validates")
            #expect(value["provenance"]?["fields"] != nil)
        }
        let invoiceText = try Data(contentsOf: repository.appendingPathComponent("schemas/invoice.json"))
        let invoiceSchema = try JSONSchema(JSONParser().parse(Array(invoiceText)))
        let form = Self.multipart([("file", try Self.sample("invoice-001.png")), ("schema", invoiceText), ("engine", Data("tesseract".utf8))])
        let invoice = try client.request("POST", "/v1/extract", headers: form.headers, body: form.body)
        #expect(invoice.status == 200, "\(invoice.text)")
        #expect(try invoiceSchema.isValid(try #require(JSONParser().parse(Array(invoice.body))["document"])), "multipart with its own schema")
        let named = try client.request("POST", "/v1/extract?schema=invoice", body: Self.sample("invoice-002.jpg"))
        #expect(named.status == 200 && (try? invoiceSchema.isValid(try JSONParser().parse(Array(named.body))["document"]!)) == true)

        let ocr = try client.request("POST", "/v1/ocr", body: Self.sample("receipt-007.jpg"))
        #expect(ocr.status == 200 && ocr.text.contains("\"words\""), "ocr: \(ocr.text.prefix(300))")
        let score = try client.request("POST", "/v1/score", headers: ["Content-Type": "application/json"],
                                       body: Data(#"{"reference": "hello world", "hypothesis": "helo world"}"#.utf8))
        let scored = try JSONSerialization.jsonObject(with: score.body) as? [String: Any]
        #expect(abs((scored?["cer"] as? Double ?? -1) - 1.0 / 11) < 1e-9, "score: \(score.text)")

        // Garbage, oversized, hostile: 4xx with a message, never a crash.
        var bomb = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        bomb += pngChunk("IHDR", bigEndian(30000) + bigEndian(30000) + Data([8, 0, 0, 0, 0]))
        bomb += pngChunk("IDAT", Data([0x78, 0x9C, 0x63, 0, 0, 0, 1, 0, 1])) + pngChunk("IEND", Data())
        let receipt = try Self.sample("receipt-007.jpg")
        let deep = Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        let cases: [(String, String, [String: String], Data, Int)] = [
            ("garbage", "/v1/extract", [:], Data("this is not an image".utf8), 415),
            ("empty", "/v1/extract", [:], Data(), 400),
            ("truncated", "/v1/extract", [:], receipt.prefix(receipt.count / 3), 400),
            ("oversized body", "/v1/extract", [:], Data(count: 3_500_000), 413),
            ("pixel bomb", "/v1/extract", [:], bomb, 413),
            ("garbage ocr", "/v1/ocr", [:], Data([1, 2, 3]), 415),
            ("garbage score", "/v1/score", ["Content-Type": "application/json"], Data("{\"reference\": 1}".utf8), 400),
            ("unknown schema name", "/v1/extract?schema=nope", [:], receipt, 400),
            ("unknown engine", "/v1/extract?engine=magic", [:], receipt, 400),
        ]
        for (label, path, headers, body, status) in cases {
            let answer = try client.request("POST", path, headers: headers, body: body)
            #expect(answer.status == status, "\(label): \(answer.status) \(answer.text)")
            #expect(Self.message(answer)?.isEmpty == false, "\(label) has a message: \(answer.text)")
        }
        let hostile: [(String, Data, Int)] = [
            ("deeply nested", deep, 413),
            ("not JSON", Data("{\"type\": ".utf8), 400),
            ("not an object schema", Data(#"{"type": "string"}"#.utf8), 422),
            ("remote reference", Data(#"{"type": "object", "properties": {"a": {"$ref": "https://example.com/x.json"}}}"#.utf8), 422),
            ("bad pattern", Data(#"{"type": "object", "properties": {"total": {"type": "string", "pattern": "(?<=a"}}}"#.utf8), 422),
            ("nested too deep", Data((String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)).utf8), 400),
            ("nested just under the parser's limit", Data(("{\"type\":\"object\",\"required\":[\"total\"],\"properties\":{\"total\":{\"type\":\"string\"},\"x\":"
                + String(repeating: #"{"properties":{"a":"#, count: 250) + "false" + String(repeating: "}}", count: 250) + "}}").utf8), 0),
        ]
        for (label, schema, status) in hostile {
            let form = Self.multipart([("file", receipt), ("schema", schema)])
            let answer = try client.request("POST", "/v1/extract", headers: form.headers, body: form.body)
            if status == 0 {
                // A legal schema, only deep: answered either way, and the server survives it.
                #expect([200, 400, 422].contains(answer.status), "hostile schema \(label): \(answer.status) \(answer.text.prefix(300))")
                continue
            }
            #expect(answer.status == status, "hostile schema \(label): \(answer.status) \(answer.text.prefix(300))")
            #expect((400..<500).contains(answer.status) && Self.message(answer)?.isEmpty == false, "\(label) has a message")
        }

        // 50 at once: each completes or is told to come back later.
        let answers = concurrently(50) { _ in try? client.request("POST", "/v1/extract", body: receipt) }
        let statuses = answers.map { $0?.status ?? -1 }
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 }, "every request completed or got 503: \(statuses)")
        #expect(statuses.contains(200), "some completed")
        for answer in answers.compactMap({ $0 }) where answer.status == 503 {
            #expect(Int(answer.headers["retry-after"] ?? "").map { $0 >= 1 } == true, "503 has Retry-After: \(answer.headers)")
        }
        let health = try client.request("GET", "/healthz")
        #expect(health.status == 200 && health.text.contains("\"ok\""), "the server is still up")
        let metrics = try client.request("GET", "/metrics").text
        #expect(metrics.contains("skiff_requests_total{route=\"/v1/extract\",status=\"200\"}"))
        #expect(metrics.contains("skiff_request_duration_seconds_bucket{route=\"/v1/extract\",le=\"+Inf\"}"))
        #expect(metrics.contains("skiff_queue_depth"))
        print("serve test: 50 concurrent → \(statuses.filter { $0 == 200 }.count) completed, \(statuses.filter { $0 == 503 }.count) 503")

        stopped = true
        #expect(server.stop(), "SIGTERM stops the server")
        #expect(server.process.status == 0, "clean exit after SIGTERM")
    }

    @Test(.timeLimit(.minutes(3)))
    func requestsOverTheTimeLimitGet408() throws {
        let server = try Server(["--timeout", "0.05"])
        defer { _ = server.stop() }
        let answer = try server.client.request("POST", "/v1/extract", body: Self.sample("invoice-001.png"))
        #expect(answer.status == 408, "\(answer.status) \(answer.text)")
        #expect(Self.message(answer)?.contains("limit of 0.05 s") == true, "\(answer.text)")
        #expect(try server.client.request("GET", "/healthz").status == 200, "still up")
    }

    @Test(.timeLimit(.minutes(3)))
    func openAPIDocumentMatchesTheRoutes() throws {
        let server = try Server()
        defer { _ = server.stop() }
        let answer = try server.client.request("GET", "/openapi.json")
        #expect(answer.status == 200)
        let document = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        #expect(document?["openapi"] as? String == "3.1.0")
        let paths = try #require(document?["paths"] as? [String: [String: Any]])
        #expect(Set(paths.keys) == ["/v1/extract", "/v1/ocr", "/v1/score", "/healthz", "/metrics", "/openapi.json"])
        for (path, operations) in paths {
            for method in operations.keys {
                let reply = try server.client.request(method.uppercased(), path)
                #expect(reply.status != 404 && reply.status != 405, "\(method) \(path) is served: \(reply.status)")
                // The other method is not.
                let other = method == "get" ? "POST" : "GET"
                if operations[other.lowercased()] == nil {
                    let wrong = try server.client.request(other, path)
                    #expect(wrong.status == 404 || wrong.status == 405, "\(other) \(path) is not a route: \(wrong.status)")
                }
            }
            let operation = operations.values.first as? [String: Any]
            let responses = operation?["responses"] as? [String: Any]
            #expect(responses?["200"] != nil, "\(path) documents its answer")
        }
        #expect(try server.client.request("GET", "/v1/nothing").status == 404, "undocumented paths are not served")
    }
}

/// Runs `body` on `count` threads at once (not the cooperative pool, which has a thread per core).
final class ResultBox<T>: @unchecked Sendable {
    var results: [T?]
    let lock = NSLock()
    init(_ n: Int) { results = Array(repeating: nil, count: n) }
}

func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let box = ResultBox<T>(count)
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            let result = body(index)
            box.lock.withLock { box.results[index] = result }
            group.leave()
        }
        thread.start()
    }
    group.wait()
    return box.results.map { $0! }
}

func bigEndian(_ value: UInt32) -> Data { withUnsafeBytes(of: value.bigEndian) { Data($0) } }

/// A PNG chunk with its CRC-32, so the header reads as valid.
func pngChunk(_ type: String, _ data: Data) -> Data {
    let typed = Data(type.utf8) + data
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in typed {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return bigEndian(UInt32(data.count)) + typed + bigEndian(crc ^ 0xFFFF_FFFF)
}
