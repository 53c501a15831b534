import GRDB
import Ledger

/// The `sessions` table: one row per conversation.
enum ConversationRows {
    static let columns = "key, session_id, version, owner, epoch, env_host, env_volume, env_cwd, env_provider, created_at, updated_at, last_seq, digest"
    static let upsertSQL = """
        INSERT OR REPLACE INTO sessions (key, state, session_id, version, owner, epoch, env_host, env_volume, env_cwd, env_provider, created_at, updated_at, last_seq, digest)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let selectByKeySQL = "SELECT \(columns) FROM sessions WHERE key = ?"

    static func upsert(_ state: ConversationState, in db: Database) throws {
        try upsert(state, with: SQLiteAccess(db, upsertSQL))
    }

    static func upsert(_ state: ConversationState, with access: SQLiteAccess) throws {
        access.begin()
        access.bind(1, state.key)
        access.bind(2, state.isActive ? "active" : "none")
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
        return state
    }
}
