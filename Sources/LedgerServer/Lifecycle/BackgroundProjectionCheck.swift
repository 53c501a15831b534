import Foundation
import Ledger
import Logging
import NIOCore
import Projections

/// The `PRAGMA quick_check` of the projection, run once in the background after ledgerd starts
/// serving: it reads every page, so at startup it would make readiness grow with the log
/// (3 to 6 s at 10M events). Until it finishes, damage is still caught on use (row digests,
/// `SQLITE_CORRUPT`) and repaired before answering. Damage it finds is repaired on the writer's
/// projection thread, between batches.
final class BackgroundProjectionCheck: @unchecked Sendable {
    private let condition = MonotonicCondition()
    private var finished = false
    private var stopping = false

    /// Starts the check on its own thread.
    init(projection: Projection, committer: GroupCommitter, eventLoop: any EventLoop, status: StartupCheckStatus, logger: Logger) {
        status.set(.running)
        let thread = Thread { [self] in
            ThreadName.setCurrent("ledger-check")
            let started = ContinuousClock.now
            let damage = projection.check(.quick)
            condition.lock()
            let cancelled = stopping
            condition.unlock()
            if cancelled {
                status.set(.interrupted)
            } else if let damage {
                logger.error("background check: projection \(damage.kind.rawValue): \(damage.reason); repairing")
                status.set(.repairing)
                committer.perform(on: eventLoop) { _ = try projection.repair(damage) }.whenComplete { result in
                    switch result {
                    case .success: status.set(.repaired)
                    case .failure(let error):
                        status.set(.failed)
                        logger.critical("the projection cannot be rebuilt (\(error)); reads will fail until it is repaired (ledgerctl rebuild)")
                    }
                }
            } else {
                status.set(.ok)
                let elapsed = Double((ContinuousClock.now - started).nanoseconds) / 1e9
                logger.info("background check: projection ok", metadata: ["seconds": "\(Projection.format(elapsed))"])
            }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    /// Interrupts the check if it still runs, and waits for its thread to be done with SQLite.
    func stop(interrupting projection: Projection) {
        condition.lock()
        stopping = true
        while !finished {
            condition.unlock()
            projection.interruptReads()
            condition.lock()
            if !finished { condition.wait(for: .milliseconds(50)) }
        }
        condition.unlock()
    }
}
