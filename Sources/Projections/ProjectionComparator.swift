import GRDB
import Ledger

/// A difference between the projection and a fresh fold of the log.
public struct ProjectionMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    /// The table, and the key, session ID, owner or seq of the first row that differs.
    public var table: String
    public var row: String
    public var message: String

    public init(table: String, row: String, message: String) {
        self.table = table
        self.row = row
        self.message = message
    }

    public var description: String { "\(table) row \(row): \(message)" }
}

/// Compares a projection row by row with a fresh fold of the log up to its checkpoint.
public enum ProjectionComparator {
    /// Folds the log (checksums, chain and invariants checked on the way) up to the projection's
    /// checkpoint, inside one read transaction of the projection, and compares every row.
    ///
    /// - Parameter fold: a fold of the log the caller already has (state and the seq it reaches),
    ///   used when it reaches exactly the checkpoint instead of folding again.
    /// - Returns: the first mismatch, or nil when the projection equals the fold.
    /// - Throws: ``VerifyProblem`` when the log itself does not verify up to the checkpoint.
    public static func compare(_ pool: DatabasePool, with ledger: Ledger, fold: (state: LedgerState, seq: UInt64)? = nil,
                               progress: ((UInt64, UInt64) -> Void)? = nil) throws -> ProjectionMismatch? {
        try pool.read { db in
            let checkpoint = try CheckpointRow.read(db)
            let state: LedgerState
            if let fold, fold.seq == checkpoint.seq {
                state = fold.state
            } else {
                var checker = ChainChecker(foldingAllOf: ledger)
                _ = try ledger.read { snapshot in
                    try snapshot.forEachRecord(from: 1, through: checkpoint.seq) { seq, record in
                        if let problem = checker.check(seq: seq, record: record) { throw problem }
                        if seq % 65_536 == 0 { progress?(seq, checkpoint.seq) }
                        return true
                    }
                }
                if checker.expected - 1 != checkpoint.seq {
                    return ProjectionMismatch(table: "checkpoint", row: "\(checkpoint.seq)", message: "the log ends at seq \(checker.expected - 1)")
                }
                state = checker.state
            }
            return try compareState(db, with: state) ?? compareTransitions(db, through: checkpoint.seq, ledger: ledger)
        }
    }

    static func compareState(_ db: Database, with state: LedgerState) throws -> ProjectionMismatch? {
        var count = 0
        let sessions = try db.makeStatement(sql: "SELECT \(ConversationRows.columns) FROM sessions ORDER BY key")
        let access = SQLiteAccess(sessions)
        defer { access.reset() }
        while try access.step() {
            count += 1
            let row: ConversationState
            do { row = try ConversationRows.decode(access) } catch let error as ProjectionError {
                return ProjectionMismatch(table: "sessions", row: access.string(0) ?? "?", message: error.message)
            }
            if state.conversations[row.key] != row {
                let folded = state.conversations[row.key]
                return ProjectionMismatch(table: "sessions", row: row.key,
                                          message: "holds version \(row.version) with \(row.sessionId ?? "no session"); the log folds to " +
                                              (folded.map { "version \($0.version) with \($0.sessionId ?? "no session")" } ?? "no such conversation"))
            }
        }
        if count != state.conversations.count {
            let missing = state.conversations.keys.sorted().first { key in (try? ConversationRows.find(key, in: db)) == nil } ?? "?"
            return ProjectionMismatch(table: "sessions", row: missing, message: "\(count) rows for \(state.conversations.count) conversations in the log")
        }

        count = 0
        let ids = SQLiteAccess(try db.makeStatement(sql: "SELECT session_id, key, ended_seq, ended_by, digest FROM session_ids ORDER BY session_id"))
        defer { ids.reset() }
        while try ids.step() {
            count += 1
            let (id, record): (String, SessionRecord)
            do { (id, record) = try SessionIdRows.decode(ids) } catch let error as ProjectionError {
                return ProjectionMismatch(table: "session_ids", row: ids.string(0) ?? "?", message: error.message)
            }
            if state.sessions[id] != record {
                return ProjectionMismatch(table: "session_ids", row: id, message: "says \(record.endDescription); the log says \(state.sessions[id]?.endDescription ?? "unknown")")
            }
        }
        if count != state.sessions.count {
            return ProjectionMismatch(table: "session_ids", row: "*", message: "\(count) rows for \(state.sessions.count) session IDs in the log")
        }

        count = 0
        let owners = SQLiteAccess(try db.makeStatement(sql: "SELECT \(OwnerRows.columns) FROM owners ORDER BY owner"))
        defer { owners.reset() }
        while try owners.step() {
            count += 1
            let owner: OwnerState
            do { owner = try OwnerRows.decode(owners) } catch let error as ProjectionError {
                return ProjectionMismatch(table: "owners", row: owners.string(0) ?? "?", message: error.message)
            }
            if state.owners[owner.name] != owner {
                return ProjectionMismatch(table: "owners", row: owner.name, message: "epoch \(owner.epoch); the log says \(state.owners[owner.name]?.epoch ?? 0)")
            }
        }
        if count != state.owners.count {
            return ProjectionMismatch(table: "owners", row: "*", message: "\(count) rows for \(state.owners.count) owners in the log")
        }
        return nil
    }

    /// Every transition row must be the log's event at its seq, with the log's hash.
    static func compareTransitions(_ db: Database, through last: UInt64, ledger: Ledger) throws -> ProjectionMismatch? {
        let rows = SQLiteAccess(try db.makeStatement(sql: "SELECT \(TransitionRows.columns) FROM transitions ORDER BY seq"))
        defer { rows.reset() }
        var expected: UInt64 = 1
        return try ledger.read { snapshot -> ProjectionMismatch? in
            while try rows.step() {
                let logged: LoggedEvent
                do { logged = try TransitionRows.decode(rows) } catch let error as ProjectionError {
                    return ProjectionMismatch(table: "transitions", row: "\(rows.uint64(0) ?? 0)", message: error.message)
                }
                let seq = logged.event.seq
                if seq != expected {
                    return ProjectionMismatch(table: "transitions", row: "\(min(seq, expected))", message: seq > expected ? "missing" : "unexpected")
                }
                guard let record = try snapshot.record(seq),
                      let (event, hash) = try? record.withUnsafeBytes({ try StoredRecord.decode($0) }) else {
                    return ProjectionMismatch(table: "transitions", row: "\(seq)", message: "not in the log")
                }
                if event != logged.event || hash != logged.hash {
                    return ProjectionMismatch(table: "transitions", row: "\(seq)", message: "differs from the log's event")
                }
                expected += 1
            }
            if expected - 1 != last {
                return ProjectionMismatch(table: "transitions", row: "\(expected)", message: "\(expected - 1) rows for \(last) events")
            }
            return nil
        }
    }
}
