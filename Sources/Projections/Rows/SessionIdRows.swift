import GRDB
import Ledger

/// The `session_ids` table: every session ID seen, with how and when it ended.
enum SessionIdRows {
    static let upsertSQL = "INSERT OR REPLACE INTO session_ids (session_id, key, ended_seq, ended_by, digest) VALUES (?, ?, ?, ?, ?)"
    static let selectSQL = "SELECT session_id, key, ended_seq, ended_by, digest FROM session_ids WHERE session_id = ?"

    static func upsert(_ id: String, _ record: SessionRecord, in db: Database) throws {
        try upsert(id, record, with: SQLiteAccess(db, upsertSQL))
    }

    static func upsert(_ id: String, _ record: SessionRecord, with access: SQLiteAccess) throws {
        access.begin()
        access.bind(1, id)
        access.bind(2, record.key)
        access.bind(3, record.endedSeq)
        access.bind(4, record.endedBy?.name)
        access.bind(5, RowDigest.of(id, record))
        try access.run()
    }

    static func find(_ id: String, in db: Database) throws -> SessionRecord? {
        try find(id, with: SQLiteAccess(db, selectSQL))
    }

    static func find(_ id: String, with access: SQLiteAccess) throws -> SessionRecord? {
        access.begin()
        defer { access.reset() }
        access.bind(1, id)
        guard try access.step() else { return nil }
        return try decode(access).1
    }

    static func decode(_ access: SQLiteAccess) throws -> (String, SessionRecord) {
        let id = access.string(0) ?? ""
        let record = SessionRecord(key: access.string(1) ?? "", endedSeq: access.uint64(2) ?? 0,
                                   endedBy: access.string(3).flatMap(EventType.init(name:)))
        guard access.int64(4) == RowDigest.of(id, record) else {
            throw ProjectionError(.damaged, "session_ids row '\(id)' does not match its digest (edited outside ledgerd?)")
        }
        return (id, record)
    }
}
