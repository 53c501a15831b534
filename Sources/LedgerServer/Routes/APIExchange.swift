import Ledger
import LedgerAPI
import NIOCore
import NIOHTTP1

/// A complete request as the handler core sees it: no socket, no partial reads.
public struct APIRequest: Sendable {
    public var method: HTTPMethod
    /// The request target, e.g. `/v1/sessions/slack%3AC1?x=y`.
    public var uri: String
    public var body: ByteBuffer?
    /// The peer process (SO_PEERCRED); recorded as the actor of the events it causes.
    public var peer: ActorIdentity?

    public init(method: HTTPMethod, uri: String, body: ByteBuffer? = nil, peer: ActorIdentity? = nil) {
        self.method = method
        self.uri = uri
        self.body = body
        self.peer = peer
    }
}

/// A complete response.
public struct APIResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]
    public var headers: [(String, String)]

    public init(status: HTTPResponseStatus = .ok, contentType: String = "application/json", body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    /// A JSON error answer.
    public init(_ error: APIError, headers: [(String, String)] = []) {
        self.init(status: HTTPResponseStatus(statusCode: error.status), body: error.body, headers: headers)
    }
}

/// An NDJSON stream of log events: `GET /v1/events`.
public struct EventStreamRequest: Sendable, Hashable {
    /// First seq to send.
    public var from: UInt64
    /// Only this conversation's events.
    public var key: String?
    /// Keep the stream open and send events as they are committed.
    public var follow: Bool
}

/// What the handler core answers: at once, later, or as a stream the transport runs.
public enum APIReply: Sendable {
    case response(APIResponse)
    case future(EventLoopFuture<APIResponse>)
    case stream(EventStreamRequest)
}
