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

    init(_ statement: Statement) {
        self.statement = statement
        handle = statement.sqliteStatement
        begin()
    }

    /// A cached statement of `db`, ready for binding.
    init(_ db: Database, _ sql: String) throws {
        self.init(try db.cachedStatement(sql: sql))
    }

    /// Readies the statement for another use: reset, bindings cleared.
    func begin() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    // MARK: Binding (1-based indexes, as SQLite counts)

    func bind(_ index: Int32, _ value: String?) {
        guard var value else { sqlite3_bind_null(handle, index); return }
        value.withUTF8 { utf8 in
            if utf8.isEmpty {
                sqlite3_bind_text(handle, index, "", 0, Self.transient)
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
        sqlite3_bind_blob(handle, index, blob.baseAddress, Int32(blob.count), Self.transient)
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

