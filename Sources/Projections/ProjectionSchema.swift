import GRDB

/// The projection's tables, created by a `DatabaseMigrator`.
///
/// - `sessions`: one row per conversation (the read model clients ask for).
/// - `transitions`: one row per event, for audits in SQL (indexed by owner; by time through the
///   seq, see below).
/// - `owners`: each owner's current epoch.
/// - `session_ids`: every session ID the log has seen and whether it ended; the projector
///   needs it to fold with the ledger's state machine, which refuses to make a dead ID current.
/// - `checkpoint`: the last applied seq and the chain hash at that seq.
///
/// Every state row carries a digest (CRC32C of the row's stored encoding) and every transition
/// row the CRC32C of its log record, so a row edited behind the projector's back is caught on use.
///
/// A conversation's history is not indexed here: ledgerd serves it from the log, through the
/// head state's index of each conversation's events, which the writer keeps anyway. Migration
/// "v2" drops the `transitions_by_key` index that "v1" made. That index took a leaf page per
/// conversation written in a projection transaction, at random places in an index as long as
/// the log: about half the projection thread's time on a ledger with a long history.
///
/// Events by time need no index of their own: the projector refuses an event earlier than the
/// one before it, so seq order is time order and a binary search over the seq (rowid) finds
/// where a time range starts and ends.
public enum ProjectionSchema {
    /// The secondary indexes, created after the tables. A rebuild fills the tables first and
    /// builds these at the end, which is much faster than maintaining them row by row.
    static let secondaryIndexes = [
        "CREATE INDEX IF NOT EXISTS sessions_by_owner_state ON sessions(owner, state, key)",
        "CREATE INDEX IF NOT EXISTS sessions_by_state ON sessions(state, key)",
        // Partial: most transitions (resumes, errors) carry no owner; `owner = ?` still uses it.
        "CREATE INDEX IF NOT EXISTS transitions_by_owner ON transitions(owner, seq) WHERE owner IS NOT NULL",
    ]

    static let tables = [
        """
        CREATE TABLE sessions (
            key TEXT PRIMARY KEY NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('active', 'none')),
            session_id TEXT,
            version INTEGER NOT NULL,
            owner TEXT,
            epoch INTEGER,
            env_host TEXT, env_volume TEXT, env_cwd TEXT, env_provider TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_seq INTEGER NOT NULL,
            digest INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE transitions (
            seq INTEGER PRIMARY KEY,
            key TEXT,
            version INTEGER NOT NULL,
            type TEXT NOT NULL,
            session_id TEXT, reported_session_id TEXT, supersedes TEXT,
            owner TEXT, epoch INTEGER,
            env_host TEXT, env_volume TEXT, env_cwd TEXT, env_provider TEXT,
            reason TEXT,
            actor_uid INTEGER, actor_gid INTEGER, actor_pid INTEGER,
            time INTEGER NOT NULL,
            hash BLOB NOT NULL,
            checksum INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE owners (
            owner TEXT PRIMARY KEY NOT NULL,
            epoch INTEGER NOT NULL,
            env_host TEXT, env_volume TEXT, env_cwd TEXT, env_provider TEXT,
            booted_at INTEGER NOT NULL,
            last_seq INTEGER NOT NULL,
            digest INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE session_ids (
            session_id TEXT PRIMARY KEY NOT NULL,
            key TEXT NOT NULL,
            ended_seq INTEGER NOT NULL,
            ended_by TEXT,
            digest INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash BLOB NOT NULL,
            time INTEGER NOT NULL
        )
        """,
        "INSERT INTO checkpoint (id, seq, hash, time) VALUES (1, 0, zeroblob(32), -9223372036854775808)",
    ]

    /// The migration that creates the tables: a file without it has no schema at all.
    static let tablesMigration = "v1"

    /// "v2": history by conversation moved to the log; its index goes.
    static let dropKeyIndex = "DROP INDEX IF EXISTS transitions_by_key"

    /// The migrator for live files: tables and indexes, then what later builds changed.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(tablesMigration) { db in
            for sql in tables { try db.execute(sql: sql) }
            for sql in secondaryIndexes { try db.execute(sql: sql) }
        }
        migrator.registerMigration("v2") { db in try db.execute(sql: dropKeyIndex) }
        return migrator
    }

    /// The migrator for a rebuild: the same steps, minus the secondary indexes, which the
    /// rebuild creates once the rows are in (``secondaryIndexes`` use IF NOT EXISTS).
    static var rebuildMigrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(tablesMigration) { db in
            for sql in tables { try db.execute(sql: sql) }
        }
        migrator.registerMigration("v2") { db in try db.execute(sql: dropKeyIndex) }
        return migrator
    }
}
