import SkiffJSON

/// The OpenAPI 3.1 document for `GET /openapi.json`, written from the same endpoint list that
/// registers the routes, so the two cannot drift apart.
enum OpenAPIDocument {
    static func make(endpoints: [SkiffService.Endpoint], configuration: ServerConfiguration) -> JSONValue {
        var paths = JSONObject()
        for endpoint in endpoints {
            var operation = JSONObject()
            operation["operationId"] = .string(endpoint.operation)
            operation["summary"] = .string(endpoint.summary)
            if !endpoint.query.isEmpty {
                operation["parameters"] = .array(endpoint.query.map { name, description in
                    var p = JSONObject()
                    p["name"] = .string(name)
                    p["in"] = .string("query")
                    p["required"] = .bool(false)
                    p["description"] = .string(description)
                    p["schema"] = object(["type": .string("string")])
                    return .object(p)
                })
            }
            if !endpoint.accepts.isEmpty {
                var content = JSONObject()
                for type in endpoint.accepts {
                    switch type {
                    case "application/json":
                        content[type] = object(["schema": object(["type": .string("object")])])
                    case "multipart/form-data":
                        content[type] = object(["schema": object([
                            "type": .string("object"), "required": .array([.string("file")]),
                            "properties": object([
                                "file": object(["type": .string("string"), "contentMediaType": .string("image/*")]),
                                "schema": object(["type": .string("string"), "description": .string("a JSON Schema (draft 2020-12 by default), at most \(configuration.maxSchemaBytes) bytes")]),
                                "engine": object(["type": .string("string"), "enum": .array(["auto", "tesseract", "vision"].map(JSONValue.string))]),
                            ]),
                        ])])
                    default:
                        content[type] = object(["schema": object(["type": .string("string"), "contentMediaType": .string(type)])])
                    }
                }
                operation["requestBody"] = object(["required": .bool(true), "content": .object(content)])
            }
            var responses = JSONObject()
            let ok = endpoint.operation == "metrics" ? "text/plain" : "application/json"
            responses["200"] = object(["description": .string("OK"), "content": object([ok: object([:])])])
            for code in endpoint.errors {
                var r = JSONObject()
                r["description"] = .string(description(code, configuration))
                r["content"] = object(["application/json": object(["schema": object(["$ref": .string("#/components/schemas/Error")])])])
                if code == 503 {
                    r["headers"] = object(["Retry-After": object(["schema": object(["type": .string("integer")]),
                                                                     "description": .string("seconds")])])
                }
                responses[String(code)] = .object(r)
            }
            operation["responses"] = .object(responses)
            var item = paths[endpoint.path]?.objectValue ?? JSONObject()
            item[endpoint.method.rawValue.lowercased()] = .object(operation)
            paths[endpoint.path] = .object(item)
        }
        var root = JSONObject()
        root["openapi"] = .string("3.1.0")
        root["info"] = object(["title": .string("Skiff"), "version": .string("1"),
                                "description": .string("Scanned invoices and receipts to JSON, on this machine.")])
        root["paths"] = .object(paths)
        root["components"] = object(["schemas": object(["Error": object([
            "type": .string("object"), "required": .array([.string("error")]),
            "properties": object(["error": object(["type": .string("object"),
                                                     "properties": object(["message": object(["type": .string("string")])])])]),
        ])])])
        return .object(root)
    }

    static func description(_ code: Int, _ c: ServerConfiguration) -> String {
        switch code {
        case 400: "the body is not a page that decodes, or a parameter is wrong"
        case 408: "the request took longer than \(c.requestTimeout) s"
        case 413: "the body is over \(c.maxBodyBytes) bytes, the page over \(c.maxPixels) pixels, or the schema over \(c.maxSchemaBytes) bytes"
        case 415: "not a PNG or JPEG page"
        case 422: "the schema cannot be used, or no valid document could be made"
        case 503: "every worker is busy and the queue is full; retry after Retry-After seconds"
        default: "error"
        }
    }
}

/// A JSON object from a literal, keys in the order written.
func object(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
    var o = JSONObject()
    for (key, value) in pairs { o[key] = value }
    return .object(o)
}
