import Ledger
import LedgerAPI
@testable import LedgerServer
import NIOCore
import NIOHTTP1
import Testing

/// The request parser on its own: what it accepts, however the bytes are split, and each
/// refusal with its status and code.
@Suite struct RequestParserTests {
    /// What a parser made of some input: the requests it handed out, then the refusal, if any.
    struct Outcome: Equatable {
        var requests: [ParsedRequest] = []
        var refusal: APIError?
    }

    /// Feeds `pieces` one after the other, taking every complete request after each.
    static func feed(_ pieces: [[UInt8]], maxHeadBytes: Int = 16 * 1024, maxBodyBytes: Int = 64 * 1024) -> Outcome {
        var parser = RequestParser(maxHeadBytes: maxHeadBytes, maxBodyBytes: maxBodyBytes)
        var outcome = Outcome()
        for piece in pieces {
            parser.append(ByteBuffer(bytes: piece))
            do {
                while let request = try parser.nextRequest() { outcome.requests.append(request) }
            } catch {
                outcome.refusal = error
                return outcome
            }
        }
        return outcome
    }

    static func parse(_ text: String, maxHeadBytes: Int = 16 * 1024, maxBodyBytes: Int = 64 * 1024) -> Outcome {
        feed([Array(text.utf8)], maxHeadBytes: maxHeadBytes, maxBodyBytes: maxBodyBytes)
    }

    static func byteByByte(_ text: String, maxHeadBytes: Int = 16 * 1024, maxBodyBytes: Int = 64 * 1024) -> Outcome {
        feed(text.utf8.map { [$0] }, maxHeadBytes: maxHeadBytes, maxBodyBytes: maxBodyBytes)
    }

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// The refusal's status and code, or nil when nothing was refused.
    static func refusal(_ text: String, maxHeadBytes: Int = 16 * 1024, maxBodyBytes: Int = 64 * 1024) -> String? {
        parse(text, maxHeadBytes: maxHeadBytes, maxBodyBytes: maxBodyBytes).refusal.map { "\($0.status) \($0.code)" }
    }

    // MARK: Accepted

    @Test func aRequestWithoutBody() throws {
        let outcome = Self.parse("GET /v1/sessions/slack%3AC1?x=y HTTP/1.1\r\nhost: x\r\naccept: */*\r\n\r\n")
        #expect(outcome == Outcome(requests: [ParsedRequest(method: .GET, uri: "/v1/sessions/slack%3AC1?x=y", version: .http1_1,
                                                            keepAlive: true, body: nil)]))
    }

    @Test func aContentLengthBody() throws {
        let outcome = Self.parse("POST /v1/sessions/k/transitions HTTP/1.1\r\nContent-Length: 11\r\ncontent-type: application/json\r\n\r\n{\"a\":\"bcd\"}")
        #expect(outcome.refusal == nil)
        #expect(outcome.requests == [ParsedRequest(method: .POST, uri: "/v1/sessions/k/transitions", version: .http1_1, keepAlive: true,
                                                   body: Self.body(#"{"a":"bcd"}"#))])
        // A zero length is no body; identical duplicate lengths are one length.
        #expect(Self.parse("POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n").requests.first?.body == nil)
        #expect(Self.parse("POST / HTTP/1.1\r\ncontent-length: 3\r\nContent-Length: 003\r\n\r\nabc").requests.first?.body == Self.body("abc"))
    }

    @Test func aChunkedBodyWithExtensionsAndTrailers() {
        let text = "POST /x HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n"
            + "5\r\nhello\r\n"
            + "1;name=value ; other=\"quoted\"\r\n,\r\n"
            + "6 ;ext\r\n world\r\n"
            + "0\r\ntrailer-field: ignored\r\nanother: one\r\n\r\n"
        let outcome = Self.parse(text)
        #expect(outcome == Outcome(requests: [ParsedRequest(method: .POST, uri: "/x", version: .http1_1, keepAlive: true,
                                                            body: Self.body("hello, world"))]))
        // Only the last chunk: no body.
        #expect(Self.parse("POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").requests.first?.body == nil)
        // Upper-case hex and leading zeros.
        #expect(Self.parse("POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n00A\r\n0123456789\r\n0\r\n\r\n").requests.first?.body
                == Self.body("0123456789"))
    }

    @Test func methodsAndTargets() {
        for method in ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "BREW"] {
            #expect(Self.parse("\(method) / HTTP/1.1\r\n\r\n").requests.first?.method == HTTPMethod(rawValue: method))
        }
        // Methods are case-sensitive: `get` is not GET (the router answers 405 or 404).
        #expect(Self.parse("get / HTTP/1.1\r\n\r\n").requests.first?.method == .RAW(value: "get"))
        // UTF-8 in the target is taken as sent.
        #expect(Self.parse("GET /v1/sessions/caf\u{E9} HTTP/1.1\r\n\r\n").requests.first?.uri == "/v1/sessions/caf\u{E9}")
        #expect(Self.parse("OPTIONS * HTTP/1.1\r\n\r\n").requests.first?.uri == "*")
    }

    @Test func keepAliveFollowsTheVersionAndConnectionHeader() {
        func keepAlive(_ version: String, _ headers: String) -> Bool? {
            Self.parse("GET / \(version)\r\n\(headers)\r\n").requests.first?.keepAlive
        }
        #expect(keepAlive("HTTP/1.1", "") == true)
        #expect(keepAlive("HTTP/1.1", "connection: close\r\n") == false)
        #expect(keepAlive("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n") == false)
        #expect(keepAlive("HTTP/1.1", "connection: keep-alive\r\nconnection: close\r\n") == false)
        #expect(keepAlive("HTTP/1.1", "connection: closed\r\n") == true)
        #expect(keepAlive("HTTP/1.1", "x-connection: close\r\n") == true)
        #expect(keepAlive("HTTP/1.0", "") == false)
        #expect(keepAlive("HTTP/1.0", "Connection: Keep-Alive\r\n") == true)
        #expect(keepAlive("HTTP/1.0", "connection: te, ,keep-alive \r\n") == true)
        #expect(keepAlive("HTTP/1.0", "connection: keep-alive, close\r\n") == false)
        #expect(Self.parse("GET / HTTP/1.0\r\n\r\n").requests.first?.version == .http1_0)
    }

    @Test func emptyLinesBeforeARequestAreSkipped() {
        let outcome = Self.parse("\r\n\r\nGET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        #expect(outcome.refusal == nil)
        #expect(outcome.requests.map(\.uri) == ["/a", "/b"])
    }

    /// Requests back to back in one buffer come out in order, each with its own body; a
    /// malformed one after them is refused only after they were handed out.
    @Test func pipelinedRequestsInOneBuffer() {
        let text = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
            + "POST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc"
            + "POST /b HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
            + "GET /c HTTP/1.0\r\n\r\n"
            + "GET /d HTTP/1.1 junk\r\n\r\n"
            + "GET /e HTTP/1.1\r\n\r\n"
        let outcome = Self.parse(text)
        #expect(outcome.requests.map(\.uri) == ["/healthz", "/a", "/b", "/c"])
        #expect(outcome.requests.map(\.body) == [nil, Self.body("abc"), Self.body("de"), nil])
        #expect(outcome.refusal?.code == "bad_request")
        #expect(Self.byteByByte(text) == outcome)
    }

    /// Fed a byte at a time, requests come out complete and the same as fed at once; nothing
    /// comes out before a request's last byte.
    @Test func byteByByteFeedingGivesTheSameRequests() {
        let texts = [
            "GET /v1/status HTTP/1.1\r\nhost: x\r\n\r\n",
            "POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n{\"a\"}",
            "POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nt: v\r\n\r\n",
            "\r\nGET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
        ]
        for text in texts {
            let whole = Self.parse(text)
            #expect(whole.requests.count == 1 && whole.refusal == nil, "\(text)")
            #expect(Self.byteByByte(text) == whole, "\(text)")
            var parser = RequestParser(maxHeadBytes: 16 * 1024, maxBodyBytes: 64 * 1024)
            let bytes = Array(text.utf8)
            for (index, byte) in bytes.enumerated() {
                parser.append(ByteBuffer(bytes: [byte]))
                let request = try? parser.nextRequest()
                #expect((request != nil) == (index == bytes.count - 1), "\(text) at \(index)")
                #expect(parser.isMidRequest == (index < bytes.count - 1))
            }
        }
    }

    /// A chunked request cut in two at every position, and in three around every chunk
    /// boundary, parses to the same request.
    @Test func aChunkedBodySplitAtEveryPosition() {
        let bytes = Array(("POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
            + "1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n3\r\n012\r\n1\r\n!\r\n0\r\ntrailer: x\r\n\r\n"
            + "GET /next HTTP/1.1\r\n\r\n").utf8)
        let expected = Self.feed([bytes])
        #expect(expected.requests.map(\.body) == [Self.body("abcdefghijklmnopqrstuvwxyz012!"), nil])
        #expect(expected.refusal == nil)
        for cut in 0...bytes.count {
            #expect(Self.feed([Array(bytes[..<cut]), Array(bytes[cut...])]) == expected, "cut at \(cut)")
        }
        for first in stride(from: 40, to: bytes.count, by: 3) {
            for second in first...min(bytes.count, first + 12) {
                #expect(Self.feed([Array(bytes[..<first]), Array(bytes[first..<second]), Array(bytes[second...])]) == expected)
            }
        }
    }

    /// Random splits of valid, truncated and mutated requests: the outcome never depends on how
    /// the bytes arrived.
    @Test func theOutcomeDoesNotDependOnHowTheBytesArrive() {
        var random = SplitMix64(seed: 7)
        let seeds = [
            "POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\ncontent-length: 12\r\n\r\n{\"type\":\"x\"}GET / HTTP/1.1\r\n\r\n",
            "POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
            "GET /v1/events?from=1 HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
        ]
        var refused = 0
        var accepted = 0
        for round in 0..<3_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<Int(random.next() % 3) where !bytes.isEmpty {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: at)
                default: bytes.insert([13, 10, 32, 58, 0, 9, 48][Int(random.next() % 7)], at: at)
                }
            }
            let whole = Self.feed([bytes], maxHeadBytes: 96, maxBodyBytes: 16)
            if whole.refusal != nil { refused += 1 } else if !whole.requests.isEmpty { accepted += 1 }
            var pieces: [[UInt8]] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + 1 + Int(random.next() % 9))
                pieces.append(Array(bytes[start..<end]))
                start = end
            }
            #expect(Self.feed(pieces, maxHeadBytes: 96, maxBodyBytes: 16) == whole, "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(refused > 500 && accepted > 500, "refused \(refused), accepted \(accepted)")
    }

    // MARK: Refused

    @Test func malformedRequestLines() {
        for text in ["GET / HTTP/1.1\n\n", "GET / HTTP/1.1\r\nhost: x\n\r\n", "\nGET / HTTP/1.1\r\n\r\n",
                     "GET /\r\n\r\n", "GET\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n", " GET / HTTP/1.1\r\n\r\n",
                     "GET / HTTP/1.2\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/0.9\r\n\r\n", "GET / http/1.1\r\n\r\n",
                     "GET / HTTP/1.10\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET /a\u{01}b HTTP/1.1\r\n\r\n", "GET /a\tb HTTP/1.1\r\n\r\n",
                     "GET /a\u{7F} HTTP/1.1\r\n\r\n", "GET /a\rb HTTP/1.1\r\n\r\n", "GET /\r HTTP/1.1\r\n\r\n"] {
            #expect(Self.refusal(text) == "400 bad_request", "\(text.debugDescription)")
        }
        // A target that is not UTF-8.
        #expect(Self.feed([Array("GET /".utf8) + [0xFF, 0xFE] + Array(" HTTP/1.1\r\n\r\n".utf8)]).refusal?.code == "bad_request")
        #expect(Self.parse("GET / HTTP/2.0\r\n\r\n").refusal?.message == "malformed HTTP request: the version is not HTTP/1.1 or HTTP/1.0")
    }

    @Test func malformedHeaderFields() {
        for field in ["host : x", "host\t: x", "host", ": x", "ho st: x", "h\u{01}st: x", "host: a\u{00}b", "host: a\u{7F}", "host: a\rb",
                      "x-a: 1\r\n folded", "x-a: 1\r\n\tfolded"] {
            #expect(Self.refusal("GET / HTTP/1.1\r\n\(field)\r\n\r\n") == "400 bad_request", "\(field.debugDescription)")
        }
        // Obs-text and tabs in values are fine.
        #expect(Self.refusal("GET / HTTP/1.1\r\nx-a: caf\u{E9}\tb\r\n\r\n") == nil)
    }

    @Test func contentLengthsThatDoNotFrameABody() {
        for value in ["abc", "-1", "+5", "1 2", "0x10", "5, 5", "", "99999999999999999999999", "9223372036854775808"] {
            #expect(Self.refusal("POST / HTTP/1.1\r\ncontent-length: \(value)\r\n\r\n") == "400 bad_request", "\(value)")
        }
        #expect(Self.refusal("POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nabcde") == "400 bad_request")
    }

    /// The framings request smuggling relies on.
    @Test func transferEncodingsOtherThanOneChunked() {
        for headers in ["transfer-encoding: chunked\r\ncontent-length: 4", "content-length: 4\r\ntransfer-encoding: chunked",
                        "transfer-encoding: gzip", "transfer-encoding: gzip, chunked", "transfer-encoding: chunked, gzip",
                        "transfer-encoding: chunked, chunked", "transfer-encoding: chunked\r\ntransfer-encoding: chunked",
                        "transfer-encoding: identity", "transfer-encoding: chunked;q=1", "transfer-encoding: ", "transfer-encoding: ,",
                        "transfer-encoding : chunked", "transfer-encoding: chunked\u{0B}"] {
            #expect(Self.refusal("POST / HTTP/1.1\r\n\(headers)\r\n\r\n0\r\n\r\n") == "400 bad_request", "\(headers.debugDescription)")
        }
        #expect(Self.refusal("POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n") == "400 bad_request")
    }

    @Test func malformedChunks() {
        for chunks in ["x\r\n", "\r\n", " 1\r\na\r\n", "1 x\r\na\r\n", "1\r\nab\r\n", "1\r\na\n", "1\ra\r\n", "1;a\u{01}\r\na\r\n",
                       "1\r\na\r\n0\r\nbad trailer\r\n\r\n", "1\r\na\r\n0\r\n folded: x\r\n\r\n", "1\r\na\r\n0\n\n",
                       "FFFFFFFFFFFFFFFFF\r\n", "1\r\nab"] {
            #expect(Self.refusal("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n\(chunks)") == "400 bad_request", "\(chunks.debugDescription)")
        }
        let longLine = "1;" + String(repeating: "e", count: RequestParser.maxChunkLineBytes) + "\r\n"
        #expect(Self.refusal("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n\(longLine)") == "400 bad_request")
    }

    /// 431 headers_too_large: as soon as a head cannot fit, before its end arrives; a head of
    /// exactly the limit is accepted. Empty lines before the request line count.
    @Test func headsOverTheLimit() {
        let head = "GET / HTTP/1.1\r\nx: " + String(repeating: "a", count: 40) + "\r\n\r\n"
        #expect(Self.refusal(head, maxHeadBytes: head.utf8.count) == nil)
        #expect(Self.refusal(head, maxHeadBytes: head.utf8.count - 1) == "431 headers_too_large")
        #expect(Self.refusal("\r\n" + head, maxHeadBytes: head.utf8.count) == "431 headers_too_large")
        // Incomplete: one line longer than the limit, or many short lines.
        #expect(Self.refusal("GET /" + String(repeating: "a", count: 100), maxHeadBytes: 64) == "431 headers_too_large")
        #expect(Self.refusal("GET / HTTP/1.1\r\n" + String(repeating: "x: y\r\n", count: 20), maxHeadBytes: 64) == "431 headers_too_large")
        #expect(Self.byteByByte("GET / HTTP/1.1\r\n" + String(repeating: "x: y\r\n", count: 20), maxHeadBytes: 64).refusal?.status == 431)
        // The limit is per request: pipelined heads, and a body, do not add up.
        let body = String(repeating: "b", count: 200)
        let text = "POST / HTTP/1.1\r\ncontent-length: 200\r\n\r\n\(body)" + String(repeating: "GET / HTTP/1.1\r\nx: y\r\n\r\n", count: 10)
        #expect(Self.parse(text, maxHeadBytes: 64, maxBodyBytes: 200).requests.count == 11)
        // A trailer section is held to the same limit.
        let trailers = "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n" + String(repeating: "t: v\r\n", count: 20) + "\r\n"
        #expect(Self.refusal(trailers, maxHeadBytes: 64) == "431 headers_too_large")
        #expect(Self.parse("GET / HTTP/1.1\r\n" + String(repeating: "x: y\r\n", count: 20), maxHeadBytes: 64).refusal?.message
                == "the request head exceeds 64 bytes")
    }

    /// 413 payload_too_large: a content-length over the limit before the body arrives; a chunked
    /// body once a chunk size would take it past the limit, before that chunk's data.
    @Test func bodiesOverTheLimit() {
        #expect(Self.refusal("POST / HTTP/1.1\r\ncontent-length: 10485760\r\n\r\n", maxBodyBytes: 65_536) == "413 payload_too_large")
        #expect(Self.refusal("POST / HTTP/1.1\r\ncontent-length: 17\r\n\r\n", maxBodyBytes: 16) == "413 payload_too_large")
        #expect(Self.parse("POST / HTTP/1.1\r\ncontent-length: 16\r\n\r\n0123456789abcdef", maxBodyBytes: 16).requests.count == 1)
        let chunked = "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        #expect(Self.refusal(chunked + "11\r\n", maxBodyBytes: 16) == "413 payload_too_large")
        #expect(Self.refusal(chunked + "8\r\n01234567\r\n9\r\n", maxBodyBytes: 16) == "413 payload_too_large")
        #expect(Self.parse(chunked + "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n", maxBodyBytes: 16).requests.first?.body
                == Self.body("0123456789abcdef"))
        #expect(Self.parse(chunked + "11\r\n", maxBodyBytes: 16).refusal?.message == "the body exceeds 16 bytes")
    }

    /// After a refusal the parser is spent: it refuses again and takes no more input.
    @Test func aRefusalIsFinal() throws {
        var parser = RequestParser(maxHeadBytes: 1024, maxBodyBytes: 1024)
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\nBAD REQUEST\r\n\r\n"))
        #expect(try parser.nextRequest()?.uri == "/")
        #expect(throws: APIError.self) { try parser.nextRequest() }
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(throws: APIError.self) { try parser.nextRequest() }
        #expect(parser.bufferedBytes == 0)
    }

    /// What the connection handler reads to pace itself: buffered bytes and whether a request
    /// is under way.
    @Test func bufferedBytesAndARequestUnderWay() throws {
        var parser = RequestParser(maxHeadBytes: 1024, maxBodyBytes: 1024)
        #expect(!parser.isMidRequest)
        parser.append(ByteBuffer(string: "\r\n"))
        #expect(try parser.nextRequest() == nil)
        #expect(parser.isMidRequest && parser.bufferedBytes == 0)
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\nGET /2 HT"))
        #expect(try parser.nextRequest()?.uri == "/")
        #expect(parser.bufferedBytes == 9 && parser.isMidRequest)
        #expect(try parser.nextRequest() == nil)
        parser.append(ByteBuffer(string: "TP/1.1\r\n\r\n"))
        #expect(try parser.nextRequest()?.uri == "/2")
        #expect(!parser.isMidRequest && parser.bufferedBytes == 0)
    }
}
