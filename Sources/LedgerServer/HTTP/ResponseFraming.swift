import NIOCore
import NIOHTTP1

/// Writes HTTP/1.1 responses as bytes: the status line, our few headers, the body.
///
/// ledgerd answers with a handful of fixed headers whose values it builds itself (content type,
/// length, `allow`, `connection`), so it serializes them straight into the outgoing buffer
/// instead of passing a response head through NIO's encoder and header validator: on the write
/// path that pipeline cost more CPU per request than parsing the request did (see
/// docs/performance.md). Header values never come from a client.
enum ResponseFraming {
    /// Appends a complete response (head and body) to `buffer`.
    ///
    /// - Parameters:
    ///   - keepAlive: false adds `connection: close`; true adds `connection: keep-alive` to an
    ///     HTTP/1.0 answer, whose client otherwise takes the connection to close after it.
    static func writeResponse(
        status: HTTPResponseStatus, version: HTTPVersion, contentType: String, body: [UInt8],
        headers: [(String, String)], keepAlive: Bool, into buffer: inout ByteBuffer
    ) {
        writeStatusLine(status, version: version, into: &buffer)
        buffer.writeStaticString("content-type: ")
        buffer.writeString(contentType)
        buffer.writeStaticString("\r\ncontent-length: ")
        writeDecimal(body.count, into: &buffer)
        buffer.writeStaticString("\r\n")
        for (name, value) in headers {
            precondition(!name.utf8.contains { $0 == 13 || $0 == 10 } && !value.utf8.contains { $0 == 13 || $0 == 10 },
                         "a response header with a line break")
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if !keepAlive {
            buffer.writeStaticString("connection: close\r\n")
        } else if version.major == 1 && version.minor == 0 {
            buffer.writeStaticString("connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
        buffer.writeBytes(body)
    }

    /// The head of a streamed response. HTTP/1.1 streams are chunked; an HTTP/1.0 client has no
    /// chunked encoding, so its stream is delimited by closing the connection.
    static func writeStreamHead(version: HTTPVersion, contentType: String, into buffer: inout ByteBuffer) {
        writeStatusLine(.ok, version: version, into: &buffer)
        buffer.writeStaticString("content-type: ")
        buffer.writeString(contentType)
        buffer.writeStaticString("\r\ncache-control: no-store\r\n")
        if isChunked(version) {
            buffer.writeStaticString("transfer-encoding: chunked\r\n\r\n")
        } else {
            buffer.writeStaticString("connection: close\r\n\r\n")
        }
    }

    /// One piece of a streamed body (a chunk for HTTP/1.1). Empty `bytes` write nothing: an
    /// empty chunk would end the stream.
    static func writeStreamPiece(_ bytes: [UInt8], version: HTTPVersion, into buffer: inout ByteBuffer) {
        guard !bytes.isEmpty else { return }
        if isChunked(version) {
            buffer.writeString(String(bytes.count, radix: 16))
            buffer.writeStaticString("\r\n")
            buffer.writeBytes(bytes)
            buffer.writeStaticString("\r\n")
        } else {
            buffer.writeBytes(bytes)
        }
    }

    /// The end of a streamed body: the last chunk for HTTP/1.1, nothing for HTTP/1.0.
    static func writeStreamEnd(version: HTTPVersion, into buffer: inout ByteBuffer) {
        if isChunked(version) { buffer.writeStaticString("0\r\n\r\n") }
    }

    /// Whether a streamed response to this client uses chunked encoding.
    static func isChunked(_ version: HTTPVersion) -> Bool {
        version.major > 1 || (version.major == 1 && version.minor >= 1)
    }

    private static func writeStatusLine(_ status: HTTPResponseStatus, version: HTTPVersion, into buffer: inout ByteBuffer) {
        if version.major == 1 && version.minor == 0 {
            buffer.writeStaticString("HTTP/1.0 ")
        } else {
            buffer.writeStaticString("HTTP/1.1 ")
        }
        writeDecimal(Int(status.code), into: &buffer)
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(value))  // a small string: no allocation
    }
}
