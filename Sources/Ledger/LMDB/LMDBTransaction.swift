import CLMDB

/// A transaction lent to a closure by ``LMDBEnvironment/read(_:)`` or ``LMDBEnvironment/write(_:)``.
///
/// It is non-copyable and only ever borrowed, so it cannot outlive the closure: the environment
/// commits or aborts it when the closure ends. Buffers it returns point into the memory map and
/// are valid only until then; copy what must outlive the transaction.
public struct LMDBTransaction: ~Copyable {
    let handle: OpaquePointer
    /// True for read-only transactions.
    public let isReadOnly: Bool

    init(handle: OpaquePointer, readOnly: Bool) {
        self.handle = handle
        self.isReadOnly = readOnly
    }

    func openDatabase(name: String, flags: LMDBDatabase.Flags, create: Bool) throws -> LMDBDatabase {
        var dbi: MDB_dbi = 0
        let openFlags = flags.rawValue | (create ? UInt32(MDB_CREATE) : 0)
        try check(mdb_dbi_open(handle, name, openFlags, &dbi), "mdb_dbi_open \(name)")
        return LMDBDatabase(dbi: dbi, name: name, flags: flags)
    }

    /// The value stored under `key`, or nil. The buffer is valid until the transaction ends.
    public func get(_ database: LMDBDatabase, key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, database.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get \(database.name)")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    /// Stores `value` under `key`.
    ///
    /// - Parameters:
    ///   - append: `MDB_APPEND` (or `MDB_APPENDDUP` for duplicate-sorted databases): the key (or
    ///     value) is known to sort after every existing one, which saves the search and keeps pages full.
    ///     LMDB answers `MDB_KEYEXIST` if that is not true.
    ///   - noOverwrite: fail with `MDB_KEYEXIST` instead of replacing an existing value.
    public func put(_ database: LMDBDatabase, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                    append: Bool = false, noOverwrite: Bool = false) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        var flags: UInt32 = 0
        if append {
            flags |= database.flags.contains(.duplicateSort) ? UInt32(MDB_APPENDDUP) : UInt32(MDB_APPEND)
        }
        if noOverwrite { flags |= UInt32(MDB_NOOVERWRITE) }
        try check(mdb_put(handle, database.dbi, &k, &v, flags), "mdb_put \(database.name)")
    }

    /// Deletes `key` (with `value`: only that duplicate). Returns false when there was nothing to delete.
    @discardableResult
    public func delete(_ database: LMDBDatabase, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer? = nil) throws -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc: Int32
        if let value {
            var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            rc = mdb_del(handle, database.dbi, &k, &v)
        } else {
            rc = mdb_del(handle, database.dbi, &k, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del \(database.name)")
        return true
    }

    /// Number of entries (for duplicate-sorted databases: of values) in `database`.
    public func count(_ database: LMDBDatabase) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle, database.dbi, &stat), "mdb_stat \(database.name)")
        return stat.ms_entries
    }

    /// Empties `database` (`mdb_drop` with del 0), or with `delete` removes it from the
    /// environment and closes its handle (del 1): the handle must not be used again.
    public func drop(_ database: LMDBDatabase, delete: Bool = false) throws {
        try check(mdb_drop(handle, database.dbi, delete ? 1 : 0), "mdb_drop \(database.name)")
    }

    /// Opens a named database that may not exist, inside this transaction, without creating it.
    /// - Returns: nil when there is no database of that name.
    func existingDatabase(named name: String) throws -> LMDBDatabase? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(handle, name, 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_dbi_open \(name)")
        return LMDBDatabase(dbi: dbi, name: name, flags: [])
    }

    /// Lends a cursor over `database` to `body`; it is closed when `body` ends.
    public func withCursor<R>(_ database: LMDBDatabase, _ body: (LMDBCursor) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, database.dbi, &cursor), "mdb_cursor_open \(database.name)")
        defer { mdb_cursor_close(cursor) }
        return try body(LMDBCursor(handle: cursor!, database: database))
    }
}

extension LMDBTransaction {
    /// `get` with a byte-array key.
    public func get(_ database: LMDBDatabase, key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { (k) in try get(database, key: k) }
    }

    /// `put` with byte-array key and value.
    public func put(_ database: LMDBDatabase, key: [UInt8], value: [UInt8], append: Bool = false, noOverwrite: Bool = false) throws {
        try key.withUnsafeBytes { (k) in
            try value.withUnsafeBytes { (v) in
                try put(database, key: k, value: v, append: append, noOverwrite: noOverwrite)
            }
        }
    }

    /// `delete` with byte-array key and optional value.
    @discardableResult
    public func delete(_ database: LMDBDatabase, key: [UInt8], value: [UInt8]? = nil) throws -> Bool {
        try key.withUnsafeBytes { (k) in
            guard let value else { return try delete(database, key: k) }
            return try value.withUnsafeBytes { (v) in try delete(database, key: k, value: v) }
        }
    }
}
