import Foundation
import GRDBSQLite
import Ledger
import Logging

/// Checkpoints a projection's WAL in the background.
///
/// The writer connection has automatic checkpoints turned off: SQLite would otherwise run one
/// inside whichever commit crosses the threshold, copying pages into the database file and
/// fsyncing on the projection's critical path. This thread runs passive checkpoints on its own
/// connection instead; they never block the writer or the readers, and the log is the source of
/// truth, so a checkpoint that lags costs nothing but WAL size.
///
/// The connection is a plain SQLite handle used only on this thread, so the whole checkpoint
/// (its page copies and its fsync) runs at ``BackgroundPriority``.
final class WALCheckpointer: @unchecked Sendable {
    /// Used only by the checkpoint thread.
    private let connection: OpaquePointer
    private let interval: Double
    private let logger: Logger
    private let condition = MonotonicCondition()
    private var stopping = false
    private var stopped = false

    /// - Throws: ``ProjectionError`` when the file cannot be opened.
    init(path: String, interval: Double = 0.05, logger: Logger) throws {
        self.interval = interval
        self.logger = logger
        connection = try Self.open(path)
        let thread = Thread { [self] in
            // Linux keeps 15 bytes of a thread name ("ledger-checkpoint" was refused).
            ThreadName.setCurrent("ledger-checkpt")
            BackgroundPriority.applyToCurrentThread()
            run()
        }
        thread.start()
    }

    private static func open(_ path: String) throws -> OpaquePointer {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw ProjectionError(.damaged, "cannot open \(path) for checkpoints: \(message)")
        }
        sqlite3_busy_timeout(handle, 1_000)
        // A connection learns that the file is in WAL mode when it first reads it; before
        // that, a checkpoint request is a silent no-op.
        guard sqlite3_exec(handle, "PRAGMA schema_version", nil, nil, nil) == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(handle))
            sqlite3_close(handle)
            throw ProjectionError(.damaged, "cannot read \(path) for checkpoints: \(message)")
        }
        return handle
    }

    private func run() {
        while true {
            condition.lock()
            if !stopping { condition.wait(for: .seconds(interval)) }
            let done = stopping
            condition.unlock()
            let mode = done ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE
            let result = sqlite3_wal_checkpoint_v2(connection, nil, mode, nil, nil)
            if result != SQLITE_OK {
                logger.debug("WAL checkpoint skipped: \(String(cString: sqlite3_errmsg(connection))) (\(result))")
            }
            if done { break }
        }
        sqlite3_close_v2(connection)
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Runs a last (truncating) checkpoint and stops.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }
}
