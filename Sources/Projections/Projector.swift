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
    /// Writes a batch the ledger just committed, from the entities the ledger's own state machine
    /// computed for it (``AppendResult/changed``), so the batch need not be folded a second time.
    /// The events must follow `checkpoint` seq by seq and link by link of the hash chain.
    ///
    /// - Returns: the new checkpoint.
    /// - Throws: ``ProjectionError`` `.outOfOrder` or `.refused` when they do not follow.
    func write(committed batches: [[CommittedEvent]], changed: LedgerState, after checkpoint: Checkpoint) throws -> Checkpoint {
        var reached = checkpoint
        let middle = batches.reduce(0) { $0 + $1.count } / 2
        var index = 0
        for batch in batches {
            for committed in batch {
                let event = committed.event
                guard event.seq == reached.seq + 1 else {
                    throw ProjectionError(.outOfOrder, "seq \(event.seq) refused at checkpoint \(reached.seq)")
                }
                let checksum = try committed.stored.withUnsafeBytes { bytes in
                    let parts = try StoredRecord.parts(bytes)
                    guard ChainHash.link(after: reached.hash, stored: parts.hashed) == committed.hash, parts.storedHash == committed.hash else {
                        throw ProjectionError(.refused, "seq \(event.seq) does not chain from the checkpoint's hash: not the log this projection follows")
                    }
                    return parts.storedChecksum
                }
                try TransitionRows.insert(event, hash: committed.hash, checksum: checksum, with: insertTransition)
                reached = Checkpoint(seq: event.seq, hash: committed.hash, time: event.time)
                if index == middle { Failpoint.midProjection.check() }
                index += 1
            }
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
                    state.conversations[key] = conversation
                    if let id = conversation.sessionId { try loadSession(id, &state, &probed) }
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
