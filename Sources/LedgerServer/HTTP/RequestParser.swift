import Ledger
import LedgerAPI
import NIOCore
import NIOHTTP1

/// ledgerd's HTTP/1.x request parser: received bytes in, complete requests out.
///
/// It replaces NIO's `HTTPRequestDecoder`, which sent a head, body parts and an end through the
/// channel pipeline for every request and built `String` headers that ledgerd never read (a
/// profile put that machinery at 12–15 % of an event loop). ledgerd needs each request whole and
/// reads three header fields: the two that frame the body and `connection`. The parser checks
/// every other field in place and copies only what it hands out: the request target, and the
/// body as a slice of the received bytes (a chunked body is copied into one buffer).
///
/// It is pure (no channel, no I/O): ``append(_:)`` what the socket delivered, then take requests
/// with ``nextRequest()`` until it answers nil (more bytes are needed). Partial input is kept
/// across reads and a line's search for its end resumes where it stopped, so a request fed a
/// byte at a time costs linear time.
///
/// It is strict on purpose: request smuggling lives in the framing that lenient parsers
/// guess at. What it accepts:
/// - lines end in CRLF; a bare LF is refused (RFC 9112 allows accepting one, we don't), and a
///   bare CR is a control character, refused wherever it appears;
/// - empty lines before the request line are skipped (RFC 9112 §2.2), within the head limit;
/// - the request line is `method SP request-target SP version`, single spaces: the method any
///   token (the router answers 405 or 404 to those it does not serve), the target any bytes but
///   controls and spaces, valid UTF-8, the version `HTTP/1.1` or `HTTP/1.0` (anything else is
///   400 `bad_request`, also a well-formed `HTTP/2.0`);
/// - header fields are `token ":" OWS value OWS`; whitespace before the colon, a line starting
///   with whitespace (obs-fold) and control characters in a value are refused; `host` is not
///   required (the socket is local);
/// - a body is framed by `content-length` (digits only; duplicates must agree; more than
///   `maxBodyBytes` is refused before the body is read) or by `transfer-encoding: chunked` (the
///   only coding accepted, once; chunk extensions are ignored, trailer fields skipped; refused
///   as soon as a chunk size would take the body past `maxBodyBytes`); both at once, and
///   `transfer-encoding` in an HTTP/1.0 request, are refused;
/// - the connection stays open after an HTTP/1.1 request unless `connection` lists `close`, and
///   after an HTTP/1.0 request only if it lists `keep-alive`.
///
/// A refusal is an ``APIError``: 400 `bad_request`, 413 `payload_too_large`, 431
/// `headers_too_large` (request line and header fields, or a trailer section, longer than
/// `maxHeadBytes` with their CRLFs). After a refusal the parser is spent and repeats it: the
/// connection answers and closes, since where a next request would start is unknown.
package struct RequestParser {
    /// The longest chunk-size line (size, ignored extensions, CRLF) accepted; a longer one is
    /// refused rather than buffered.
    static let maxChunkLineBytes = 4_096

    let maxHeadBytes: Int
    let maxBodyBytes: Int

    private enum Phase: Equatable {
        /// The request line and header fields.
        case head
        /// Waiting for a `content-length` body of this many bytes.
        case fixedBody(length: Int)
        /// A chunk-size line.
        case chunkSize
        /// A chunk's data, this many bytes still to come.
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data.
        case chunkDataEnd
        /// The trailer section after the last chunk, skipped.
        case trailers
    }

    /// Received bytes not consumed yet: the rest of the request being read, and what follows it.
    private var input = ByteBuffer()
    private var phase = Phase.head
    private var head = HeadFields()
    /// Bytes of the head (or of the trailer section) consumed so far, for the head limit.
    private var sectionBytes = 0
    /// Bytes of the unfinished line at the reader index already searched for its LF.
    private var scanned = 0
    private var body: ByteBuffer?
    /// The refusal that spent the parser.
    private var failure: APIError?

    package init(maxHeadBytes: Int, maxBodyBytes: Int) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// Received bytes not handed out yet (the partial request, and any requests behind it).
    var bufferedBytes: Int { input.readableBytes }

    /// Whether part of a next request has arrived (if only an empty line before it): a request
    /// has to arrive completely within the request timeout of its first byte.
    var isMidRequest: Bool {
        input.readableBytes > 0 || sectionBytes > 0 || phase != .head
    }

    /// Adds received bytes. Taking them costs no copy when nothing is left over from before.
    package mutating func append(_ bytes: ByteBuffer) {
        guard failure == nil else { return }
        if input.readableBytes == 0 {
            input = bytes
            return
        }
        var bytes = bytes
        // The partial line left over moves to the front rather than the buffer growing with
        // consumed bytes.
        if input.readerIndex > 0 { input.discardReadBytes() }
        input.writeBuffer(&bytes)
    }

    /// The next complete request, or nil until more bytes arrive.
    ///
    /// - Throws: ``APIError`` 400 `bad_request`, 413 `payload_too_large` or 431
    ///   `headers_too_large`; then again on every later call.
    package mutating func nextRequest() throws(APIError) -> ParsedRequest? {
        if let failure { throw failure }
        do {
            return try parseNext()
        } catch {
            failure = error
            input = ByteBuffer()
            body = nil
            throw error
        }
    }

    private mutating func parseNext() throws(APIError) -> ParsedRequest? {
        while true {
            switch phase {
            case .head:
                guard try readHead() else { return nil }
                if let request = try beginBody() { return request }
            case .fixedBody(let length):
                guard input.readableBytes >= length else { return nil }
                body = input.readSlice(length: length)
                return complete()
            case .chunkSize:
                guard let length = try nextLineLength(limit: Self.maxChunkLineBytes,
                                                      tooLong: .malformedHTTP("a chunk-size line longer than \(Self.maxChunkLineBytes) bytes"))
                else { return nil }
                let size = try input.withUnsafeReadableBytes { bytes in
                    Result { () throws(APIError) -> Int in try Self.chunkSize(UnsafeRawBufferPointer(rebasing: bytes[..<length])) }
                }.get()
                input.moveReaderIndex(forwardBy: length + 2)
                if size == 0 {
                    phase = .trailers
                    sectionBytes = 0
                } else {
                    guard size <= maxBodyBytes - (body?.readableBytes ?? 0) else { throw .payloadTooLarge(maxBodyBytes) }
                    phase = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let available = min(remaining, input.readableBytes)
                guard available > 0 else { return nil }
                var piece = input.readSlice(length: available)!
                if body == nil {
                    body = piece  // a body sent as one chunk is not copied
                } else {
                    body!.writeBuffer(&piece)
                }
                phase = available == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - available)
            case .chunkDataEnd:
                guard input.readableBytes >= 2 else {
                    if input.readableBytes == 1, input.getInteger(at: input.readerIndex, as: UInt8.self) != Byte.cr {
                        throw .malformedHTTP("chunk data not followed by CRLF")
                    }
                    return nil
                }
                guard input.readInteger(as: UInt16.self) == UInt16(Byte.cr) << 8 | UInt16(Byte.lf) else {
                    throw .malformedHTTP("chunk data not followed by CRLF")
                }
                phase = .chunkSize
            case .trailers:
                let headLimit = maxHeadBytes
                guard let length = try nextLineLength(limit: maxHeadBytes - sectionBytes, tooLong: .headersTooLarge(headLimit)) else {
                    return nil
                }
                if length > 0 {
                    // Skipped, but only well-formed fields: a trailer is no place to hide bytes.
                    _ = try input.withUnsafeReadableBytes { bytes in
                        Result { () throws(APIError) in try Self.headerField(UnsafeRawBufferPointer(rebasing: bytes[..<length]), interpret: false) }
                    }.get()
                }
                input.moveReaderIndex(forwardBy: length + 2)
                sectionBytes += length + 2
                if length == 0 { return complete() }
            }
        }
    }

    /// Reads head lines; true once the empty line that ends the head is consumed.
    private mutating func readHead() throws(APIError) -> Bool {
        let headLimit = maxHeadBytes
        while true {
            guard let length = try nextLineLength(limit: maxHeadBytes - sectionBytes, tooLong: .headersTooLarge(headLimit)) else {
                return false
            }
            sectionBytes += length + 2
            if length == 0 {
                input.moveReaderIndex(forwardBy: 2)
                if head.requestLine != nil { return true }
                continue  // an empty line before the request line
            }
            if head.requestLine == nil {
                head.requestLine = try input.withUnsafeReadableBytes { bytes in
                    Result { () throws(APIError) -> RequestLine in try Self.requestLine(UnsafeRawBufferPointer(rebasing: bytes[..<length])) }
                }.get()
            } else {
                let field = try input.withUnsafeReadableBytes { bytes in
                    Result { () throws(APIError) -> HeaderField in try Self.headerField(UnsafeRawBufferPointer(rebasing: bytes[..<length]), interpret: true) }
                }.get()
                try head.apply(field)
            }
            input.moveReaderIndex(forwardBy: length + 2)
        }
    }

    /// Sets up reading the body once the head is complete; the request itself when it has none.
    private mutating func beginBody() throws(APIError) -> ParsedRequest? {
        if head.chunked {
            guard head.requestLine?.version == .http1_1 else { throw .malformedHTTP("transfer-encoding in an HTTP/1.0 request") }
            guard head.contentLength == nil else { throw .malformedHTTP("both content-length and transfer-encoding") }
            phase = .chunkSize
            return nil
        }
        if let length = head.contentLength, length > 0 {
            guard length <= maxBodyBytes else { throw .payloadTooLarge(maxBodyBytes) }
            phase = .fixedBody(length: length)
            return nil
        }
        return complete()
    }

    /// Hands out the request read and gets ready for the next one.
    private mutating func complete() -> ParsedRequest {
        let line = head.requestLine!
        let keepAlive = line.version == .http1_1 ? !head.connectionClose : head.connectionKeepAlive && !head.connectionClose
        let request = ParsedRequest(method: line.method, uri: line.uri, version: line.version, keepAlive: keepAlive, body: body)
        head = HeadFields()
        body = nil
        phase = .head
        sectionBytes = 0
        scanned = 0
        // Nothing left over: let go of the read buffer (the body may still hold its part).
        if input.readableBytes == 0 { input = ByteBuffer() }
        return request
    }

    /// The length (CRLF excluded) of the line at the reader index, or nil until its LF arrives;
    /// the search resumes where the previous call stopped.
    ///
    /// - Throws: `tooLong` once the line cannot fit in `limit` bytes with its CRLF; 400 for a
    ///   line ended by a bare LF.
    private mutating func nextLineLength(limit: Int, tooLong: @autoclosure () -> APIError) throws(APIError) -> Int? {
        let from = scanned
        let lineFeed = input.withUnsafeReadableBytes { bytes -> Int? in
            var index = from
            while index < bytes.count {
                if bytes[index] == Byte.lf { return index }
                index += 1
            }
            return nil
        }
        guard let lineFeed else {
            scanned = input.readableBytes
            // The line will be at least one byte (its LF) longer than what has arrived.
            if scanned >= limit { throw tooLong() }
            return nil
        }
        scanned = 0
        guard lineFeed < limit else { throw tooLong() }
        guard lineFeed > 0, input.getInteger(at: input.readerIndex + lineFeed - 1, as: UInt8.self) == Byte.cr else {
            throw .malformedHTTP("a line ends in a bare LF")
        }
        return lineFeed - 1
    }
}

// MARK: - The pieces of a request, each read from one line

extension RequestParser {
    struct RequestLine: Equatable {
        var method: HTTPMethod
        var uri: String
        var version: HTTPVersion
    }

    /// What a header field means to the parser.
    enum HeaderField: Equatable {
        case contentLength(Int)
        /// `transfer-encoding: chunked` (any other coding is refused where it is read).
        case chunked
        case connection(close: Bool, keepAlive: Bool)
        /// A field ledgerd does not read (checked, not copied).
        case other
    }

    /// What the head read so far says.
    private struct HeadFields {
        var requestLine: RequestLine?
        var contentLength: Int?
        var chunked = false
        var connectionClose = false
        var connectionKeepAlive = false

        mutating func apply(_ field: HeaderField) throws(APIError) {
            switch field {
            case .contentLength(let length):
                if let contentLength, contentLength != length { throw .malformedHTTP("differing content-lengths") }
                contentLength = length
            case .chunked:
                if chunked { throw .malformedHTTP("transfer-encoding chunked twice") }
                chunked = true
            case .connection(let close, let keepAlive):
                connectionClose = connectionClose || close
                connectionKeepAlive = connectionKeepAlive || keepAlive
            case .other:
                break
            }
        }
    }

    /// `method SP request-target SP HTTP-version`.
    static func requestLine(_ line: UnsafeRawBufferPointer) throws(APIError) -> RequestLine {
        var index = 0
        while index < line.count, line[index] != Byte.space {
            guard Byte.isToken(line[index]) else { throw .malformedHTTP("invalid character in the method") }
            index += 1
        }
        guard index > 0, index < line.count else { throw .malformedHTTP("the request line is not method, target and version") }
        let method = Self.method(UnsafeRawBufferPointer(rebasing: line[..<index]))
        index += 1
        let targetStart = index
        var asciiOnly = true
        while index < line.count, line[index] != Byte.space {
            let byte = line[index]
            if byte >= 0x80 {
                asciiOnly = false
            } else if byte < 0x20 || byte == 0x7F {
                throw .malformedHTTP("a control character in the request target")
            }
            index += 1
        }
        guard index > targetStart, index < line.count else { throw .malformedHTTP("the request line is not method, target and version") }
        let target = UnsafeRawBufferPointer(rebasing: line[targetStart..<index])
        guard let version = Self.version(UnsafeRawBufferPointer(rebasing: line[(index + 1)...])) else {
            throw .malformedHTTP("the version is not HTTP/1.1 or HTTP/1.0")
        }
        let targetBytes = target.assumingMemoryBound(to: UInt8.self)
        let uri: String
        if asciiOnly {
            uri = String(decoding: targetBytes, as: UTF8.self)
        } else {
            guard let text = String(validating: targetBytes, as: UTF8.self) else {
                throw .malformedHTTP("the request target is not UTF-8")
            }
            uri = text
        }
        return RequestLine(method: method, uri: uri, version: version)
    }

    /// `field-name ":" OWS field-value OWS`; with `interpret`, what a field ledgerd reads says.
    static func headerField(_ line: UnsafeRawBufferPointer, interpret: Bool) throws(APIError) -> HeaderField {
        if line[0] == Byte.space || line[0] == Byte.tab {
            throw .malformedHTTP("a header line starts with whitespace (obsolete line folding)")
        }
        var colon = 0
        while colon < line.count, line[colon] != Byte.colon {
            let byte = line[colon]
            guard Byte.isToken(byte) else {
                throw .malformedHTTP(byte == Byte.space || byte == Byte.tab ? "whitespace between a header name and its colon"
                                                                           : "invalid character in a header name")
            }
            colon += 1
        }
        guard colon < line.count else { throw .malformedHTTP("a header line without a colon") }
        guard colon > 0 else { throw .malformedHTTP("a header line without a name") }
        var start = colon + 1
        var end = line.count
        while start < end, line[start] == Byte.space || line[start] == Byte.tab { start += 1 }
        while end > start, line[end - 1] == Byte.space || line[end - 1] == Byte.tab { end -= 1 }
        for index in start..<end where !Byte.isFieldValue(line[index]) {
            throw .malformedHTTP("a control character in a header value")
        }
        guard interpret else { return .other }
        let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
        let value = UnsafeRawBufferPointer(rebasing: line[start..<end])
        switch colon {
        case 14 where Byte.equalsIgnoringCase(name, "content-length"):
            return .contentLength(try contentLength(value))
        case 17 where Byte.equalsIgnoringCase(name, "transfer-encoding"):
            var chunked = false
            try forEachElement(of: value) { (coding) throws(APIError) in
                guard Byte.equalsIgnoringCase(coding, "chunked") else {
                    throw .malformedHTTP("a transfer coding other than chunked")
                }
                if chunked { throw .malformedHTTP("transfer-encoding chunked twice") }
                chunked = true
            }
            guard chunked else { throw .malformedHTTP("transfer-encoding without a coding") }
            return .chunked
        case 10 where Byte.equalsIgnoringCase(name, "connection"):
            var close = false
            var keepAlive = false
            try forEachElement(of: value) { option in
                if Byte.equalsIgnoringCase(option, "close") { close = true }
                if Byte.equalsIgnoringCase(option, "keep-alive") { keepAlive = true }
            }
            return .connection(close: close, keepAlive: keepAlive)
        default:
            return .other
        }
    }

    /// `1*DIGIT`: no sign, no list, no overflow.
    static func contentLength(_ value: UnsafeRawBufferPointer) throws(APIError) -> Int {
        guard !value.isEmpty else { throw .malformedHTTP("an empty content-length") }
        var length = 0
        for byte in value {
            guard Byte.isDigit(byte) else { throw .malformedHTTP("content-length is not a decimal number") }
            let (times10, overflowed) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflowedToo) = times10.addingReportingOverflow(Int(byte - Byte.zero))
            guard !overflowed && !overflowedToo else { throw .malformedHTTP("content-length overflows") }
            length = sum
        }
        return length
    }

    /// `1*HEXDIG [ BWS ";" chunk-ext ]`: the size; the extensions are only checked for control
    /// characters.
    static func chunkSize(_ line: UnsafeRawBufferPointer) throws(APIError) -> Int {
        var size = 0
        var index = 0
        while index < line.count, let digit = HexDigit.value(line[index]) {
            guard size <= Int.max >> 4 else { throw .malformedHTTP("a chunk size overflows") }
            size = size << 4 | Int(digit)
            index += 1
        }
        guard index > 0 else { throw .malformedHTTP("a chunk size is not hexadecimal") }
        guard index < line.count else { return size }
        while index < line.count, line[index] == Byte.space || line[index] == Byte.tab { index += 1 }
        guard index < line.count, line[index] == Byte.semicolon else { throw .malformedHTTP("junk after a chunk size") }
        for byte in line[index...] where !Byte.isFieldValue(byte) {
            throw .malformedHTTP("a control character in a chunk extension")
        }
        return size
    }

    /// HTTP/1.1 and HTTP/1.0, case-sensitive as RFC 9112 has them.
    private static func version(_ bytes: UnsafeRawBufferPointer) -> HTTPVersion? {
        guard bytes.count == 8, Byte.equals(UnsafeRawBufferPointer(rebasing: bytes[..<7]), "HTTP/1.") else { return nil }
        switch bytes[7] {
        case UInt8(ascii: "1"): return .http1_1
        case UInt8(ascii: "0"): return .http1_0
        default: return nil
        }
    }

    /// The common methods without building a `String`; any other token as it is.
    private static func method(_ token: UnsafeRawBufferPointer) -> HTTPMethod {
        switch token.count {
        case 3 where Byte.equals(token, "GET"): .GET
        case 3 where Byte.equals(token, "PUT"): .PUT
        case 4 where Byte.equals(token, "POST"): .POST
        case 4 where Byte.equals(token, "HEAD"): .HEAD
        case 5 where Byte.equals(token, "PATCH"): .PATCH
        case 6 where Byte.equals(token, "DELETE"): .DELETE
        case 7 where Byte.equals(token, "OPTIONS"): .OPTIONS
        default: HTTPMethod(rawValue: String(decoding: token.assumingMemoryBound(to: UInt8.self), as: UTF8.self))
        }
    }

    /// Calls `body` with each non-empty element of a comma-separated list, without its OWS.
    private static func forEachElement(of value: UnsafeRawBufferPointer,
                                       _ body: (UnsafeRawBufferPointer) throws(APIError) -> Void) throws(APIError) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count, value[end] != Byte.comma { end += 1 }
            var first = start
            var last = end
            while first < last, value[first] == Byte.space || value[first] == Byte.tab { first += 1 }
            while last > first, value[last - 1] == Byte.space || value[last - 1] == Byte.tab { last -= 1 }
            if first < last { try body(UnsafeRawBufferPointer(rebasing: value[first..<last])) }
            start = end + 1
        }
    }
}

/// The byte classes of RFC 9110/9112 the parser needs.
private enum Byte {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
    static let semicolon = UInt8(ascii: ";")
    static let comma = UInt8(ascii: ",")
    static let zero = UInt8(ascii: "0")

    /// `tchar`: the bytes of a method or a header name.
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// A byte of a field value: visible ASCII, space, tab or obs-text; no other control character.
    static func isFieldValue(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= zero && byte <= UInt8(ascii: "9")
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { expected in
            guard bytes.count == expected.count else { return false }
            for index in 0..<expected.count where bytes[index] != expected[index] { return false }
            return true
        }
    }

    /// Compares with a lowercase ASCII literal of letters and `-`. Setting bit 5 lowercases a
    /// letter and maps no other byte a field value may hold onto a letter or `-` (only CR onto it).
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        lowercase.withUTF8Buffer { expected in
            guard bytes.count == expected.count else { return false }
            for index in 0..<expected.count where bytes[index] | 0x20 != expected[index] { return false }
            return true
        }
    }
}
