import Crypto

/// The named LMDB databases of the state environment (`<ledger>/state`) and how their keys are
/// built. Everything here is derived from the log and can be rebuilt from it.
///
/// | database      | key                                   | value |
/// |---------------|---------------------------------------|-------|
/// | conversations | key ‖ 0xFF                            | ``StateCodec`` conversation |
/// |               | key ‖ 0x01 ‖ seq (8 bytes big-endian) | empty: the conversation's events, in order |
/// | sessions      | session ID                            | ``StateCodec`` session record |
/// | owners        | owner name                            | ``StateCodec`` owner |
/// | live          | 0x01 ‖ hash8(owner) ‖ key, or 0x00 ‖ key | empty: a conversation with a current session |
/// | meta          | "format", "applied"                   | format tag; seq + chain hash of the last event folded in |
///
/// `applied` names the log position the environment reflects, by seq and by that event's chain
/// hash, so a state environment beside a different log (a restored backup, an import into a
/// reused directory) is recognised and rebuilt instead of trusted.
///
/// A conversation's state and its newest index entries sort next to each other
/// (0x01 ‖ seq < 0xFF), so a write-back dirties one page for both. Keys are printable UTF-8,
/// which never contains 0x00, 0x01 or 0xFF, so the separators are unambiguous. The owner is
/// hashed in the live index so that key sizes stay within LMDB's 511 bytes (a hash collision
/// only means a candidate key is loaded and then filtered by its owner).
struct StateLayout {
    static let formatTag: [UInt8] = Array("ledger-state/1".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)
    static let appliedKey: [UInt8] = Array("applied".utf8)
    static let indexSeparator: UInt8 = 0x01
    static let stateSuffix: UInt8 = 0xFF

    let conversations: LMDBDatabase
    let sessions: LMDBDatabase
    let owners: LMDBDatabase
    let live: LMDBDatabase
    let meta: LMDBDatabase

    init(environment: LMDBEnvironment) throws {
        conversations = try environment.database(named: "conversations")
        sessions = try environment.database(named: "sessions")
        owners = try environment.database(named: "owners")
        live = try environment.database(named: "live")
        meta = try environment.database(named: "meta")
    }

    /// The log position the environment reflects; seq 0 with the genesis hash when empty.
    func applied(in txn: borrowing LMDBTransaction) throws -> AppliedPosition {
        guard let bytes = try txn.get(meta, key: StateLayout.appliedKey) else { return .empty }
        guard bytes.count == 40, let hash = ChainHash(bytes: UnsafeRawBufferPointer(rebasing: bytes[8..<40])) else {
            throw LedgerError(.incompatibleFormat, "the state environment's applied record is \(bytes.count) bytes")
        }
        return AppliedPosition(seq: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)), hash: hash)
    }

    func setApplied(_ position: AppliedPosition, in txn: borrowing LMDBTransaction) throws {
        var w = ByteWriter(capacity: 40)
        w.uint64BE(position.seq)
        position.hash.withBytes { w.raw($0) }
        try txn.put(meta, key: StateLayout.appliedKey, value: w.bytes)
    }

    /// `key ‖ 0xFF`: where a conversation's state is stored.
    static func stateKey(_ key: String) -> [UInt8] {
        Array(key.utf8) + [stateSuffix]
    }

    /// Lends ``stateKey(_:)`` to `body` from the stack: the writer looks a conversation up by
    /// it for most commands, and two arrays per lookup showed in its profile.
    static func withStateKey<R>(_ key: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var key = key
        return try key.withUTF8 { utf8 in
            try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: utf8.count + 1) { buffer in
                _ = buffer.initialize(fromContentsOf: utf8)
                buffer[utf8.count] = stateSuffix
                return try body(UnsafeRawBufferPointer(buffer))
            }
        }
    }

    /// Lends the UTF-8 bytes of a name (a session ID, an owner) to `body` as an LMDB key,
    /// without copying them into an array first.
    static func withNameKey<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var name = name
        return try name.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }

    /// `key ‖ 0x01`: the prefix of a conversation's index entries.
    static func indexPrefix(_ key: String) -> [UInt8] {
        Array(key.utf8) + [indexSeparator]
    }

    /// `key ‖ 0x01 ‖ seq`: one index entry.
    static func indexKey(_ key: String, _ seq: UInt64) -> [UInt8] {
        indexPrefix(key) + LedgerLayout.seqKey(seq)
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
           let seq = LedgerLayout.seq(fromKey: UnsafeRawBufferPointer(rebasing: bytes[(split + 1)...])) {
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

/// A position in the log, by seq and by the chain hash of the event at that seq.
struct AppliedPosition: Sendable, Hashable {
    var seq: UInt64
    var hash: ChainHash

    static let empty = AppliedPosition(seq: 0, hash: .genesis)
}
