import GRDB
import GRDBSQLite
import Ledger

/// Binds, steps and reads a prepared statement through SQLite's C API.
///
/// The projector writes every event and the server's reads run many rows, so these paths skip
/// GRDB's `StatementArguments`/`Row` boxing and talk to the statement directly. The statements
/// themselves come from GRDB's statement cache and run inside GRDB's transactions.
struct SQLiteAccess {
    /// Kept alive with the accessor: GRDB finalizes the SQLite statement when this object goes.
    private let statement: Statement
    let handle: OpaquePointer
    /// Where the text and blobs bound since ``begin()`` live, for SQLite to read in place.
    private let bound: BoundBytes

    init(_ statement: Statement) {
        self.statement = statement
        handle = statement.sqliteStatement
        bound = BoundBytes()
        begin()
    }

    /// A cached statement of `db`, ready for binding.
    init(_ db: Database, _ sql: String) throws {
        self.init(try db.cachedStatement(sql: sql))
    }

    /// Readies the statement for another use: reset, bindings cleared (before the bytes they
    /// point to are reused).
    func begin() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        bound.used = 0
    }

    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    private static let staticBytes: sqlite3_destructor_type? = nil

    // MARK: Binding (1-based indexes, as SQLite counts)

    /// Binds text. The bytes are copied into ``BoundBytes`` and bound from there without a copy
    /// of SQLite's own (`SQLITE_STATIC`), which took a `malloc` and a `free` per string: about 7 %
    /// of the projection thread's time. Text that does not fit is bound as SQLite's copy.
    func bind(_ index: Int32, _ value: String?) {
        guard var value else { sqlite3_bind_null(handle, index); return }
        value.withUTF8 { utf8 in
            if utf8.isEmpty {
                // SQLite's copy: the literal's C string lives only for this call.
                sqlite3_bind_text(handle, index, "", 0, Self.transient)
            } else if let copy = bound.store(UnsafeRawBufferPointer(utf8)) {
                sqlite3_bind_text(handle, index, copy.assumingMemoryBound(to: CChar.self), Int32(utf8.count), Self.staticBytes)
            } else {
                utf8.withMemoryRebound(to: CChar.self) { chars in
                    _ = sqlite3_bind_text(handle, index, chars.baseAddress, Int32(chars.count), Self.transient)
                }
            }
        }
    }

    func bind(_ index: Int32, _ value: Int64?) {
        guard let value else { sqlite3_bind_null(handle, index); return }
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ value: UInt64?) {
        bind(index, value.map { Int64(bitPattern: $0) })
    }

    func bind(_ index: Int32, blob: UnsafeRawBufferPointer) {
        if let copy = bound.store(blob) {
            sqlite3_bind_blob(handle, index, copy, Int32(blob.count), Self.staticBytes)
        } else {
            sqlite3_bind_blob(handle, index, blob.baseAddress, Int32(blob.count), Self.transient)
        }
    }

    // MARK: Stepping

    /// Steps once: true when a row is ready, false when the statement is done.
    func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(handle)))
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message)
        }
    }

    /// Runs a statement that returns no rows, then resets it.
    func run() throws {
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    /// Rows changed by the statement's last run (`sqlite3_changes` of its connection).
    var changes: Int32 {
        sqlite3_changes(sqlite3_db_handle(handle))
    }

    func reset() {
        sqlite3_reset(handle)
    }

    // MARK: Reading (0-based columns, as SQLite counts)

    func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func int64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : sqlite3_column_int64(handle, column)
    }

    func uint64(_ column: Int32) -> UInt64? {
        int64(column).map { UInt64(bitPattern: $0) }
    }

    func blob(_ column: Int32) -> UnsafeRawBufferPointer? {
        guard let data = sqlite3_column_blob(handle, column) else { return nil }
        return UnsafeRawBufferPointer(start: data, count: Int(sqlite3_column_bytes(handle, column)))
    }

    /// Binds the four environment fields at `index`..<`index` + 4.
    func bind(_ index: Int32, environment: RuntimeEnvironment?) {
        let environment = environment ?? RuntimeEnvironment()
        bind(index, environment.host)
        bind(index + 1, environment.volume)
        bind(index + 2, environment.cwd)
        bind(index + 3, environment.provider)
    }

    /// Reads four environment columns starting at `column`; nil when all are NULL.
    func environment(_ column: Int32) -> RuntimeEnvironment? {
        let environment = RuntimeEnvironment(host: string(column), volume: string(column + 1), cwd: string(column + 2), provider: string(column + 3))
        return environment.isEmpty ? nil : environment
    }
}

/// The bytes of the values an ``SQLiteAccess`` bound since its last `begin()`.
///
/// SQLite reads a value bound as `SQLITE_STATIC` in place until the parameter is bound again or
/// cleared, so the bytes must neither move nor change until then: the buffer never grows (a
/// value that does not fit is left to SQLite to copy), and `begin()` clears the bindings before
/// it starts the buffer over. Every step of the statement follows a `begin()` of the accessor that
/// bound its values, which holds this buffer alive.
final class BoundBytes {
    /// Enough for a row's strings: keys and session IDs are at most a few hundred bytes.
    static let capacity = 4_096
    private let base = UnsafeMutableRawPointer.allocate(byteCount: BoundBytes.capacity, alignment: 8)
    var used = 0

    deinit { base.deallocate() }

    /// Copies `bytes` after those stored since the last `begin()`; nil when they do not fit.
    func store(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawPointer? {
        guard let source = bytes.baseAddress, bytes.count <= Self.capacity - used else { return nil }
        let destination = base + used
        destination.copyMemory(from: source, byteCount: bytes.count)
        used += bytes.count
        return UnsafeRawPointer(destination)
    }
}
