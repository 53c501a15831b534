/// A consistent read-only view of a ledger, lent to a closure by ``Ledger/read(_:)``.
///
/// Everything it returns is copied out of the map, except the raw record buffers handed to
/// ``forEachRecord(from:through:_:)``'s closure, which are valid only during the call.
public struct LedgerSnapshot: ~Copyable {
    let txn: LMDBTransaction
    let layout: LedgerLayout
    let state: SnapshotState
    private let headAtSnapshot: LedgerHead

    init(log txn: borrowing LMDBTransaction, layout: LedgerLayout, head: LedgerHead, state: SnapshotState) {
        // The snapshot borrows the transactions for the closure's duration only; copying the
        // handles into a non-copyable wrapper that cannot escape keeps that true.
        self.txn = LMDBTransaction(handle: txn.handle, readOnly: txn.isReadOnly)
        self.layout = layout
        self.headAtSnapshot = head
        self.state = state
    }

    /// The last event the snapshot's head state reflects. Records after it may be visible
    /// through ``forEachRecord(from:through:_:)`` (committed, not yet published); bound reads by it.
    public func head() throws -> LedgerHead {
        headAtSnapshot
    }

    /// The conversation's state; an unknown key is version 0 with no session.
    public func conversation(_ key: String) throws -> ConversationState {
        try state.view().conversation(key) ?? ConversationState(key: key)
    }

    public func session(_ id: String) throws -> SessionRecord? {
        try state.view().session(id)
    }

    /// The owner's state; an unknown owner is at epoch 0.
    public func owner(_ name: String) throws -> OwnerState {
        try state.view().owner(name) ?? OwnerState(name: name)
    }

    /// Keys of conversations with a current session owned by `owner` (nil: by anyone), sorted.
    public func liveKeys(owner: String?) throws -> [String] {
        try state.view().liveKeys(owner: owner)
    }

    /// The raw stored record at `seq`, copied.
    public func record(_ seq: UInt64) throws -> [UInt8]? {
        try txn.get(layout.events, key: LedgerLayout.seqKey(seq)).map { Array($0) }
    }

    /// The event at `seq`, checksum verified.
    public func event(_ seq: UInt64) throws -> Event? {
        try loggedEvent(seq)?.event
    }

    /// The event at `seq` with the chain hash the log stores for it, checksum verified.
    public func loggedEvent(_ seq: UInt64) throws -> LoggedEvent? {
        guard let bytes = try txn.get(layout.events, key: LedgerLayout.seqKey(seq)) else { return nil }
        return try LoggedEvent(seq: seq, record: bytes)
    }

    /// Visits stored records in seq order from `from` through `through` (inclusive), handing
    /// each one's seq (from the LMDB key) and raw bytes to `body` until it returns false.
    ///
    /// - Returns: the number of records visited.
    @discardableResult
    public func forEachRecord(from: UInt64 = 1, through: UInt64 = .max,
                              _ body: (_ seq: UInt64, _ record: UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        try layout.forEachRecord(in: txn, from: from, through: through, body)
    }

    /// Seqs of a conversation's events, in order, starting at seq `from`.
    public func seqs(forKey key: String, from: UInt64 = 1) throws -> [UInt64] {
        try state.view().seqs(forKey: key, from: from)
    }

    /// A page of a conversation's history: its events after seq `after`, in order, each with
    /// the chain hash the log stores for it, at most `limit` of them.
    ///
    /// Read from the log through the head state's index of each conversation's events, so it
    /// holds every event up to the snapshot's ``head()``: current the moment a write is answered.
    ///
    /// - Throws: ``LedgerError/Code/corruptRecord`` when an indexed event is missing from the
    ///   log or fails its checksum.
    public func history(key: String, after: UInt64 = 0, limit: Int = .max) throws -> [LoggedEvent] {
        guard after < .max else { return [] }
        return try state.view().seqs(forKey: key, from: after + 1, limit: limit).map { seq in
            guard let logged = try loggedEvent(seq) else {
                throw LedgerError(.corruptRecord, "seq \(seq) is indexed as an event of '\(key)' but the log has no record there")
            }
            return logged
        }
    }

    /// Visits every conversation's head state.
    public func forEachConversation(_ body: (ConversationState) throws -> Void) throws {
        try state.view().forEachConversation(body)
    }

    /// Visits every session record.
    public func forEachSession(_ body: (String, SessionRecord) throws -> Void) throws {
        try state.view().forEachSession(body)
    }

    /// Visits every owner.
    public func forEachOwner(_ body: (OwnerState) throws -> Void) throws {
        try state.view().forEachOwner(body)
    }

    /// Number of conversations ever written (a full scan of the conversations).
    public func conversationCount() throws -> Int {
        var count = 0
        try forEachConversation { _ in count += 1 }
        return count
    }
}
