import Foundation
import Ledger
import LedgerAPI
import LedgerClient
import LedgerTestSupport
import NIOHTTP1
import Testing

/// Every endpoint of the HTTP contract, through the real socket.
@Suite struct EndpointTests {
    func body(_ reply: HTTPReply) throws -> JSONValue { try JSONParser.parse(reply.body) }

    func object(_ value: JSONValue) -> JSONObject {
        if case .object(let object) = value { return object }
        Issue.record("not an object: \(value)")
        return JSONObject()
    }

    @Test func statusHealthAndMetrics() async throws {
        // No write-back by time during the test, however slow the machine: the metrics below
        // count the one event held in memory.
        let daemon = try Daemon(arguments: ["--write-back-interval-ms", "600000"])
        let client = daemon.client()
        let status = object(try await client.status())
        #expect(status["headSeq"] == .number(JSONNumber(literal: "0")))
        #expect(status["projectionSeq"] == .number(JSONNumber(literal: "0")))
        #expect(try await daemon.startupCheckOutcome() == "ok", "the background check of a healthy projection passes")
        #expect(status["dataDir"] == .string(daemon.dataDirectory))
        #expect(status["chainHead"] == .string(String(repeating: "0", count: 64)))
        if case .string(let version)? = status["version"] { #expect(!version.isEmpty) } else { Issue.record("no version") }

        let health = try await client.send(.GET, "/healthz")
        #expect(health.status == 200)
        #expect(try body(health) == JSONValue.object(JSONObject([("status", .string("ok"))])))

        _ = try await client.transition("k", .created("s1", expectedVersion: 0))
        _ = try await client.transition("k", .created("s2", expectedVersion: 0))
        let metrics = try await client.send(.GET, "/metrics")
        #expect(metrics.status == 200)
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(text.contains("ledger_appended_events_total 1"))
        #expect(text.contains("ledger_batch_size_count"))
        #expect(text.contains(#"ledger_rejections_total{code="stale_version"} 1"#))
        #expect(text.contains("ledger_request_duration_seconds_bucket"))
        #expect(text.contains("ledger_projection_lag_events 0"))
        // One event accepted, held in memory until a write-back.
        #expect(text.contains("ledger_head_state_held_events 1"))
        #expect(text.contains("ledger_head_state_write_back_failing 0"))
        #expect(metrics.headers.contains { $0.0 == "content-type" && $0.1.hasPrefix("text/plain") })
    }

    @Test func anUnknownKeyIsStateNoneAtVersionZero() async throws {
        let daemon = try Daemon()
        let reply = try await daemon.client().send(.GET, "/v1/sessions/never-seen")
        #expect(reply.status == 200)
        let session = object(try body(reply))
        #expect(session["key"] == .string("never-seen"))
        #expect(session["state"] == .string("none"))
        #expect(session["sessionId"] == JSONValue.null)
        #expect(session["version"] == .number(JSONNumber(literal: "0")))
        #expect(session["seq"] == .number(JSONNumber(literal: "0")))
        #expect(Set(session.keys).isSuperset(of: ["key", "state", "sessionId", "version", "owner", "epoch", "environment", "updatedAt", "seq"]))
    }

    @Test func keysArePercentDecodedPathSegments() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        let key = "slack:C123/thread 9é"
        let result = try await client.transition(key, .created("s1", expectedVersion: 0))
        #expect(result.isAccepted)
        let raw = try await client.send(.GET, "/v1/sessions/slack%3AC123%2Fthread%209%C3%A9")
        #expect(object(try body(raw))["sessionId"] == .string("s1"))
        #expect(try await client.session(key).version == 1)
        // Malformed percent-encoding and control characters are refused, naming the problem.
        let bad = try await client.send(.GET, "/v1/sessions/abc%2")
        #expect(bad.status == 400)
        let control = try await client.send(.GET, "/v1/sessions/line%0Abreak")
        #expect(control.status == 400)
        #expect(object(object(try body(control))["error"].map { $0 } ?? .null)["field"] == .string("key"))
    }

    @Test func transitionsAnswerWithSeqVersionAndSession() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        let reply = try await client.send(.POST, "/v1/sessions/k/transitions",
                                          body: Array(#"{"type":"created","sessionId":"S1","expectedVersion":0,"owner":"rt","environment":{"volume":"v1"},"reason":"first turn"}"#.utf8))
        #expect(reply.status == 200)
        let result = object(try body(reply))
        #expect(result["seq"] == .number(JSONNumber(literal: "1")))
        #expect(result["version"] == .number(JSONNumber(literal: "1")))
        let session = object(result["session"] ?? .null)
        #expect(session["sessionId"] == .string("S1"))
        #expect(session["state"] == .string("active"))
        #expect(session["owner"] == .string("rt"))
        #expect(session["epoch"] == .number(JSONNumber(literal: "0")))
        #expect(session["environment"] == .object(JSONObject([("volume", .string("v1"))])))
        // The event's actor is this test process, as the kernel reports it.
        let history = try await client.history("k")
        #expect(history.count == 1)
        #expect(history[0].event.actor?.pid == getpid())
        #expect(history[0].event.actor?.uid == getuid())
        #expect(history[0].event.reason == "first turn")
    }

    @Test func historyAndListing() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        for i in 0..<7 {
            _ = try await client.transition("key-\(i)", .created("s\(i)", expectedVersion: 0, owner: i % 2 == 0 ? "even" : "odd"))
        }
        _ = try await client.transition("key-0", .resumed("s0", expectedVersion: 1))
        _ = try await client.transition("key-0", .cleared(reason: "done"))

        let history = try await client.history("key-0")
        #expect(history.map(\.event.type) == [.created, .resumed, .cleared])
        #expect(history.map(\.event.version) == [1, 2, 3])
        #expect(history.allSatisfy { $0.hash.hex.count == 64 })
        let page = try await client.history("key-0", after: history[0].event.seq, limit: 1)
        #expect(page.map(\.event.type) == [.resumed])

        var keys: [String] = []
        var cursor: String?
        repeat {
            let list = try await client.sessions(limit: 3, after: cursor)
            #expect(list.sessions.count <= 3)
            keys += list.sessions.map(\.key)
            cursor = list.next
        } while cursor != nil
        #expect(keys == (0..<7).map { "key-\($0)" })
        let even = try await client.sessions(owner: "even", state: "active")
        #expect(even.sessions.map(\.key) == ["key-2", "key-4", "key-6"])
        let none = try await client.sessions(state: "none")
        #expect(none.sessions.map(\.key) == ["key-0"])

        let badState = try await client.send(.GET, "/v1/sessions?state=asleep")
        #expect(badState.status == 400)
        let badCursor = try await client.send(.GET, "/v1/sessions?after=%25%25")
        #expect(badCursor.status == 400)
    }

    /// Found in review: limit=0 used to crash the daemon. Out-of-range limits are 400s now.
    @Test func historyLimitsOutOfRangeAre400AndTheDaemonLivesOn() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        _ = try await client.transition("k", .created("s1", expectedVersion: 0))
        for limit in ["0", "10001", "-1", "x"] {
            let reply = try await client.send(.GET, "/v1/sessions/k/history?limit=\(limit)")
            #expect(reply.status == 400, "limit=\(limit)")
        }
        #expect(daemon.isRunning)
        #expect(try await client.history("k", limit: 1).count == 1)
    }

    @Test func unknownRoutesAndWrongMethodsAnswerJSON() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        let missing = try await client.send(.GET, "/v2/nothing")
        #expect(missing.status == 404)
        #expect(object(object(try body(missing))["error"] ?? .null)["code"] == .string("not_found"))
        let wrong = try await client.send(.DELETE, "/v1/sessions/k")
        #expect(wrong.status == 405)
        #expect(object(object(try body(wrong))["error"] ?? .null)["code"] == .string("method_not_allowed"))
        #expect(wrong.headers.contains { $0.0.lowercased() == "allow" && $0.1 == "GET" })
        let getTransitions = try await client.send(.GET, "/v1/sessions/k/transitions")
        #expect(getTransitions.status == 405)
    }

    @Test(arguments: [
        (#"not json"#, "body"),
        (#"[1,2]"#, "body"),
        (#"{"type":"created","sessionId":"S","expectedVersion":-1}"#, "expectedVersion"),
        (#"{"type":"created","sessionId":"S","expectedVersion":1.5}"#, "expectedVersion"),
        (#"{"type":"created","sessionId":"S","expectedVersion":99999999999999999999999}"#, "expectedVersion"),
        (#"{"type":"created","sessionId":"S","expectedVersion":"0"}"#, "expectedVersion"),
        (#"{"type":"created","sessionId":42,"expectedVersion":0}"#, "sessionId"),
        (#"{"type":"exploded","sessionId":"S"}"#, "type"),
        (#"{"sessionId":"S"}"#, "type"),
        (#"{"type":"created","sessionId":"S","expectedVersion":0,"colour":"red"}"#, "colour"),
        (#"{"type":"created","sessionId":"S","expectedVersion":0,"environment":{"planet":"mars"}}"#, "environment.planet"),
        (#"{"type":"created","expectedVersion":0}"#, "sessionId"),
        (#"{"type":"created","sessionId":"","expectedVersion":0}"#, "sessionId"),
        (#"{"type":"created","sessionId":"S","sessionId":"T","expectedVersion":0}"#, "body"),
        (#"{"type":"resumed","sessionId":"S","expectedVersion":0,"environment":{"host":"h"}}"#, "environment"),
    ])
    func badInputIsA400NamingTheFieldAndWritesNothing(json: String, field: String) async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        let reply = try await client.send(.POST, "/v1/sessions/k/transitions", body: Array(json.utf8))
        #expect(reply.status == 400)
        let error = object(object(try body(reply))["error"] ?? .null)
        #expect(error["code"] == .string("invalid_request"))
        #expect(error["field"] == .string(field), "\(error)")
        let status = object(try await client.status())
        #expect(status["headSeq"] == .number(JSONNumber(literal: "0")))
    }

    @Test func anOversizedBodyIs413() async throws {
        let daemon = try Daemon(arguments: ["--max-body", "1024"])
        let client = daemon.client()
        let big = #"{"type":"created","sessionId":"S","expectedVersion":0,"reason":""# + String(repeating: "x", count: 2_000) + #""}"#
        let reply = try await client.send(.POST, "/v1/sessions/k/transitions", body: Array(big.utf8))
        #expect(reply.status == 413)
        #expect(object(object(try body(reply))["error"] ?? .null)["code"] == .string("payload_too_large"))
        #expect(try await client.session("k").version == 0)
        // and the server goes on serving
        #expect(try await client.transition("k", .created("S", expectedVersion: 0)).isAccepted)
    }
}
