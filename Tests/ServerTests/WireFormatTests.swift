import Foundation
import Ledger
import LedgerAPI
import PropertyBased
import Testing

/// The byte-level writers of the wire format against independent references.
@Suite struct WireFormatTests {
    /// Timestamps, written digit by digit, agree with Foundation's UTC calendar from year 1600 to
    /// 9999 (before 1582 Foundation's calendar is Julian; RFC 3339's is proleptic Gregorian), and
    /// parse back to the same microsecond.
    @Test func timestampsMatchTheCalendarAndRoundTrip() async {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let earliest: Int64 = -11_676_096_000_000_000  // 1600-01-01T00:00:00Z
        let latest: Int64 = 253_402_300_799_999_999   // 9999-12-31T23:59:59.999999Z
        await propertyCheck(count: 2_000, input: Gen.int64(in: earliest...latest)) { micros in
            let text = Timestamp.format(micros)
            let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
            let wholeSeconds = fraction < 0 ? seconds - 1 : seconds
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second],
                                            from: Date(timeIntervalSince1970: Double(wholeSeconds)))
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!,
                                  Int((fraction + 1_000_000) % 1_000_000))
            #expect(text == expected)
            #expect(Timestamp.parse(text) == micros)
        }
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp.format(-1) == "1969-12-31T23:59:59.999999Z")
    }

    /// Fractions of any length parse; digits past the microsecond are dropped. Seven or more
    /// digits used to trap (found by ledger-fuzz), so a nanosecond time in an imported file or
    /// a `--since` crashed ledgerctl.
    @Test func fractionsOfAnyLengthParse() {
        #expect(Timestamp.parse("2026-11-21T04:39:43.1Z") == Timestamp.parse("2026-11-21T04:39:43.100000Z"))
        #expect(Timestamp.parse("2026-11-21T04:39:43.123456789Z") == Timestamp.parse("2026-11-21T04:39:43.123456Z"))
        #expect(Timestamp.parse("2026-11-21T04:39:43.1234567+01:00") == Timestamp.parse("2026-11-21T03:39:43.123456Z"))
        #expect(Timestamp.parse("2026-11-21T04:39:43.Z") == nil)
    }

    /// Hex digests written into the JSON buffer equal the hash's own hex form.
    @Test func hexDigestsMatch() async {
        await propertyCheck(count: 200, input: Gen.uint64(in: 0 ... .max).array(of: 1...8)) { words in
            let hash = words.withUnsafeBytes { ChainHash.link(after: .genesis, stored: $0) }
            var w = JSONWriter()
            hash.withBytes { w.hex($0) }
            #expect(String(decoding: w.bytes, as: UTF8.self) == "\"\(hash.hex)\"")
        }
    }

    /// Every member a reader did not ask for is refused, the first one in the body's order, also
    /// past the 64 members whose consumption is tracked in a bit mask.
    @Test func unreadMembersAreRefusedInOrder() throws {
        func firstUnknown(members: Int, read: some Sequence<Int>) throws -> String? {
            let body = "{" + (0..<members).map { "\"f\($0)\": \"v\($0)\"" }.joined(separator: ", ") + "}"
            var reader = try FieldReader(try JSONParser.parse(body), name: "body")
            for index in read { #expect(try reader.string("f\(index)") == "v\(index)") }
            #expect(try reader.string("absent") == nil)
            do {
                try reader.finish()
                return nil
            } catch {
                #expect(error.code == "invalid_request")
                return error.field
            }
        }
        #expect(try firstUnknown(members: 5, read: 0..<5) == nil)
        #expect(try firstUnknown(members: 5, read: [0, 1, 3, 4]) == "f2")
        #expect(try firstUnknown(members: 70, read: 0..<70) == nil)
        #expect(try firstUnknown(members: 70, read: (0..<70).filter { $0 != 66 }) == "f66")
        #expect(try firstUnknown(members: 70, read: (0..<70).filter { $0 != 63 && $0 != 69 }) == "f63")
        #expect(try firstUnknown(members: 70, read: 0..<64) == "f64")

        // Through the real request reader: a typo is named, a null member counts as read.
        #expect(throws: APIError.invalid("sessionID", "unknown field")) {
            try TransitionBody.read(try JSONParser.parse(#"{"type": "resumed", "sessionId": "S1", "expectedVersion": 1, "sessionID": "S1"}"#))
        }
        _ = try TransitionBody.read(try JSONParser.parse(#"{"type": "resumed", "sessionId": "S1", "expectedVersion": 1, "reason": null}"#))
    }
}

/// The one-pass reader of a transition body's common shape against the full way (JSON tree,
/// then fields): whatever it reads, the full way reads the same; what it declines, the full way
/// still reads or refuses.
@Suite struct TransitionBodyCommonShapeTests {
    static func full(_ text: String) -> TransitionRequest? {
        guard let value = try? JSONParser.parse(text) else { return nil }
        return try? TransitionBody.read(value)
    }

    static func common(_ text: String) -> TransitionRequest? {
        Array(text.utf8).withUnsafeBytes { TransitionBody.readCommonShape($0) }
    }

    @Test func theShapesClientsSendAreReadInOnePass() {
        for text in [#"{"type":"created","sessionId":"S1","expectedVersion":0}"#,
                     #"{"type":"resumed","sessionId":"S1","expectedVersion":3,"owner":"rt","epoch":7}"#,
                     #"{ "type" : "errored" , "sessionId":"S1","reason":"error_during_execution","reportedSessionId":"S2" }"#,
                     #"{"reason":"user reset","type":"cleared"}"#,
                     "{\n\t\"type\": \"cleared\",\r\n \"sessionId\": \"café-☕\"\n}",
                     #"{"type":"resumed","sessionId":"S","expectedVersion":9223372036854775807}"#,
                     #"{"type":"created","sessionId":"S1","expectedVersion":0,"environment":{"host":"h","volume":"v","cwd":"/w","provider":"p"}}"#,
                     #"{"environment":{ "cwd" : "/w" },"type":"created","sessionId":"S1","expectedVersion":0}"#,
                     #"{"type":"created","sessionId":"S1","expectedVersion":0,"environment":{}}"#] {
            let common = Self.common(text)
            #expect(common != nil, "\(text)")
            #expect(common == Self.full(text), "\(text)")
        }
    }

    @Test func everythingElseIsLeftToTheFullWay() {
        for text in [#"{"type":"created","sessionId":"S1","expectedVersion":0,"environment":{"host":"h","host":"i"}}"#,
                     #"{"type":"created","sessionId":"S1","expectedVersion":0,"environment":{"region":"eu"}}"#,
                     #"{"type":"created","sessionId":"S1","expectedVersion":0,"environment":{"host":null}}"#,
                     #"{"type":"created","sessionId":"S1","expectedVersion":0,"environment":null}"#,
                     #"{"type":"resumed","sessionId":"S\u0031","expectedVersion":1}"#,
                     #"{"type":"resumed","sessionId":null,"expectedVersion":1}"#,
                     #"{"type":"resumed","expectedVersion":1.0}"#, #"{"type":"resumed","expectedVersion":1e2}"#,
                     #"{"type":"resumed","expectedVersion":-1}"#, #"{"type":"resumed","expectedVersion":01}"#,
                     #"{"type":"resumed","expectedVersion":9223372036854775808}"#,
                     #"{"type":"resumed","type":"cleared"}"#, #"{"type":"resumed","sessionid":"S"}"#,
                     #"{"type":"paused"}"#, #"{"sessionId":"S"}"#, "{}", "", "[]", #"{"type":"cleared"} x"#,
                     #"{"type":"cleared",}"#, "{\"type\":\"cleared\",\"reason\":\"a\u{01}b\"}", #"{"type":"cleared""#] {
            #expect(Self.common(text) == nil, "\(text)")
        }
    }

    @Test func mutatedBodiesAreNeverReadDifferently() {
        var random = SplitMix64(seed: 11)
        let seeds = [#"{"type":"created","sessionId":"S1","expectedVersion":0,"owner":"rt","epoch":2}"#,
                     #"{"type":"created","sessionId":"S1","expectedVersion":0,"environment":{"host":"h","cwd":"/w"}}"#,
                     #"{"type":"errored","sessionId":"S1","reason":"boom","reportedSessionId":"S2"}"#]
        let replacements = Array(#"{}[]":,\ 0123456789-.eE"aStn"#.utf8)
        let insertions = Array(#" ",:0\9}"#.utf8)
        var readInOnePass = 0
        for round in 0..<20_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<Int(1 + random.next() % 2) where !bytes.isEmpty {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = replacements[Int(random.next() % UInt64(replacements.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(insertions[Int(random.next() % UInt64(insertions.count))], at: at)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let common = Self.common(text) else { continue }
            readInOnePass += 1
            #expect(common == Self.full(text), "\(text)")
        }
        #expect(readInOnePass > 1_000, "the mutations kept the common shape \(readInOnePass) times")
    }
}
