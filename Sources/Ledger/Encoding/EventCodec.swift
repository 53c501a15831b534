/// The stored encoding of an event's body (format 1).
///
/// ```
/// u8      format (1)
/// varint  seq
/// u8      type (EventType raw value)
/// varint  presence bits: key, sessionId, reportedSessionId, supersedes, owner, epoch,
///         environment, reason, actor (bit 0 .. bit 8)
/// varint  version
/// zigzag  time (microseconds since the Unix epoch)
/// then, for each present field in that order: strings as varint length + UTF-8,
/// epoch as varint, environment as a presence byte (host, volume, cwd, provider) and its
/// strings, actor as varint uid, varint gid, zigzag pid.
/// ```
/// Unknown formats, types and presence bits are refused, so a record written by a newer build
/// is never misread. The encoding is canonical: every event has exactly one (minimal varints,
/// absent fields left out), which the decoder enforces.
public enum EventCodec {
    public static let format: UInt8 = 1

    private enum Bit {
        static let key: UInt64 = 1 << 0
        static let sessionId: UInt64 = 1 << 1
        static let reportedSessionId: UInt64 = 1 << 2
        static let supersedes: UInt64 = 1 << 3
        static let owner: UInt64 = 1 << 4
        static let epoch: UInt64 = 1 << 5
        static let environment: UInt64 = 1 << 6
        static let reason: UInt64 = 1 << 7
        static let actor: UInt64 = 1 << 8
        static let all: UInt64 = (1 << 9) - 1
    }

    /// Appends the body of `event` to `writer`.
    public static func encode(_ event: Event, into writer: inout ByteWriter) {
        var presence: UInt64 = 0
        if event.key != nil { presence |= Bit.key }
        if event.sessionId != nil { presence |= Bit.sessionId }
        if event.reportedSessionId != nil { presence |= Bit.reportedSessionId }
        if event.supersedes != nil { presence |= Bit.supersedes }
        if event.owner != nil { presence |= Bit.owner }
        if event.epoch != nil { presence |= Bit.epoch }
        if event.environment?.isEmpty == false { presence |= Bit.environment }
        if event.reason != nil { presence |= Bit.reason }
        if event.actor != nil { presence |= Bit.actor }

        writer.byte(format)
        writer.varint(event.seq)
        writer.byte(event.type.rawValue)
        writer.varint(presence)
        writer.varint(event.version)
        writer.signed(event.time)
        if let key = event.key { writer.string(key) }
        if let id = event.sessionId { writer.string(id) }
        if let id = event.reportedSessionId { writer.string(id) }
        if let id = event.supersedes { writer.string(id) }
        if let owner = event.owner { writer.string(owner) }
        if let epoch = event.epoch { writer.varint(epoch) }
        if let environment = event.environment, !environment.isEmpty { encode(environment, into: &writer) }
        if let reason = event.reason { writer.string(reason) }
        if let actor = event.actor {
            writer.varint(UInt64(actor.uid))
            writer.varint(UInt64(actor.gid))
            writer.signed(Int64(actor.pid))
        }
    }

    /// The body of `event` as bytes.
    public static func encode(_ event: Event) -> [UInt8] {
        var writer = ByteWriter()
        encode(event, into: &writer)
        return writer.bytes
    }

    static func encode(_ environment: RuntimeEnvironment, into writer: inout ByteWriter) {
        var presence: UInt8 = 0
        for (bit, field) in environment.fields.enumerated() where field.value != nil { presence |= 1 << bit }
        writer.byte(presence)
        for field in environment.fields { if let value = field.value { writer.string(value) } }
    }

    /// Decodes an event body.
    ///
    /// - Throws: ``DecodingError`` for any byte sequence that is not a complete format-1 body.
    public static func decode(_ body: UnsafeRawBufferPointer) throws(DecodingError) -> Event {
        var reader = ByteReader(body)
        let format = try reader.byte()
        guard format == Self.format else { throw DecodingError("unknown record format \(format)") }
        let seq = try reader.varint()
        let tag = try reader.byte()
        guard let type = EventType(rawValue: tag) else { throw DecodingError("unknown event type \(tag)") }
        let presence = try reader.varint()
        guard presence & ~Bit.all == 0 else { throw DecodingError("unknown fields \(presence)") }
        var event = Event(seq: seq, key: nil, version: try reader.varint(), type: type, time: try reader.signed())
        if presence & Bit.key != 0 { event.key = try reader.string() }
        if presence & Bit.sessionId != 0 { event.sessionId = try reader.string() }
        if presence & Bit.reportedSessionId != 0 { event.reportedSessionId = try reader.string() }
        if presence & Bit.supersedes != 0 { event.supersedes = try reader.string() }
        if presence & Bit.owner != 0 { event.owner = try reader.string() }
        if presence & Bit.epoch != 0 { event.epoch = try reader.varint() }
        if presence & Bit.environment != 0 {
            // The encoder leaves an empty environment out; accepting one here would give one
            // event two encodings (found by ledger-fuzz).
            let environment = try decodeEnvironment(&reader)
            guard !environment.isEmpty else { throw DecodingError("an environment with no fields (written as absent)") }
            event.environment = environment
        }
        if presence & Bit.reason != 0 { event.reason = try reader.string() }
        if presence & Bit.actor != 0 {
            let uid = try reader.varint()
            let gid = try reader.varint()
            let pid = try reader.signed()
            guard let uid = UInt32(exactly: uid), let gid = UInt32(exactly: gid), let pid = Int32(exactly: pid) else {
                throw DecodingError("actor out of range")
            }
            event.actor = ActorIdentity(uid: uid, gid: gid, pid: pid)
        }
        guard reader.isAtEnd else { throw DecodingError("\(reader.remaining) unexpected bytes after the event") }
        return event
    }

    static func decodeEnvironment(_ reader: inout ByteReader) throws(DecodingError) -> RuntimeEnvironment {
        let presence = try reader.byte()
        guard presence & ~0x0F == 0 else { throw DecodingError("unknown environment fields \(presence)") }
        var environment = RuntimeEnvironment()
        if presence & 1 != 0 { environment.host = try reader.string() }
        if presence & 2 != 0 { environment.volume = try reader.string() }
        if presence & 4 != 0 { environment.cwd = try reader.string() }
        if presence & 8 != 0 { environment.provider = try reader.string() }
        return environment
    }
}
