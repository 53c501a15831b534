import CLMDB
#if canImport(Glibc)
import Glibc
#endif

/// An error reported by LMDB, with the code it returned and what we were doing at the time.
///
/// The code is LMDB's own (`MDB_MAP_FULL`, `MDB_NOTFOUND`, ...) or an `errno` value for
/// system errors, exactly as `mdb_strerror` understands it.
public struct LMDBError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The value LMDB returned.
    public let code: Int32
    /// What was being done, e.g. `"mdb_put events"` or `"mdb_env_open /var/lib/ledger/log"`.
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// LMDB's message for the code.
    public var message: String { String(cString: mdb_strerror(code)) }

    public var description: String { "\(operation): \(message) (\(code))" }

    /// The map is full: abort, grow the map, retry.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    /// Another process grew the map beyond our mapping: adopt its size and retry.
    public var isMapResized: Bool { code == MDB_MAP_RESIZED }
    /// The disk (not the map) is full or the quota is exhausted.
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }
    /// The environment is damaged beyond what LMDB can use.
    public var isCorruption: Bool { code == MDB_CORRUPTED || code == MDB_PAGE_NOTFOUND || code == MDB_PANIC || code == MDB_INVALID }
}

/// Turns an LMDB return code into a thrown ``LMDBError`` unless it is `MDB_SUCCESS`.
@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if code != MDB_SUCCESS {
        throw LMDBError(code: code, operation: operation())
    }
}
