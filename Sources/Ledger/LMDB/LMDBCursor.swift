import CLMDB

/// A cursor lent to a closure by ``LMDBTransaction/withCursor(_:_:)``; it is closed when the
/// closure returns and must not be kept. (It would be `~Copyable` like ``LMDBTransaction``, but
/// Swift 6.3.1's generic specializer crashes on closures over borrowed non-copyable values that
/// hold references, in release builds.)
///
/// Positioning calls return the entry under the cursor, or nil when there is none; the buffers
/// point into the memory map and are valid until the transaction ends.
public struct LMDBCursor {
    let handle: OpaquePointer
    let database: LMDBDatabase

    /// One entry: its key and value, both pointing into the map.
    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    private func move(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil) throws -> Entry? {
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val(mv_size: value?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: value?.baseAddress))
        let rc = mdb_cursor_get(handle, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get \(database.name) op \(op.rawValue)")
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size), UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    public func first() throws -> Entry? { try move(MDB_FIRST) }
    public func last() throws -> Entry? { try move(MDB_LAST) }
    public func next() throws -> Entry? { try move(MDB_NEXT) }
    public func previous() throws -> Entry? { try move(MDB_PREV) }
    /// The first entry whose key is >= `key`.
    public func seek(atLeast key: UnsafeRawBufferPointer) throws -> Entry? { try move(MDB_SET_RANGE, key: key) }
    /// Positions on `key` exactly (duplicate-sorted: its first value).
    public func seek(exactly key: UnsafeRawBufferPointer) throws -> Entry? { try move(MDB_SET_KEY, key: key) }
    /// Duplicate-sorted: the first value of `key` that is >= `value`.
    public func seek(key: UnsafeRawBufferPointer, valueAtLeast value: UnsafeRawBufferPointer) throws -> Entry? {
        try move(MDB_GET_BOTH_RANGE, key: key, value: value)
    }
    /// Duplicate-sorted: the next value of the current key, or nil after its last.
    public func nextDuplicate() throws -> Entry? { try move(MDB_NEXT_DUP) }
    /// Duplicate-sorted: the first value of the next key.
    public func nextKey() throws -> Entry? { try move(MDB_NEXT_NODUP) }
    /// Duplicate-sorted: the last value of the current key.
    public func lastDuplicate() throws -> Entry? { try move(MDB_LAST_DUP) }

    /// ``seek(atLeast:)`` with a byte-array key.
    public func seek(atLeast key: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { k in try move(MDB_SET_RANGE, key: k) }
    }

    /// ``seek(exactly:)`` with a byte-array key.
    public func seek(exactly key: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { k in try move(MDB_SET_KEY, key: k) }
    }

    /// ``seek(key:valueAtLeast:)`` with byte arrays.
    public func seek(key: [UInt8], valueAtLeast value: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try move(MDB_GET_BOTH_RANGE, key: k, value: v) } }
    }

    /// Deletes the entry under the cursor.
    public func deleteCurrent() throws {
        try check(mdb_cursor_del(handle, 0), "mdb_cursor_del \(database.name)")
    }
}
