import GRDB
import Ledger

/// Folds log records into the projection's tables, strictly in order, inside the caller's
/// SQLite transaction, so rows and checkpoint always change together.
///
/// Each record must be the one right after the checkpoint (no gap, no double apply), must pass
/// its checksum, and must chain from the checkpoint's hash: the projection follows exactly the
/// log it was built from. Events are folded with ``SessionMachine/apply(_:to:)``, the ledger's
/// own state machine, so an event that would make a dead session current is refused here too,
/// whatever log the projector is handed.
///
/// Entities are loaded from SQLite at most once per batch, folded in memory, and written back
/// once at the end of the batch; transition rows are inserted as they come.
struct Projector {
    private let db: Database
    /// When true the tables are known to be empty (a rebuild): nothing is looked up.
    private let startsEmpty: Bool
    private(set) var checkpoint: Checkpoint
    private var state = LedgerState()
    private var loaded = LedgerState()
    private var probedKeys = Set<String>()
    private var probedSessions = Set<String>()
    private var probedOwners = Set<String>()

    init(db: Database, startsEmpty: Bool = false) throws {
        self.db = db
        self.startsEmpty = startsEmpty
        checkpoint = try CheckpointRow.read(db)
    }

    /// Folds one stored record.
    ///
    /// - Parameters:
    ///   - seq: the seq the log stores it under.
    ///   - record: its stored bytes.
    /// - Throws: ``ProjectionError`` `.outOfOrder` for a gap or a double apply, `.refused` for a
    ///   record that does not follow the chain or would break an invariant.
    mutating func apply(seq: UInt64, record: UnsafeRawBufferPointer) throws {
        guard seq == checkpoint.seq + 1 else {
            let what = seq <= checkpoint.seq ? "already applied" : "a gap: seq \(checkpoint.seq + 1) comes first"
            throw ProjectionError(.outOfOrder, "seq \(seq) refused at checkpoint \(checkpoint.seq): \(what)")
        }
        let parts: StoredRecord.Parts
        let event: Event
        do {
            parts = try StoredRecord.parts(record)
            guard parts.checksumMatches else { throw DecodingError("checksum mismatch") }
            event = try EventCodec.decode(parts.body)
        } catch let error as DecodingError {
            throw ProjectionError(.refused, "seq \(seq) cannot be decoded: \(error.message)")
        }
        guard event.seq == seq else {
            throw ProjectionError(.refused, "the record stored as seq \(seq) says it is seq \(event.seq)")
        }
        let hash = ChainHash.link(after: checkpoint.hash, stored: parts.hashed)
        guard hash == parts.storedHash else {
            throw ProjectionError(.refused, "seq \(seq) does not chain from the checkpoint's hash: not the log this projection follows")
        }
        try load(event.needs)
        do {
            try SessionMachine.apply(event, to: &state)
        } catch {
            throw ProjectionError(.refused, "seq \(seq) refused: \(error)")
        }
        try TransitionRows.insert(event, hash: hash, checksum: parts.storedChecksum, in: db)
        checkpoint = Checkpoint(seq: seq, hash: hash)
    }

    /// Writes back every entity the batch changed, and the checkpoint.
    mutating func finish() throws {
        for (key, conversation) in state.conversations where loaded.conversations[key] != conversation {
            try ConversationRows.upsert(conversation, in: db)
        }
        for (id, record) in state.sessions where loaded.sessions[id] != record {
            try SessionIdRows.upsert(id, record, in: db)
        }
        for (name, owner) in state.owners where loaded.owners[name] != owner {
            try OwnerRows.upsert(owner, in: db)
        }
        try CheckpointRow.write(checkpoint, in: db)
        loaded = state
    }

    /// Brings into `state` what the event needs and has not been looked up in this batch yet.
    private mutating func load(_ needs: StateNeeds) throws {
        if startsEmpty { return }
        for key in needs.keys where probedKeys.insert(key).inserted {
            if let conversation = try ConversationRows.find(key, in: db) {
                state.conversations[key] = conversation
                loaded.conversations[key] = conversation
                if let id = conversation.sessionId { try loadSession(id) }
            }
        }
        for id in needs.sessions { try loadSession(id) }
        for name in needs.owners where probedOwners.insert(name).inserted {
            if let owner = try OwnerRows.find(name, in: db) {
                state.owners[name] = owner
                loaded.owners[name] = owner
            }
        }
    }

    private mutating func loadSession(_ id: String) throws {
        guard probedSessions.insert(id).inserted else { return }
        if let record = try SessionIdRows.find(id, in: db) {
            state.sessions[id] = record
            loaded.sessions[id] = record
        }
    }
}
