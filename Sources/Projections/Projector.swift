import GRDB
import Ledger

/// Writes what a ``LogFolder`` folds into the projection's tables, inside the caller's SQLite
/// transaction, so rows and checkpoint always change together.
struct ProjectionWriter {
    private let insertTransition: SQLiteAccess
    private let upsertConversation: SQLiteAccess
    private let updateConversation: SQLiteAccess
    private let upsertSessionId: SQLiteAccess
    private let upsertOwner: SQLiteAccess
    private let db: Database

    init(_ db: Database) throws {
        self.db = db
        insertTransition = try SQLiteAccess(db, TransitionRows.insertSQL)
        upsertConversation = try SQLiteAccess(db, ConversationRows.upsertSQL)
        updateConversation = try SQLiteAccess(db, ConversationRows.updateInPlaceSQL)
        upsertSessionId = try SQLiteAccess(db, SessionIdRows.upsertSQL)
        upsertOwner = try SQLiteAccess(db, OwnerRows.upsertSQL)
    }

    func insert(_ folded: FoldedEvent) throws {
        try TransitionRows.insert(folded.event, hash: folded.hash, checksum: folded.checksum, with: insertTransition)
        for (id, record) in folded.endedSessions { try SessionIdRows.upsert(id, record, with: upsertSessionId) }
    }

    /// Writes back the entities the fold changed, then the checkpoint.
    func finish(_ folder: LogFolder) throws {
        try folder.forEachChange(
            conversation: { try ConversationRows.upsert($0, with: upsertConversation) },
            session: { try SessionIdRows.upsert($0, $1, with: upsertSessionId) },
            owner: { try OwnerRows.upsert($0, with: upsertOwner) })
        try CheckpointRow.write(folder.checkpoint, in: db)
    }
}

extension ProjectionWriter {
    /// Writes events the ledger just committed, read back from its log, with the rows of the
    /// entities its own state machine computed for them (``AppendResult/changed``), so the
    /// events need not be folded a second time. The records from the checkpoint's next seq
    /// through `last` must follow the checkpoint link by link of the hash chain.
    ///
    /// Read from the log rather than handed over in memory: events waiting for the projection
    /// then cost the writer nothing but their changes, however long they wait (see
    /// `GroupCommitter`).
    ///
    /// - Returns: the new checkpoint.
    /// - Throws: ``ProjectionError`` `.outOfOrder` when the log has no record for a seq through
    ///   `last`, `.refused` when a record does not decode or does not chain.
    func write(from log: Ledger, through last: UInt64, changed: LedgerState, after checkpoint: Checkpoint) throws -> Checkpoint {
        var reached = checkpoint
        let middle = checkpoint.seq + (last - checkpoint.seq + 1) / 2
        try log.forEachRecord(from: checkpoint.seq + 1, through: last) { seq, record in
            guard seq == reached.seq + 1 else {
                throw ProjectionError(.outOfOrder, "the log has no record at seq \(reached.seq + 1)")
            }
            let (event, hash, checksum) = try LogFolder.checkedEvent(seq: seq, record: record, after: reached.hash)
            try TransitionRows.insert(event, hash: hash, checksum: checksum, with: insertTransition)
            reached = Checkpoint(seq: seq, hash: hash, time: event.time)
            if seq == middle { Failpoint.midProjection.check() }
            return true
        }
        guard reached.seq == last else {
            throw ProjectionError(.outOfOrder, "the log ends at seq \(reached.seq), before seq \(last)")
        }
        // In key order: rows written in order fill B-tree pages instead of splitting them.
        for key in changed.conversations.keys.sorted() {
            try ConversationRows.write(changed.conversations[key]!, updatingWith: updateConversation, upsertingWith: upsertConversation)
        }
        for id in changed.sessions.keys.sorted() { try SessionIdRows.upsert(id, changed.sessions[id]!, with: upsertSessionId) }
        for name in changed.owners.keys.sorted() { try OwnerRows.upsert(changed.owners[name]!, with: upsertOwner) }
        try CheckpointRow.write(reached, in: db)
        return reached
    }
}

/// Folds log records into a live projection, strictly in order, within one SQLite transaction:
/// a ``LogFolder`` that looks entities up in the projection's own tables (each at most once per
/// batch), and a ``ProjectionWriter``.
struct Projector {
    private(set) var folder: LogFolder
    private let writer: ProjectionWriter

    init(db: Database) throws {
        let findConversation = try SQLiteAccess(db, ConversationRows.selectByKeySQL)
        let findSessionId = try SQLiteAccess(db, SessionIdRows.selectSQL)
        let findOwner = try SQLiteAccess(db, OwnerRows.selectSQL)
        func loadSession(_ id: String, _ state: inout LedgerState, _ probed: inout LogFolder.Probed) throws {
            guard probed.sessions.insert(id).inserted else { return }
            if let record = try SessionIdRows.find(id, with: findSessionId) { state.sessions[id] = record }
        }
        folder = LogFolder(checkpoint: try CheckpointRow.read(db)) { needs, state, probed in
            for key in needs.keys where probed.keys.insert(key).inserted {
                if let conversation = try ConversationRows.find(key, with: findConversation) {
                    state.hold(loaded: conversation)
                    if let id = conversation.sessionId { probed.sessions.insert(id) }
                }
            }
            for id in needs.sessions { try loadSession(id, &state, &probed) }
            for name in needs.owners where probed.owners.insert(name).inserted {
                if let owner = try OwnerRows.find(name, with: findOwner) { state.owners[name] = owner }
            }
        }
        writer = try ProjectionWriter(db)
    }

    var checkpoint: Checkpoint { folder.checkpoint }

    /// Folds one stored record and inserts its transition row.
    mutating func apply(seq: UInt64, record: UnsafeRawBufferPointer) throws {
        try writer.insert(try folder.fold(seq: seq, record: record))
    }

    /// Writes back the changed entities and the checkpoint.
    func finish() throws {
        try writer.finish(folder)
    }
}
