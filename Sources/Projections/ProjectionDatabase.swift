import GRDB

/// Opens projection files with the settings every connection uses.
enum ProjectionDatabase {
    /// A pool on `path` (WAL, synchronous=NORMAL: the log is the source of truth, so a power
    /// loss that drops the last SQLite commits is repaired by catching up from the log).
    ///
    /// - Parameters:
    ///   - readOnly: open for reading only (ledgerctl beside a running ledgerd).
    ///   - readers: the size of the reader pool.
    static func openPool(path: String, readOnly: Bool = false, readers: Int = 8) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.label = "projection"
        configuration.readonly = readOnly
        configuration.journalMode = readOnly ? .default : .wal
        configuration.maximumReaderCount = readers
        configuration.foreignKeysEnabled = false
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            if !readOnly && !db.configuration.readonly {
                // The writer: its pages stay cached between batches, and checkpoints happen on
                // the WALCheckpointer's thread, not inside a commit.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                try db.execute(sql: "PRAGMA cache_size = -32768")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            }
        }
        return try DatabasePool(path: path, configuration: configuration)
    }

    /// A single connection for building a new generation: no journal, no syncing until the
    /// end (the file is not live until it is complete, synced and swapped in).
    static func openBuilder(path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.label = "projection-builder"
        configuration.foreignKeysEnabled = false
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF")
            try db.execute(sql: "PRAGMA synchronous = OFF")
            // 64 MiB of page cache. The rows go in mostly in order (transitions by seq, sessions
            // by key at the end), so a larger cache only grew the peak: 256 MiB made a 1M-event
            // rebuild peak ~100 MB higher and took as long (alternating runs, 10k and 1M keys).
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// True for SQLite errors that mean the file itself is damaged.
    static func isDamage(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }
}
