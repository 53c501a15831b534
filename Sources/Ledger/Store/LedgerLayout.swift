/// The named LMDB databases of the log environment and how their keys are built.
///
/// | database | key                     | value |
/// |----------|-------------------------|-------|
/// | events   | seq, 8 bytes big-endian | ``StoredRecord`` |
/// | meta     | "format", "head"        | format tag; head seq + chain hash + last time |
///
/// The log environment holds nothing but the log: a durable commit costs about one page write
/// per distinct B-tree page it dirties, and appending at the right edge of one B-tree dirties
/// the fewest. Everything derived from the log (head state, per-conversation index) lives in the
/// state environment (``StateLayout``), written back in bulk off the commit path.
/// Big-endian seqs sort numerically under LMDB's byte order, so the log appends with `MDB_APPEND`.
struct LedgerLayout {
    /// Format 3: the log environment holds only `events` and `meta`.
    static let formatTag: [UInt8] = Array("ledger-log/3".utf8)
    /// Format 2 kept head state in the log environment; opening it writable moves that state out
    /// (it is rebuilt from the log) and retags the environment.
    static let legacyFormatTag: [UInt8] = Array("ledger-log/2".utf8)
    /// The databases format 2 kept beside the log.
    static let legacyStateDatabases = ["conversations", "sessions", "owners", "live"]
    static let formatKey: [UInt8] = Array("format".utf8)
    static let headKey: [UInt8] = Array("head".utf8)

    let events: LMDBDatabase
    let meta: LMDBDatabase

    init(environment: LMDBEnvironment) throws {
        events = try environment.database(named: "events")
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

    func head(in txn: borrowing LMDBTransaction) throws -> LedgerHead {
        guard let bytes = try txn.get(meta, key: LedgerLayout.headKey) else { return .empty }
        return try LedgerHead.decode(bytes)
    }

    /// The chain hash stored in the record at `seq`, read without decoding the event.
    func chainHash(at seq: UInt64, in txn: borrowing LMDBTransaction) throws -> ChainHash? {
        if seq == 0 { return .genesis }
        guard let bytes = try txn.get(events, key: LedgerLayout.seqKey(seq)) else { return nil }
        return try? StoredRecord.parts(bytes).storedHash
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

extension LedgerLayout {
    /// Visits stored records in seq order from `from` through `through` (inclusive) in `txn`,
    /// until `body` returns false; see ``LedgerSnapshot/forEachRecord(from:through:_:)``.
    func forEachRecord(in txn: borrowing LMDBTransaction, from: UInt64, through: UInt64,
                       _ body: (_ seq: UInt64, _ record: UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        try txn.withCursor(events) { cursor in
            var visited = 0
            var entry = try cursor.seek(atLeast: LedgerLayout.seqKey(from))
            while let (key, value) = entry {
                guard let seq = LedgerLayout.seq(fromKey: key) else {
                    throw LedgerError(.corruptRecord, "events key of \(key.count) bytes")
                }
                if seq > through { break }
                visited += 1
                if try !body(seq, value) { break }
                entry = try cursor.next()
            }
            return visited
        }
    }
}
