import Foundation
import GRDBSQLite
import Ledger
#if canImport(Glibc)
import Glibc
#endif

/// The hot read: a conversation's current state, for `GET /v1/sessions/{key}`.
///
/// Each calling thread (in ledgerd: each event loop) gets its own read-only SQLite connection
/// with the query prepared, used directly on that thread: no dispatch to a pool queue, no
/// explicit transaction around a single SELECT (which is atomic on its own in WAL mode). A
/// connection follows the live generation and reopens after a rebuild swaps it. Rows are checked
/// against their digest as every other read is.
public final class SessionReader: @unchecked Sendable {
    private let projection: Projection
    private let slot: pthread_key_t

    public init(projection: Projection) {
        self.projection = projection
        var key = pthread_key_t()
        // The destructor runs when a thread exits, releasing that thread's connection.
        pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<ThreadConnection>.fromOpaque(pointer).release()
        }
        slot = key
    }

    deinit {
        pthread_key_delete(slot)
    }

    /// The conversation stored under `key` (version 0, no session, when unknown).
    ///
    /// - Throws: ``ProjectionError`` `.damaged` when the row fails its digest or SQLite reports
    ///   the file damaged.
    public func session(_ key: String) throws -> ConversationState {
        let generation = projection.generation
        do {
            return try query(key, on: try current())
        } catch {
            // A rebuild may have swapped generations under this read: try once more on the new one.
            if projection.generation != generation {
                do { return try query(key, on: try current()) } catch { throw Projection.classify(error) }
            }
            throw Projection.classify(error)
        }
    }

    private func query(_ key: String, on connection: ThreadConnection) throws -> ConversationState {
        let access = SQLiteAccess(raw: connection.statement)
        defer { access.reset() }
        access.bind(1, key)
        guard try access.step() else { return ConversationState(key: key) }
        return try ConversationRows.decode(access)
    }

    /// This thread's connection to the live generation, opened (or reopened) as needed.
    private func current() throws -> ThreadConnection {
        let generation = projection.generation
        if let pointer = pthread_getspecific(slot) {
            let connection = Unmanaged<ThreadConnection>.fromOpaque(pointer).takeUnretainedValue()
            if connection.generation == generation { return connection }
            pthread_setspecific(slot, nil)
            Unmanaged<ThreadConnection>.fromOpaque(pointer).release()
        }
        let connection = try ThreadConnection(path: projection.files.path(ofGeneration: generation), generation: generation)
        pthread_setspecific(slot, Unmanaged.passRetained(connection).toOpaque())
        return connection
    }
}

/// One thread's read-only connection and its prepared query.
final class ThreadConnection {
    let generation: Int
    private let db: OpaquePointer
    let statement: OpaquePointer

    init(path: String, generation: Int) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw ProjectionError(.damaged, "cannot open \(path) for reading: \(message)")
        }
        sqlite3_busy_timeout(handle, 10_000)
        var prepared: OpaquePointer?
        guard sqlite3_prepare_v3(handle, ConversationRows.selectByKeySQL, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil) == SQLITE_OK,
              let prepared else {
            let message = String(cString: sqlite3_errmsg(handle))
            sqlite3_close(handle)
            throw ProjectionError(.damaged, "cannot prepare the session query on \(path): \(message)")
        }
        db = handle
        statement = prepared
        self.generation = generation
    }

    deinit {
        sqlite3_finalize(statement)
        sqlite3_close(db)
    }
}
