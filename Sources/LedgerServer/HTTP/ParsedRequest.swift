import NIOCore
import NIOHTTP1

/// One complete HTTP/1.x request, as ``RequestParser`` hands it out: only what ledgerd needs to
/// answer it. Header fields are not kept; the parser reads the few that frame the request and
/// decide whether the connection stays open, and checks the rest without copying them.
package struct ParsedRequest: Equatable {
    package var method: HTTPMethod
    /// The request target exactly as sent, e.g. `/v1/sessions/slack%3AC1?x=y`.
    package var uri: String
    /// HTTP/1.0 or HTTP/1.1: the answer's status line and the event stream's framing follow it.
    package var version: HTTPVersion
    /// Whether the client lets the connection stay open after the answer (HTTP/1.1 unless
    /// `connection: close`; HTTP/1.0 only with `connection: keep-alive`).
    package var keepAlive: Bool
    /// The body (de-chunked), or nil when the request has none.
    package var body: ByteBuffer?
}
