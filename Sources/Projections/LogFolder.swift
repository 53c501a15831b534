import Ledger

/// An event folded from a stored record, with what its transition row needs.
struct FoldedEvent: Sendable {
    var event: Event
    var hash: ChainHash
    var checksum: UInt32
    /// Session records this event ended, when the folder emits them (a rebuild): an ended
    /// record never changes again, so its row can be written right away.
    var endedSessions: [(String, SessionRecord)] = []
}

/// The checked fold of log records, with no SQLite in it: each record must be the one right
/// after the checkpoint, pass its checksum, chain from the checkpoint's hash, and fold through
/// ``SessionMachine/apply(_:to:)`` (the ledger's own state machine) without breaking an
/// invariant. Entities are looked up through `load` the first time an event needs them.
struct LogFolder {
    /// Looks up what an event needs and is not in ``state`` yet (nil: nothing to look up).
    typealias Loader = (StateNeeds, inout LedgerState, inout Probed) throws -> Void

    /// Identifiers already looked up, so each is looked up once per batch.
    struct Probed {
        var keys = Set<String>()
        var sessions = Set<String>()
        var owners = Set<String>()
    }

    private(set) var checkpoint: Checkpoint
    /// The entities folded so far, and as they were loaded (to write back only what changed).
    private(set) var state = LedgerState()
    var loaded = LedgerState()
    private var probed = Probed()
    private let load: Loader?
    /// Whether ended session records leave with the event that ended them.
    private let emitsEndedSessions: Bool

    /// - Parameters:
    ///   - checkpoint: where the fold starts (seq, hash and the time of that event).
    ///   - load: looks up entities not folded yet; nil when the fold starts from nothing.
    ///   - emitsEndedSessions: hand ended session records out with their event (see ``FoldedEvent``).
    init(checkpoint: Checkpoint, load: Loader?, emitsEndedSessions: Bool = false) {
        self.checkpoint = checkpoint
        self.load = load
        self.emitsEndedSessions = emitsEndedSessions
    }

    /// Sizes the fold's tables before a fold from nothing: see
    /// ``LedgerState/reserveCapacity(conversations:sessions:)``.
    mutating func reserveCapacity(conversations: Int, sessions: Int) {
        state.reserveCapacity(conversations: conversations, sessions: sessions)
    }

    /// Checks and folds one stored record.
    ///
    /// - Throws: ``ProjectionError`` `.outOfOrder` for a gap or a double apply, `.refused` for a
    ///   record that does not decode, does not chain, or would break an invariant.
    mutating func fold(seq: UInt64, record: UnsafeRawBufferPointer) throws -> FoldedEvent {
        guard seq == checkpoint.seq + 1 else {
            let what = seq <= checkpoint.seq ? "already applied" : "a gap: seq \(checkpoint.seq + 1) comes first"
            throw ProjectionError(.outOfOrder, "seq \(seq) refused at checkpoint \(checkpoint.seq): \(what)")
        }
        let (event, hash, checksum) = try Self.checkedEvent(seq: seq, record: record, after: checkpoint.hash)
        // Time order is seq order: the time queries rely on it (see ProjectionQueries.events(since:)).
        guard event.time >= checkpoint.time else {
            throw ProjectionError(.refused, "seq \(seq) goes back in time (\(event.time) after \(checkpoint.time))")
        }
        if let load {
            var loadedNow = LedgerState()
            try load(event.needs, &loadedNow, &probed)
            // What the fold holds already may be newer than the store's copy, and wins (a
            // conversation brings its current session's record, which may be held already).
            for (key, value) in loadedNow.conversations where state.conversations[key] == nil {
                state.conversations[key] = value; loaded.conversations[key] = value
            }
            for (id, value) in loadedNow.sessions where state.sessions[id] == nil { state.sessions[id] = value; loaded.sessions[id] = value }
            for (name, value) in loadedNow.owners where state.owners[name] == nil { state.owners[name] = value; loaded.owners[name] = value }
        }
        do {
            try SessionMachine.apply(event, to: &state)
        } catch {
            throw ProjectionError(.refused, "seq \(seq) refused: \(error)")
        }
        checkpoint = Checkpoint(seq: seq, hash: hash, time: event.time)
        var folded = FoldedEvent(event: event, hash: hash, checksum: checksum)
        if emitsEndedSessions {
            for id in [event.sessionId, event.reportedSessionId, event.supersedes] {
                if let id, let record = state.sessions[id], record.endedSeq == seq, !folded.endedSessions.contains(where: { $0.0 == id }) {
                    folded.endedSessions.append((id, record))
                }
            }
        }
        return folded
    }

    /// Decodes the stored record at `seq` and checks it: its checksum, the seq it names, and its
    /// link in the hash chain from `previous` (the hash of the event before it).
    ///
    /// - Returns: the event, its chain hash and the checksum the log stores for it.
    /// - Throws: ``ProjectionError`` `.refused` for a record that fails any of these.
    static func checkedEvent(seq: UInt64, record: UnsafeRawBufferPointer, after previous: ChainHash) throws -> (Event, ChainHash, UInt32) {
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
        guard ChainHash.link(after: previous, stored: parts.hashed) == parts.storedHash else {
            throw ProjectionError(.refused, "seq \(seq) does not chain from the checkpoint's hash: not the log this projection follows")
        }
        return (event, parts.storedHash, parts.storedChecksum)
    }

    /// Hands out the entities that changed since they were loaded (minus ended sessions already
    /// handed out), each kind in identifier order: rows inserted in key order fill B-tree pages
    /// instead of splitting them.
    ///
    /// Only the identifiers are sorted, and each entity is read from the fold's state as it is
    /// handed out: a rebuild over a million keys would otherwise hold a second, sorted copy of
    /// every conversation at its peak.
    func forEachChange(conversation: (ConversationState) throws -> Void,
                       session: (String, SessionRecord) throws -> Void,
                       owner: (OwnerState) throws -> Void) rethrows {
        var keys = state.conversations.compactMap { key, value in loaded.conversations[key] != value ? key : nil }
        keys.sort()
        for key in keys { try conversation(state.conversations[key]!) }
        keys = []
        var ids = state.sessions.compactMap { id, record in
            loaded.sessions[id] != record && !(emitsEndedSessions && !record.isLive) ? id : nil
        }
        ids.sort()
        for id in ids { try session(id, state.sessions[id]!) }
        ids = []
        var names = state.owners.compactMap { name, value in loaded.owners[name] != value ? name : nil }
        names.sort()
        for name in names { try owner(state.owners[name]!) }
    }
}
