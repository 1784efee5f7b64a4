import Foundation
@testable import SkiffServer
import SkiffJSON
import Testing

@Suite("server parts")
struct ServerPartsTests {
    @Test func multipartFormSplitsNamedParts() throws {
        let body = Array("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\u{1}\u{2}\r\n3\r\n--XyZ\r\nContent-Disposition: form-data; name=\"engine\"\r\n\r\ntesseract\r\n--XyZ--\r\n".utf8)
        #expect(MultipartForm.boundary(contentType: "multipart/form-data; boundary=\"XyZ\"") == "XyZ")
        let form = try MultipartForm(body: body, boundary: "XyZ")
        #expect(form.part("file")?.body == [1, 2, 13, 10, 51])
        #expect(form.part("file")?.filename == "a.png" && form.part("file")?.contentType == "image/png")
        #expect(form.part("engine")?.body == Array("tesseract".utf8))
        #expect(throws: ServiceError.self) { try MultipartForm(body: Array("no boundary here".utf8), boundary: "XyZ") }
    }

    @Test func metricsAreValidPrometheusText() {
        let metrics = ServiceMetrics()
        metrics.record(route: "/v1/extract", status: 200, seconds: 0.3)
        metrics.record(route: "/v1/extract", status: 503, seconds: 0.001)
        metrics.failed(route: "/v1/extract", reason: "busy")
        metrics.pagesProcessed(1)
        let text = metrics.text(workers: 2, busy: 1, waiting: 0)
        #expect(text.contains("skiff_request_duration_seconds_bucket{route=\"/v1/extract\",le=\"0.25\"} 1"))
        #expect(text.contains("skiff_request_duration_seconds_bucket{route=\"/v1/extract\",le=\"0.5\"} 2"))
        #expect(text.contains("skiff_request_duration_seconds_count{route=\"/v1/extract\"} 2"))
        #expect(text.contains("skiff_rejected_total 1") && text.contains("skiff_workers_busy 1") && text.contains("skiff_pages_total 1"))
        // Every sample line belongs to a declared family.
        let families = Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = line.prefix { $0 != "{" && $0 != " " }
            #expect(families.contains { name == $0 || name.hasPrefix($0 + "_") }, "\(line) is declared")
        }
    }

    @Test func openAPIListsEveryEndpoint() throws {
        let document = OpenAPIDocument.make(endpoints: SkiffService.endpoints, configuration: ServerConfiguration())
        let paths = try #require(document["paths"]?.objectValue)
        for endpoint in SkiffService.endpoints {
            #expect(paths[endpoint.path]?[endpoint.method.rawValue.lowercased()]?["operationId"]?.stringValue == endpoint.operation)
        }
        #expect(paths["/v1/extract"]?["post"]?["responses"]?["503"]?["headers"]?["Retry-After"] != nil)
    }
}
