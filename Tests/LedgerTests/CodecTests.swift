import Foundation
import PropertyBased
import Testing
@testable import Ledger

@Suite struct CodecTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func sha256ChainLinksAreTheDigestOfPreviousAndStored() {
        // SHA-256 of 32 zero bytes followed by "abc", computed independently (sha256sum).
        let link = Array("abc".utf8).withUnsafeBytes { ChainHash.link(after: .genesis, stored: $0) }
        #expect(link.hex == "365aa7d8f7f9402c4b9434502b4cc89ddb09fe50d7cd95b493b834c62d5a5370")
        #expect(ChainHash(hex: link.hex) == link)
    }

    static let identifiers = Gen.letterOrNumber.string(of: 1...12)
    static let events = zip(
        Gen.uint64(in: 1...1_000_000), Gen<EventType>.case, identifiers.optional, identifiers.optional,
        identifiers.optional, Gen.uint64(in: 0 ... .max), Gen.int64(in: .min ... .max), Gen.bool
    ).map { seq, type, key, session, owner, version, time, rich in
        Event(seq: seq, key: key, version: version, type: type, sessionId: session,
              reportedSessionId: rich ? "r-\(seq)" : nil, supersedes: rich ? session : nil, owner: owner,
              epoch: rich ? version / 3 : nil,
              environment: rich ? RuntimeEnvironment(host: "h", volume: nil, cwd: "/app é", provider: "p") : nil,
              reason: rich ? "reason \u{1F600}" : nil,
              actor: rich ? ActorIdentity(uid: 1000, gid: 100, pid: -1) : nil, time: time)
    }

    /// Stored strings: ASCII (the fast path) and multi-byte UTF-8 read back as written; bytes
    /// that are not UTF-8 (a lone lead byte, 0xFF, an overlong form, an encoded surrogate) are
    /// refused, whatever ASCII surrounds them.
    @Test func storedStringsAreUTF8OrRefused() {
        func read(_ raw: [UInt8]) -> String? {
            var writer = ByteWriter()
            writer.varint(UInt64(raw.count))
            for byte in raw { writer.byte(byte) }
            return writer.bytes.withUnsafeBytes { bytes in
                var reader = ByteReader(bytes)
                return try? reader.string()
            }
        }
        for text in ["", "slack:C1:t9", "caf\u{e9}", "\u{1F600} turn", String(repeating: "a", count: 300)] {
            #expect(read(Array(text.utf8)) == text)
        }
        for bad: [UInt8] in [[0xC3], [0x61, 0xFF, 0x62], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x61, 0x62, 0x80]] {
            #expect(read(bad) == nil, "\(bad) is not UTF-8")
        }
    }

    @Test func eventsRoundTripThroughTheStoredRecord() async {
        await propertyCheck(count: 300, input: Self.events) { event in
            let (bytes, hash) = StoredRecord.seal(event, after: .genesis)
            let decoded = try bytes.withUnsafeBytes { try StoredRecord.decode($0) }
            #expect(decoded.event == event)
            #expect(decoded.hash == hash)
        }
    }

    /// Every truncation and every single-byte change of a valid record is refused (checksum or
    /// decoder), never a crash.
    @Test func damagedRecordsAreRefusedNeverMisread() throws {
        let event = Event(seq: 7, key: "k", version: 3, type: .errored, sessionId: "S1", reportedSessionId: "S2",
                          reason: "error_during_execution", actor: ActorIdentity(uid: 1, gid: 2, pid: 3), time: 99)
        let (bytes, _) = StoredRecord.seal(event, after: .genesis)
        for length in 0..<bytes.count {
            let truncated = Array(bytes[..<length])
            #expect(throws: DecodingError.self) { try truncated.withUnsafeBytes { try StoredRecord.decode($0) } }
        }
        let bodyAndChecksum = bytes.count - StoredRecord.hashSize
        for index in 0..<bodyAndChecksum {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[index] ^= flip
                #expect(throws: DecodingError.self) { try damaged.withUnsafeBytes { try StoredRecord.decode($0) } }
            }
        }
    }

    /// The body decoder alone (no checksum to hide behind) survives arbitrary bytes.
    @Test func theBodyDecoderSurvivesRandomBytes() async {
        await propertyCheck(count: 2_000, input: Gen.uint8(in: 0 ... .max).array(of: 0...64)) { bytes in
            var candidate = bytes
            if !candidate.isEmpty { candidate[0] = EventCodec.format }
            _ = try? candidate.withUnsafeBytes { try EventCodec.decode($0) }
        }
        // A length prefix that claims far more than is there.
        var hostile = ByteWriter()
        hostile.byte(EventCodec.format); hostile.varint(1); hostile.byte(1); hostile.varint(1); hostile.varint(1); hostile.signed(0)
        hostile.varint(UInt64.max >> 1)
        #expect(throws: DecodingError.self) { try hostile.bytes.withUnsafeBytes { try EventCodec.decode($0) } }
    }

    @Test func stateCodecsRoundTrip() throws {
        var conversation = ConversationState(key: "k")
        conversation.version = 9; conversation.sessionId = "S"; conversation.owner = "o"; conversation.epoch = 2
        conversation.environment = RuntimeEnvironment(volume: "v"); conversation.createdAt = -5; conversation.updatedAt = 7; conversation.lastSeq = 11
        #expect(try StateCodec.encode(conversation).withUnsafeBytes { try StateCodec.decodeConversation(key: "k", $0) } == conversation)
        let record = SessionRecord(key: "k", endedSeq: 4, endedBy: .invalidatedOnBoot)
        #expect(try StateCodec.encode(record).withUnsafeBytes { try StateCodec.decodeSession($0) } == record)
        let owner = OwnerState(name: "o", epoch: 3, environment: RuntimeEnvironment(host: "h"), bootedAt: 1, lastSeq: 2)
        #expect(try StateCodec.encode(owner).withUnsafeBytes { try StateCodec.decodeOwner(name: "o", $0) } == owner)
    }
}
