/// The named LMDB databases of a ledger and how their keys are built.
///
/// | database      | key                         | value |
/// |---------------|-----------------------------|-------|
/// | events        | seq, 8 bytes big-endian     | ``StoredRecord`` |
/// | byKey         | conversation key (dupsort)  | seq, 8 bytes big-endian (dupfixed) |
/// | conversations | conversation key            | ``StateCodec`` conversation |
/// | sessions      | session ID                  | ``StateCodec`` session record |
/// | owners        | owner name                  | ``StateCodec`` owner |
/// | live          | 0x01 + owner, or 0x00 (dupsort) | key of a conversation with a current session |
/// | meta          | "format", "head"            | format tag; head seq + chain hash + last time |
///
/// Big-endian seqs sort numerically under LMDB's default byte order, so the log can be
/// appended with `MDB_APPEND` and the per-key index with `MDB_APPENDDUP`.
struct LedgerLayout {
    static let formatTag: [UInt8] = Array("ledger-log/1".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)
    static let headKey: [UInt8] = Array("head".utf8)

    let events: LMDBDatabase
    let byKey: LMDBDatabase
    let conversations: LMDBDatabase
    let sessions: LMDBDatabase
    let owners: LMDBDatabase
    let live: LMDBDatabase
    let meta: LMDBDatabase

    init(environment: LMDBEnvironment) throws {
        events = try environment.database(named: "events")
        byKey = try environment.database(named: "byKey", flags: [.duplicateSort, .duplicateFixed])
        conversations = try environment.database(named: "conversations")
        sessions = try environment.database(named: "sessions")
        owners = try environment.database(named: "owners")
        live = try environment.database(named: "live", flags: [.duplicateSort])
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

    /// The `live` index key of a conversation owned by `owner` (or by nobody).
    static func liveKey(owner: String?) -> [UInt8] {
        guard let owner else { return [0] }
        return [1] + Array(owner.utf8)
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
