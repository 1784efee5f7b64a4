import Hummingbird
import SkiffExtraction
import SkiffImage

/// Every way a request can fail, mapped to one HTTP status and a message in one place.
public enum ServiceError: Error, Sendable, CustomStringConvertible {
    case badRequest(String)
    case tooLarge(String)
    case unsupportedMediaType(String)
    case unprocessable(String)
    case timeout(String)
    case busy(retryAfter: Int)
    case internalError(String)

    public var description: String {
        switch self {
        case .badRequest(let m), .tooLarge(let m), .unsupportedMediaType(let m), .unprocessable(let m), .timeout(let m),
             .internalError(let m): m
        case .busy(let seconds): "every worker is busy and the queue is full; retry in \(seconds) s"
        }
    }

    var status: HTTPResponse.Status {
        switch self {
        case .badRequest: .badRequest
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unprocessable: .unprocessableContent
        case .timeout: .requestTimeout
        case .busy: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    /// The short reason for metrics labels.
    var reason: String {
        switch self {
        case .badRequest: "bad_request"
        case .tooLarge: "too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .unprocessable: "unprocessable"
        case .timeout: "timeout"
        case .busy: "busy"
        case .internalError: "internal"
        }
    }

    var httpError: HTTPError {
        var headers = HTTPFields()
        if case .busy(let seconds) = self { headers[.retryAfter] = String(seconds) }
        return HTTPError(status, headers: headers, message: description)
    }

    /// A page that could not be decoded: what the client sent is wrong, and how.
    static func image(_ error: ImageError, label: String) -> ServiceError {
        let message = error.description.replacingOccurrences(of: error.file + ": ", with: "")
        switch error.reason {
        case .tooLarge: return .tooLarge("\(label): \(message)")
        case .unsupportedFormat, .unrecognizedFormat: return .unsupportedMediaType("\(label): \(message)")
        case .outOfMemory: return .internalError("\(label): \(message)")
        default: return .badRequest("\(label): \(message)")
        }
    }

    static func extraction(_ error: ExtractionError) -> ServiceError {
        switch error {
        case .schema, .unsupportedSchema: .unprocessable("schema: \(error)")
        case .noValidOutput: .unprocessable("\(error)")
        case .input: .badRequest("\(error)")
        case .engineUnavailable: .internalError("\(error)")
        }
    }
}
