import Ledger

/// An error answer: HTTP status, a stable code clients branch on, a message that names the
/// problem (and the field, for bad input).
public struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var field: String?

    public init(status: Int, code: String, message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// 400: the request is malformed; `field` names what is wrong.
    public static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(status: 400, code: "invalid_request", message: "\(field): \(message)", field: field)
    }

    public static func notFound(_ path: String) -> APIError {
        APIError(status: 404, code: "not_found", message: "no such endpoint: \(path)")
    }

    public static func methodNotAllowed(_ method: String, _ allowed: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed", message: "\(method) is not allowed here; use \(allowed.joined(separator: ", "))")
    }

    public static func payloadTooLarge(_ limit: Int) -> APIError {
        APIError(status: 413, code: "payload_too_large", message: "the body exceeds \(limit) bytes")
    }

    /// 400: the bytes are not an HTTP/1.x request ledgerd accepts; the connection is closed, since
    /// where a next request would start is unknown.
    public static func malformedHTTP(_ reason: String) -> APIError {
        APIError(status: 400, code: "bad_request", message: "malformed HTTP request: \(reason)")
    }

    public static func headersTooLarge(_ limit: Int) -> APIError {
        APIError(status: 431, code: "headers_too_large", message: "the request head exceeds \(limit) bytes")
    }

    public static let requestTimeout = APIError(status: 408, code: "request_timeout", message: "the request was not received in time")
    public static let forbidden = APIError(status: 403, code: "forbidden", message: "this peer's uid is not allowed (see ledgerd --allow-uid)")
    public static let shuttingDown = APIError(status: 503, code: "shutting_down", message: "ledgerd is shutting down; retry against the next instance")

    public static func diskFull(_ detail: String) -> APIError {
        APIError(status: 507, code: "disk_full", message: "the ledger cannot grow: \(detail); nothing was written, reads still work")
    }

    public static func `internal`(_ detail: String) -> APIError {
        APIError(status: 500, code: "internal_error", message: detail)
    }

    /// 400 for malformed commands, 409 for state rejections.
    public init(_ rejection: Rejection) {
        self.init(status: rejection.code == .invalidRequest ? 400 : 409, code: rejection.code.rawValue,
                  message: rejection.message, field: rejection.field)
    }

    /// `{"error":{"code","message","field"?}}` (plus, for 409s, the caller's `session`).
    public func write(into w: inout JSONWriter) {
        w.key("error")
        w.beginObject()
        w.key("code"); w.value(code)
        w.key("message"); w.value(message)
        if let field { w.key("field"); w.value(field) }
        w.endObject()
    }

    /// The whole body of an error answer without extra members.
    public var body: [UInt8] {
        var w = JSONWriter(capacity: 160)
        w.beginObject()
        write(into: &w)
        w.endObject()
        return w.bytes
    }
}
