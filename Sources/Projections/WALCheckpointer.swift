import Foundation
import GRDB
import Logging

/// Checkpoints a projection's WAL in the background.
///
/// The writer connection has automatic checkpoints turned off: SQLite would otherwise run one
/// inside whichever commit crosses the threshold, copying pages into the database file and
/// fsyncing on the projection's critical path. This thread runs passive checkpoints on its own
/// connection instead; they never block the writer or the readers, and the log is the source of
/// truth, so a checkpoint that lags costs nothing but WAL size.
final class WALCheckpointer: @unchecked Sendable {
    private let queue: DatabaseQueue
    private let interval: Double
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false

    init(path: String, interval: Double = 0.05, logger: Logger) throws {
        var configuration = Configuration()
        configuration.label = "projection-checkpointer"
        configuration.busyMode = .timeout(1)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
        self.logger = logger
        let thread = Thread { [self] in
            Thread.current.name = "ledger-checkpoint"
            run()
        }
        thread.start()
    }

    private func run() {
        while true {
            condition.lock()
            if !stopping { _ = condition.wait(until: Date().addingTimeInterval(interval)) }
            let done = stopping
            condition.unlock()
            do {
                try queue.writeWithoutTransaction { db in
                    _ = try db.checkpoint(done ? .truncate : .passive)
                }
            } catch {
                logger.debug("WAL checkpoint skipped: \(error)")
            }
            if done { break }
        }
        try? queue.close()
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
