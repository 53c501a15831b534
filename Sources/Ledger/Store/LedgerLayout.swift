import Crypto

/// The named LMDB databases of a ledger and how their keys are built.
///
/// | database      | key                                   | value |
/// |---------------|---------------------------------------|-------|
/// | events        | seq, 8 bytes big-endian               | ``StoredRecord`` |
/// | conversations | key ‖ 0xFF                            | ``StateCodec`` conversation |
/// |               | key ‖ 0x01 ‖ seq (8 bytes big-endian) | empty: the conversation's events, in order |
/// | sessions      | session ID                            | ``StateCodec`` session record |
/// | owners        | owner name                            | ``StateCodec`` owner |
/// | live          | 0x01 ‖ hash8(owner) ‖ key, or 0x00 ‖ key | empty: a conversation with a current session |
/// | meta          | "format", "head"                      | format tag; head seq + chain hash + last time |
///
/// Why this shape: a durable commit costs about one random page write per distinct B-tree page
/// it dirties, so an event should dirty as few pages as possible. A conversation's state and its
/// newest index entries sort next to each other (0x01 ‖ seq < 0xFF), so one event usually dirties
/// one page for both; plain composite keys avoid the extra pages of duplicate-sort sub-trees.
/// Keys are printable UTF-8, which never contains 0x00, 0x01 or 0xFF, so the separators are
/// unambiguous. The owner is hashed in the live index so that key sizes stay within LMDB's 511
/// bytes (a hash collision only means a candidate key is loaded and then filtered by its owner).
/// Big-endian seqs sort numerically under LMDB's byte order, so the log appends with `MDB_APPEND`.
struct LedgerLayout {
    static let formatTag: [UInt8] = Array("ledger-log/2".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)
    static let headKey: [UInt8] = Array("head".utf8)
    static let indexSeparator: UInt8 = 0x01
    static let stateSuffix: UInt8 = 0xFF

    let events: LMDBDatabase
    let conversations: LMDBDatabase
    let sessions: LMDBDatabase
    let owners: LMDBDatabase
    let live: LMDBDatabase
    let meta: LMDBDatabase

    init(environment: LMDBEnvironment) throws {
        events = try environment.database(named: "events")
        conversations = try environment.database(named: "conversations")
        sessions = try environment.database(named: "sessions")
        owners = try environment.database(named: "owners")
        live = try environment.database(named: "live")
        meta = try environment.database(named: "meta")
    }

    @inline(__always)
    static func seqKey(_ seq: UInt64) -> [UInt8] {
        withUnsafeBytes(of: seq.bigEndian) { Array($0) }
    }

    static func seq(fromKey bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }

    /// `key ‖ 0xFF`: where a conversation's state is stored.
    static func stateKey(_ key: String) -> [UInt8] {
        Array(key.utf8) + [stateSuffix]
    }

    /// `key ‖ 0x01`: the prefix of a conversation's index entries.
    static func indexPrefix(_ key: String) -> [UInt8] {
        Array(key.utf8) + [indexSeparator]
    }

    /// `key ‖ 0x01 ‖ seq`: one index entry.
    static func indexKey(_ key: String, _ seq: UInt64) -> [UInt8] {
        indexPrefix(key) + seqKey(seq)
    }

    /// What an entry of the conversations database is.
    enum ConversationEntry {
        case state(key: String)
        case index(key: String, seq: UInt64)
    }

    static func conversationEntry(_ bytes: UnsafeRawBufferPointer) -> ConversationEntry? {
        guard let split = bytes.firstIndex(where: { $0 == indexSeparator || $0 == stateSuffix }) else { return nil }
        let key = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<split]), as: UTF8.self)
        if bytes[split] == stateSuffix, split == bytes.count - 1 { return .state(key: key) }
        if bytes[split] == indexSeparator, bytes.count - split == 9,
           let seq = seq(fromKey: UnsafeRawBufferPointer(rebasing: bytes[(split + 1)...])) {
            return .index(key: key, seq: seq)
        }
        return nil
    }

    /// The `live` index prefix of conversations owned by `owner` (or by nobody).
    static func livePrefix(owner: String?) -> [UInt8] {
        guard let owner else { return [0] }
        let digest = SHA256.hash(data: Array(owner.utf8))
        return [1] + Array(digest.prefix(8))
    }

    static func liveKey(owner: String?, key: String) -> [UInt8] {
        livePrefix(owner: owner) + Array(key.utf8)
    }

    /// The conversation key of a `live` entry.
    static func liveEntryKey(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let tag = bytes.first else { return nil }
        let skip = tag == 0 ? 1 : 9
        guard bytes.count > skip else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[skip...]), as: UTF8.self)
    }
}

/// The end of the log: what the next append links to.
public struct LedgerHead: Sendable, Hashable {
    /// Seq of the last event, 0 for an empty log.
    public var seq: UInt64
    /// Chain hash of the last event (``ChainHash/genesis`` for an empty log).
    public var hash: ChainHash
    /// Time of the last event; appends never stamp an earlier time.
    public var time: Int64

    public static let empty = LedgerHead(seq: 0, hash: .genesis, time: 0)

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 48)
        w.uint64BE(seq)
        hash.withBytes { w.raw($0) }
        w.uint64BE(UInt64(bitPattern: time))
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> LedgerHead {
        guard bytes.count == 48 else { throw DecodingError("head record of \(bytes.count) bytes") }
        var r = ByteReader(bytes)
        let seq = try r.uint64BE()
        let hash = ChainHash(bytes: UnsafeRawBufferPointer(rebasing: bytes[8..<40]))!
        var tail = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[40...]))
        return LedgerHead(seq: seq, hash: hash, time: Int64(bitPattern: try tail.uint64BE()))
    }
}
