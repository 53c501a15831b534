import GRDBSQLite

/// What SQLite holds in memory in this process: page caches, prepared statements, schemas.
///
/// Most of ledgerd's heap beyond its connections is SQLite's page cache, which grows with the
/// projection file up to each connection's `cache_size`. Reported in `/metrics` so that growth
/// can be told apart from a leak (the load test does exactly that).
public enum SQLiteMemory {
    /// Bytes SQLite has allocated and not freed (`sqlite3_memory_used`).
    public static var bytesInUse: Int64 { Int64(sqlite3_memory_used()) }
}
