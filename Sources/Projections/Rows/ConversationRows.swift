import GRDB
import Ledger

/// The `sessions` table: one row per conversation.
enum ConversationRows {
    static let columns = "key, session_id, version, owner, epoch, env_host, env_volume, env_cwd, env_provider, created_at, updated_at, last_seq, digest, state"
    static let upsertSQL = """
        INSERT OR REPLACE INTO sessions (key, state, session_id, version, owner, epoch, env_host, env_volume, env_cwd, env_provider, created_at, updated_at, last_seq, digest)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    /// Rewrites a row whose indexed columns (state, owner) stay as they were. SQLite maintains an
    /// index on UPDATE only when the statement sets one of its columns, so a resume (most of a
    /// turn mix) dirties one page here instead of three with `INSERT OR REPLACE`, which deletes
    /// and reinserts every index entry even when it does not change.
    static let updateInPlaceSQL = """
        UPDATE sessions SET session_id = ?, version = ?, epoch = ?, env_host = ?, env_volume = ?, env_cwd = ?, env_provider = ?,
            created_at = ?, updated_at = ?, last_seq = ?, digest = ?
        WHERE key = ? AND state = ? AND owner IS ?
        """
    static let selectByKeySQL = "SELECT \(columns) FROM sessions WHERE key = ?"

    /// The `state` column: derived from whether the conversation has a current session.
    static func stateName(_ state: ConversationState) -> String {
        state.isActive ? "active" : "none"
    }

    static func upsert(_ state: ConversationState, in db: Database) throws {
        try upsert(state, with: SQLiteAccess(db, upsertSQL))
    }

    static func upsert(_ state: ConversationState, with access: SQLiteAccess) throws {
        access.begin()
        access.bind(1, state.key)
        access.bind(2, stateName(state))
        access.bind(3, state.sessionId)
        access.bind(4, state.version)
        access.bind(5, state.owner)
        access.bind(6, state.epoch)
        access.bind(7, environment: state.environment)
        access.bind(11, state.createdAt)
        access.bind(12, state.updatedAt)
        access.bind(13, state.lastSeq)
        access.bind(14, RowDigest.of(state))
        try access.run()
    }

    /// Writes `state` in place when its row exists with the same state and owner (the indexes
    /// keep their entries), and with ``upsert(_:with:)`` otherwise.
    static func write(_ state: ConversationState, updatingWith update: SQLiteAccess, upsertingWith upsert: SQLiteAccess) throws {
        update.begin()
        update.bind(1, state.sessionId)
        update.bind(2, state.version)
        update.bind(3, state.epoch)
        update.bind(4, environment: state.environment)
        update.bind(8, state.createdAt)
        update.bind(9, state.updatedAt)
        update.bind(10, state.lastSeq)
        update.bind(11, RowDigest.of(state))
        update.bind(12, state.key)
        update.bind(13, stateName(state))
        update.bind(14, state.owner)
        try update.run()
        if update.changes == 0 { try Self.upsert(state, with: upsert) }
    }

    /// The conversation stored under `key`, or nil when there is no row.
    ///
    /// - Throws: ``ProjectionError/Code/damaged`` when the row does not match its digest.
    static func find(_ key: String, in db: Database) throws -> ConversationState? {
        try find(key, with: SQLiteAccess(db, selectByKeySQL))
    }

    static func find(_ key: String, with access: SQLiteAccess) throws -> ConversationState? {
        access.begin()
        defer { access.reset() }
        access.bind(1, key)
        guard try access.step() else { return nil }
        return try decode(access)
    }

    /// Decodes the row under the cursor (columns in ``columns`` order) and checks its digest.
    static func decode(_ access: SQLiteAccess) throws -> ConversationState {
        let key = access.string(0) ?? ""
        let state = ConversationState(
            key: key, version: access.uint64(2) ?? 0, sessionId: access.string(1), owner: access.string(3),
            epoch: access.uint64(4), environment: access.environment(5), createdAt: access.int64(9) ?? 0,
            updatedAt: access.int64(10) ?? 0, lastSeq: access.uint64(11) ?? 0)
        guard access.int64(12) == RowDigest.of(state) else {
            throw ProjectionError(.damaged, "sessions row '\(key)' does not match its digest (edited outside ledgerd?)")
        }
        // `state` is derived from the session (so outside the digest) but is what listings by
        // state filter on: a value that disagrees would list the row where it does not belong.
        let stateColumn = access.string(13)
        guard stateColumn == stateName(state) else {
            throw ProjectionError(.damaged, "sessions row '\(key)' has state '\(stateColumn ?? "NULL")' but its session says otherwise (edited outside ledgerd?)")
        }
        return state
    }
}
