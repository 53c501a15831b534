import Foundation
import Ledger
import LedgerAPI
import LedgerClient
import LedgerTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hostile input never crashes, never hangs, is always answered with a JSON error carrying a
/// code, and never changes the ledger.
@Suite struct HostileInputTests {
    /// A deterministic generator, so a failure can be replayed.
    typealias Random = SplitMix64

    static let seeds: [String] = [
        #"{"type":"created","sessionId":"S1","expectedVersion":0,"owner":"rt","epoch":1,"environment":{"host":"h","volume":"v"},"reason":"r"}"#,
        #"{"type":"errored","sessionId":"S1","reason":"error_during_execution","reportedSessionId":"S2"}"#,
        #"{"type":"cleared","sessionId":null,"reason":"reset","expectedVersion":3}"#,
        #"[1,2.5e-3,"\u00e9\ud83d\ude00",true,false,null,{"a":[{}]}]"#,
    ]

    /// Mutates `bytes`: flips, inserts, deletes, duplicates a slice, or splices in a hostile token.
    static func mutate(_ bytes: [UInt8], _ random: inout Random) -> [UInt8] {
        var out = bytes
        let tokens: [[UInt8]] = [Array("99999999999999999999999999".utf8), Array("-1".utf8), Array("1e400".utf8), [0xFF, 0xFE],
                                 [0xC3], Array("\\ud800".utf8), Array("\\u0000".utf8), Array(repeating: UInt8(ascii: "["), count: 40),
                                 Array("\"\\".utf8), Array("{\"type\":".utf8), [0x00], Array("null".utf8), Array("\"x\":1,".utf8)]
        for _ in 0..<(1 + Int(random.next() % 4)) {
            let at = out.isEmpty ? 0 : Int(random.next() % UInt64(out.count))
            switch random.next() % 6 {
            case 0 where !out.isEmpty: out[at] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            case 1: out.insert(UInt8(truncatingIfNeeded: random.next()), at: at)
            case 2 where !out.isEmpty: out.remove(at: at)
            case 3: out.insert(contentsOf: tokens[Int(random.next() % UInt64(tokens.count))], at: at)
            case 4 where out.count > 2:
                let end = min(out.count, at + 1 + Int(random.next() % 8))
                out.insert(contentsOf: out[at..<end], at: at)
            default: out = Array(out.prefix(at))
            }
        }
        return out
    }

    /// 120,000 inputs: mutated valid documents and random bytes. The parser either returns a
    /// value that writes back to something it parses the same, or an error with an offset inside
    /// the input.
    @Test func theJSONParserSurvives120kHostileInputs() async throws {
        // Off the cooperative pool (see `offThePool`): seconds of CPU in a debug build, which on
        // a pool thread held up every async test of the run. Findings come back as text.
        let (parsed, failures) = try await offThePool { () -> (Int, [String]) in
            var random = Random(seed: 1)
            var parsed = 0
            var failures: [String] = []
            for round in 0..<120_000 {
                let input: [UInt8] = round % 4 == 0
                    ? (0..<Int(random.next() % 48)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                    : Self.mutate(Array(Self.seeds[round % Self.seeds.count].utf8), &random)
                do {
                    let value = try JSONParser.parse(input)
                    var writer = JSONWriter()
                    writer.value(value)
                    if (try? JSONParser.parse(writer.bytes)) != value { failures.append("round trip of \(String(decoding: input, as: UTF8.self))") }
                    parsed += 1
                } catch let error as JSONParseError {
                    if error.offset < 0 || error.offset > input.count { failures.append("offset \(error.offset) outside \(input.count) bytes") }
                }
            }
            return (parsed, failures)
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
        #expect(parsed > 1_000, "the mutations also produce valid documents (\(parsed))")
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }

    /// 120,000 stored-record inputs: mutations of valid records and random bytes. Every one is
    /// refused by the checksum or the decoder, or decodes to an event that re-encodes to exactly
    /// the same body (the encoding is canonical); nothing crashes.
    @Test func theRecordDecoderSurvives120kHostileInputs() async throws {
        // Off the cooperative pool, as above.
        let (refused, failures) = try await offThePool { () -> (Int, [String]) in
            var random = Random(seed: 2)
            let event = Event(seq: 42, key: "slack:C1:t9", version: 7, type: .errored, sessionId: "S1", reportedSessionId: "S2",
                              owner: "rt", epoch: 3, environment: RuntimeEnvironment(volume: "v"), reason: "boom",
                              actor: ActorIdentity(uid: 1000, gid: 1000, pid: 77), time: 1_700_000_000_000_000)
            let (record, _) = StoredRecord.seal(event, after: .genesis)
            let body = EventCodec.encode(event)
            var refused = 0
            var failures: [String] = []
            for round in 0..<120_000 {
                let input: [UInt8]
                switch round % 3 {
                case 0: input = Self.mutate(record, &random)
                case 1: input = Self.mutate(body, &random)
                default: input = (0..<Int(random.next() % 96)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                }
                if round % 3 == 1 {
                    // The body decoder alone, with no checksum in front of it.
                    if let decoded = try? input.withUnsafeBytes({ try EventCodec.decode($0) }) {
                        if EventCodec.encode(decoded) != input { failures.append("two encodings of one event: \(input)") }
                    } else { refused += 1 }
                } else {
                    if (try? input.withUnsafeBytes({ try StoredRecord.decode($0) })) == nil { refused += 1 }
                }
            }
            return (refused, failures)
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
        #expect(refused > 100_000)
    }

    /// The fuzz harness behind `make fuzz`, in its normal build: it writes its seed corpus,
    /// replays a corpus (with inputs that crashed or broke a property before their fixes), and
    /// runs 100k deterministic mutations over every decoder; a violated property exits non-zero.
    @Test func theFuzzHarnessRunsItsCorpusAndMutations() async throws {
        let corpus = TemporaryDirectory("fuzz-corpus")
        let fuzz = Binaries.path("ledger-fuzz")
        let seeds = try await Subprocess.runAwaiting(fuzz, ["--seeds", corpus.path])
        #expect(seeds.status == 0, "\(seeds.stderr)")
        let written = try FileManager.default.contentsOfDirectory(atPath: corpus.path).count
        #expect(written >= 14 && seeds.stdout.contains("wrote \(written) seeds"))
        // Found by libFuzzer: a time with 7 fraction digits trapped in Timestamp.parse (target 8);
        // an event body with an empty environment decoded to an event that encodes differently (target 4).
        try Data([8] + Array("2026-11-21T04:39:43.1234567Z".utf8)).write(to: URL(fileURLWithPath: corpus.path + "/regression-fraction"))
        try Data([0x04, 0x01, 0x2a, 0x03, 0xf7, 0x03, 0x07, 0x80, 0x80, 0xf2, 0x81, 0x83, 0x89, 0x85, 0x06, 0x0b] + Array("slack:C0:t9".utf8)
                 + [0x02, 0x7a, 0x16, 0, 0, 0, 0, 0, 0, 0, 0x72]).write(to: URL(fileURLWithPath: corpus.path + "/regression-empty-environment"))
        let replay = try await Subprocess.runAwaiting(fuzz, [corpus.path])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("ran \(written + 2) inputs: no property violated"))
        let mutated = try await Subprocess.runAwaiting(fuzz, ["--mutate", "100000", "--seed", "20261121"])
        #expect(mutated.status == 0, "\(mutated.stderr)")
        #expect(mutated.stdout.contains("ran 100000 mutated inputs"))
    }

    /// 20,000 mutated requests through the real socket, on kept-alive connections. Each answer
    /// is JSON: an error with a code for the rejected ones. Afterwards the log holds exactly the
    /// events of the accepted ones: rejected input changed nothing.
    @Test func mutatedRequestsThroughTheSocketAreAnsweredAndChangeNothing() async throws {
        let daemon = try Daemon()
        let socketPath = daemon.socketPath
        // 20,000 blocking exchanges: off the cooperative pool (see `offThePool`), findings as text.
        let (appended, statuses, failures) = try await offThePool { () -> (UInt64, [Int: Int], [String]) in
            var random = Random(seed: 3)
            var connection = RawHTTP(socketPath)
            var appended: UInt64 = 0
            var statuses: [Int: Int] = [:]
            var failures: [String] = []
            for round in 0..<20_000 {
                let seed = Array(Self.seeds[round % 3].utf8)
                let body = round % 10 == 0 ? seed : Self.mutate(seed, &random)
                var path = "/v1/sessions/k\(round % 50)/transitions"
                if round % 7 == 0 { path = String(decoding: Self.mutate(Array(path.utf8), &random), as: UTF8.self).filter { $0 != " " && $0 != "\r" && $0 != "\n" } }
                guard let answer = connection.exchange(method: "POST", path: path.isEmpty ? "/" : path, body: body) else {
                    connection = RawHTTP(socketPath)   // the server closed it (e.g. a malformed request line)
                    continue
                }
                statuses[answer.status, default: 0] += 1
                let value = try? JSONParser.parse(answer.body)
                if value == nil { failures.append("answer \(answer.status) is not JSON: \(String(decoding: answer.body, as: UTF8.self))") }
                if answer.status == 200 {
                    if case .object(let object)? = value, object["appended"] == .bool(true) { appended += 1 }
                } else if case .object(let object)? = value, case .object(let error)? = object["error"] {
                    if case .string(let code)? = error["code"], !code.isEmpty {} else { failures.append("no error code: \(object)") }
                } else {
                    failures.append("error answer without an error object: \(answer.status)")
                }
                if answer.closes { connection = RawHTTP(socketPath) }
            }
            return (appended, statuses, failures)
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
        #expect(daemon.isRunning)
        #expect((statuses[400] ?? 0) > 5_000, "\(statuses)")
        let head = try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true)).head().seq
        #expect(head == appended, "the log holds exactly the accepted transitions (\(statuses))")
        #expect(try await Subprocess.runAwaiting(Binaries.path("ledgerctl"), ["verify", "--data-dir", daemon.dataDirectory]).status == 0)
    }

    @Test func oversizedTruncatedNestedAndSlowRequests() async throws {
        let daemon = try Daemon(arguments: ["--request-timeout", "1"])
        // 10 MB announced: refused before it is read.
        let big = RawHTTP(daemon.socketPath)
        big.send("POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\ncontent-length: 10485760\r\n\r\n")
        let refused = big.readAnswer()
        #expect(refused?.status == 413)
        #expect(refused.flatMap { try? JSONParser.parse($0.body) } != nil)
        // 10 MB chunked: refused once it passes the limit.
        let chunked = RawHTTP(daemon.socketPath)
        chunked.send("POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        let chunk = String(repeating: "a", count: 65_536)
        var chunkedAnswer: RawHTTP.Answer?
        for _ in 0..<160 where chunkedAnswer == nil {
            chunked.send(String(65_536, radix: 16) + "\r\n" + chunk + "\r\n")
            chunkedAnswer = chunked.readAnswer(timeout: 0)
        }
        chunkedAnswer = chunkedAnswer ?? chunked.readAnswer()
        #expect(chunkedAnswer?.status == 413)
        // Deep nesting and hostile numbers.
        let c = RawHTTP(daemon.socketPath)
        for body in [String(repeating: "[", count: 50_000), #"{"type":"created","sessionId":"S","expectedVersion":1e400}"#,
                     #"{"type":"created","sessionId":"S","expectedVersion":-5}"#, "{\"type\":\"created\",\"sessionId\":\"\u{FFFD}\",\"expectedVersion\":0}x"] {
            let answer = c.exchange(method: "POST", path: "/v1/sessions/k/transitions", body: Array(body.utf8))
            #expect(answer?.status == 400)
        }
        let invalidUTF8 = c.exchange(method: "POST", path: "/v1/sessions/k/transitions", body: [UInt8](#"{"type":"created","sessionId":""#.utf8) + [0xFF, 0xFE] + Array(#"","expectedVersion":0}"#.utf8))
        #expect(invalidUTF8?.status == 400)
        #expect(c.exchange(method: "GET", path: "/v1/sessions/%FF%FE", body: nil)?.status == 400)
        // Truncated: half a request, then hang up; the server carries on.
        for _ in 0..<50 {
            let half = RawHTTP(daemon.socketPath)
            half.send("POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\ncontent-length: 80\r\n\r\n{\"type\":\"cre")
            half.close()
        }
        // Slowloris: a byte at a time is cut off at the request timeout (1 s here) with a 408.
        let slow = RawHTTP(daemon.socketPath)
        let started = Date()
        var slowAnswer: RawHTTP.Answer?
        for byte in "POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\n".utf8 where slowAnswer == nil {
            slow.send(String(UnicodeScalar(byte)))
            slowAnswer = slow.readAnswer(timeout: 0.2)
        }
        #expect(slowAnswer?.status == 408)
        #expect(Date().timeIntervalSince(started) < 4)
        #expect(daemon.isRunning)
        #expect(try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true)).head().seq == 0)
        #expect(try await daemon.client().transition("k", .created("S1", expectedVersion: 0)).isAccepted)
    }

    /// Framings that request smuggling relies on are refused with 400 bad_request and the
    /// connection closed, and nothing they carry is applied; a refusal behind pipelined requests
    /// (400, or 431 for a head over --max-head) is answered after them; a request that arrives
    /// in small pieces is answered whole.
    @Test func smugglingShapesAreRefusedAndRefusalsComeInTurn() async throws {
        let daemon = try Daemon()
        let write = #"{"type":"created","sessionId":"S1","expectedVersion":0}"#
        let chunkedWrite = String(write.utf8.count, radix: 16) + "\r\n" + write + "\r\n0\r\n\r\n"
        let post = "POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\n"
        for shape in [
            "transfer-encoding: chunked\r\ncontent-length: \(chunkedWrite.utf8.count)\r\n\r\n\(chunkedWrite)",
            "content-length: \(write.utf8.count)\r\ncontent-length: 3\r\n\r\n\(write)",
            "transfer-encoding: gzip, chunked\r\n\r\n\(chunkedWrite)",
            "transfer-encoding : chunked\r\n\r\n\(chunkedWrite)",
            "x-folded: a\r\n transfer-encoding: chunked\r\n\r\n\(chunkedWrite)",
            "content-length: +\(write.utf8.count)\r\n\r\n\(write)",
            "transfer-encoding: chunked\n\n\(chunkedWrite)",
        ] {
            let connection = RawHTTP(daemon.socketPath)
            connection.send(post + shape)
            let answer = connection.readAnswer()
            #expect(answer?.status == 400, "\(shape.debugDescription)")
            #expect(answer?.closes == true)
            #expect(answer.map { String(decoding: $0.body, as: UTF8.self).contains(#""code":"bad_request""#) } == true)
        }
        #expect(try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true)).head().seq == 0)

        for (refused, status) in [("GET / HTTP/1.1\r\nx: " + String(repeating: "a", count: 20_000) + "\r\n\r\n", 431),
                                  ("GET /healthz HTTP/1.1\r\nhost : x\r\n\r\n", 400)] {
            let pipelined = RawHTTP(daemon.socketPath)
            pipelined.send("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n" + "GET /v1/status HTTP/1.1\r\nhost: x\r\n\r\n" + refused)
            let answers = (0..<3).compactMap { _ in pipelined.readAnswer() }
            #expect(answers.map(\.status) == [200, 200, status])
            #expect(answers.last?.closes == true)
        }

        let trickled = RawHTTP(daemon.socketPath)
        let request = Array((post + "transfer-encoding: chunked\r\n\r\n" + chunkedWrite + "GET /v1/sessions/k HTTP/1.1\r\nhost: x\r\n\r\n").utf8)
        for start in stride(from: 0, to: request.count, by: 7) {
            trickled.send(Array(request[start..<min(request.count, start + 7)]))
            usleep(1_000)
        }
        let answers = (0..<2).compactMap { _ in trickled.readAnswer() }
        #expect(answers.map(\.status) == [200, 200])
        #expect(answers.count == 2 && String(decoding: answers[1].body, as: UTF8.self).contains(#""sessionId":"S1""#))
    }

    /// Requests sent back to back on one connection (HTTP pipelining) are answered in order, a
    /// write's answer before the read behind it, which sees the write. An HTTP/1.0 client gets
    /// its answer and the connection closes; its event stream is plain NDJSON (no chunked
    /// encoding, which HTTP/1.0 lacks) ended by the connection's end.
    /// A follow stream answers its head at once, before any event: a client (curl, a proxy)
    /// waiting for the status line of a stream on a quiet ledger must not wait for a write.
    @Test func aFollowStreamAnswersItsHeadBeforeAnyEvent() async throws {
        let daemon = try Daemon()
        let stream = RawHTTP(daemon.socketPath)
        stream.send("GET /v1/events?follow=true HTTP/1.1\r\nhost: x\r\n\r\n")
        let raw = String(decoding: stream.readToEnd(timeout: 2), as: UTF8.self)
        #expect(raw.hasPrefix("HTTP/1.1 200"), "\(raw.debugDescription)")
        #expect(raw.lowercased().contains("transfer-encoding: chunked"))
    }

    @Test func pipelinedAndHTTP10RequestsAreAnsweredInOrder() async throws {
        let daemon = try Daemon()
        let write = #"{"type":"created","sessionId":"S1","expectedVersion":0}"#
        let pipelined = RawHTTP(daemon.socketPath)
        pipelined.send("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
            + "POST /v1/sessions/p/transitions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: \(write.utf8.count)\r\n\r\n\(write)"
            + "GET /v1/sessions/p HTTP/1.1\r\nhost: x\r\n\r\n"
            + "GET /v1/nothing-here HTTP/1.1\r\nhost: x\r\n\r\n"
            + "GET /v1/sessions/p HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
            + "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        let answers = (0..<5).compactMap { _ in pipelined.readAnswer() }
        #expect(answers.map(\.status) == [200, 200, 200, 404, 200])
        #expect(answers.count == 5 && String(decoding: answers[1].body, as: UTF8.self).contains(#""appended":true"#))
        #expect(answers.count == 5 && String(decoding: answers[2].body, as: UTF8.self).contains(#""sessionId":"S1""#))
        #expect(answers.last?.closes == true, "the answer to a request with connection: close closes")
        #expect(pipelined.readAnswer(timeout: 1) == nil, "nothing is answered after a connection: close")

        let old = RawHTTP(daemon.socketPath)
        old.send("GET /v1/sessions/p HTTP/1.0\r\n\r\n")
        let answer = old.readAnswer()
        #expect(answer?.status == 200)
        #expect(answer?.closes == true)

        // An HTTP/1.0 client that asks to keep the connection is told it is kept (without the
        // header it would take the answer as the connection's last), and may ask again.
        let kept = RawHTTP(daemon.socketPath)
        for _ in 0..<2 {
            kept.send("GET /v1/sessions/p HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
            let answer = kept.readAnswer()
            #expect(answer?.status == 200)
            #expect(answer?.head.hasPrefix("http/1.0 200") == true)
            #expect(answer?.head.contains("connection: keep-alive") == true, "\(answer?.head ?? "no answer")")
        }

        let stream = RawHTTP(daemon.socketPath)
        stream.send("GET /v1/events?from=1 HTTP/1.0\r\n\r\n")
        let raw = String(decoding: stream.readToEnd(), as: UTF8.self)
        let parts = raw.components(separatedBy: "\r\n\r\n")
        #expect(parts.first?.hasPrefix("HTTP/1.0 200") == true)
        #expect(parts.first?.lowercased().contains("transfer-encoding") == false)
        let lines = parts.dropFirst().joined().split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("{") && lines[0].contains(#""seq":1"#), "\(raw)")
    }
}

/// HTTP/1.1 over a raw Unix socket, for tests that need to send what no client library would.
/// It owns its descriptor and closes it when released.
final class RawHTTP {
    struct Answer {
        var status: Int
        var body: [UInt8]
        var closes: Bool
        /// The status line and header fields, lowercased.
        var head = ""
    }

    let fd: Int32
    private var pending: [UInt8] = []
    private var closed = false

    init(_ path: String) {
        // -1 when nothing listens: every later read and write then fails, which the tests see.
        fd = UnixSocket.connect(to: path) ?? -1
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    deinit { close() }

    func exchange(method: String, path: String, body: [UInt8]?) -> Answer? {
        var head = "\(method) \(path) HTTP/1.1\r\nhost: x\r\n"
        if let body { head += "content-type: application/json\r\ncontent-length: \(body.count)\r\n" }
        send(Array((head + "\r\n").utf8) + (body ?? []))
        return readAnswer()
    }

    /// Reads one complete answer, waiting at most `timeout` seconds for data (0: only what is there).
    func readAnswer(timeout: Double = 5) -> Answer? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let answer = takeAnswer() { return answer }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = max(0, Int32(deadline.timeIntervalSinceNow * 1000))
            guard poll(&poller, 1, wait) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { return takeAnswer() }
            pending += buffer[..<count]
        }
    }

    /// Everything the server sends until it closes the connection (or `timeout` seconds pass).
    func readToEnd(timeout: Double = 5) -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        while deadline.timeIntervalSinceNow > 0 {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, max(0, Int32(deadline.timeIntervalSinceNow * 1000))) > 0 else { break }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            pending += buffer[..<count]
        }
        defer { pending.removeAll() }
        return pending
    }

    private func takeAnswer() -> Answer? {
        guard let end = pending.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self).lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        guard pending.count >= end.upperBound + length else { return nil }
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = Array(pending[end.upperBound..<(end.upperBound + length)])
        pending.removeFirst(end.upperBound + length)
        return Answer(status: status, body: body, closes: head.contains("connection: close"), head: head)
    }
}
