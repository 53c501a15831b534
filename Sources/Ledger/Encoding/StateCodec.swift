/// Stored encodings of the head state the ledger keeps in LMDB beside the log (format 1 each).
/// Keys are stored as the LMDB key, so they are not repeated in the values.
public enum StateCodec {
    static let format: UInt8 = 1

    // MARK: Conversation

    public static func encode(_ state: ConversationState) -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        w.byte(format)
        var presence: UInt8 = 0
        if state.sessionId != nil { presence |= 1 }
        if state.owner != nil { presence |= 2 }
        if state.epoch != nil { presence |= 4 }
        if state.environment != nil { presence |= 8 }
        w.byte(presence)
        w.varint(state.version)
        w.signed(state.createdAt)
        w.signed(state.updatedAt)
        w.varint(state.lastSeq)
        if let id = state.sessionId { w.string(id) }
        if let owner = state.owner { w.string(owner) }
        if let epoch = state.epoch { w.varint(epoch) }
        if let environment = state.environment { EventCodec.encode(environment, into: &w) }
        return w.bytes
    }

    public static func decodeConversation(key: String, _ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> ConversationState {
        var r = ByteReader(bytes)
        guard try r.byte() == format else { throw DecodingError("unknown conversation state format") }
        let presence = try r.byte()
        var state = ConversationState(key: key)
        state.version = try r.varint()
        state.createdAt = try r.signed()
        state.updatedAt = try r.signed()
        state.lastSeq = try r.varint()
        if presence & 1 != 0 { state.sessionId = try r.string() }
        if presence & 2 != 0 { state.owner = try r.string() }
        if presence & 4 != 0 { state.epoch = try r.varint() }
        if presence & 8 != 0 { state.environment = try EventCodec.decodeEnvironment(&r) }
        guard r.isAtEnd else { throw DecodingError("trailing bytes in conversation state of '\(key)'") }
        return state
    }

    // MARK: Session record

    public static func encode(_ record: SessionRecord) -> [UInt8] {
        var w = ByteWriter(capacity: 48)
        w.byte(format)
        w.varint(record.endedSeq)
        w.byte(record.endedBy?.rawValue ?? 0)
        w.string(record.key)
        return w.bytes
    }

    public static func decodeSession(_ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> SessionRecord {
        var r = ByteReader(bytes)
        guard try r.byte() == format else { throw DecodingError("unknown session record format") }
        let endedSeq = try r.varint()
        let tag = try r.byte()
        let endedBy = tag == 0 ? nil : EventType(rawValue: tag)
        if tag != 0 && endedBy == nil { throw DecodingError("unknown end type \(tag)") }
        let key = try r.string()
        return SessionRecord(key: key, endedSeq: endedSeq, endedBy: endedBy)
    }

    // MARK: Owner

    public static func encode(_ owner: OwnerState) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.byte(format)
        w.varint(owner.epoch)
        w.signed(owner.bootedAt)
        w.varint(owner.lastSeq)
        w.byte(owner.environment == nil ? 0 : 1)
        if let environment = owner.environment { EventCodec.encode(environment, into: &w) }
        return w.bytes
    }

    public static func decodeOwner(name: String, _ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> OwnerState {
        var r = ByteReader(bytes)
        guard try r.byte() == format else { throw DecodingError("unknown owner state format") }
        var owner = OwnerState(name: name)
        owner.epoch = try r.varint()
        owner.bootedAt = try r.signed()
        owner.lastSeq = try r.varint()
        if try r.byte() != 0 { owner.environment = try EventCodec.decodeEnvironment(&r) }
        return owner
    }
}
