import Ledger

/// Digests that tie a projection row to the state it was written from: CRC32C over the
/// identifier and the state's stored encoding (the same encoding the ledger keeps in LMDB).
/// A row edited by hand no longer matches its digest, and the read that meets it says so.
enum RowDigest {
    static func of(_ conversation: ConversationState) -> Int64 {
        digest(conversation.key, StateCodec.encode(conversation))
    }

    static func of(_ id: String, _ record: SessionRecord) -> Int64 {
        digest(id, StateCodec.encode(record))
    }

    static func of(_ owner: OwnerState) -> Int64 {
        digest(owner.name, StateCodec.encode(owner))
    }

    private static func digest(_ identifier: String, _ encoded: [UInt8]) -> Int64 {
        var bytes = Array(identifier.utf8)
        bytes.append(0)
        bytes += encoded
        return Int64(CRC32C.checksum(bytes))
    }
}
