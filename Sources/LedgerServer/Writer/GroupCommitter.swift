import Foundation
import Ledger
import LedgerAPI
import Logging
import NIOCore
import Projections

/// What one submitted command came to, once its batch is durable and projected.
struct CommitReceipt: Sendable {
    var outcome: CommandOutcome
    /// The events this command appended (empty when rejected or a no-op).
    var events: [CommittedEvent]
}

/// The writer: group commit in two pipelined stages.
///
/// Requests hand their commands to ``submit(_:promise:)`` from any event loop.
///
/// 1. The **commit** thread takes everything waiting (up to `maxBatch`), decides and appends it
///    in one LMDB write transaction and commits durably: one fsync for the whole batch. While a
///    commit is in flight, arriving commands queue up and form the next batch.
/// 2. The **projection** thread takes every committed batch waiting, applies them to the SQLite
///    projection in one transaction, publishes them to followers, and only then answers every
///    request of those batches.
///
/// The stages overlap (batch N is projected while batch N+1 commits), yet no request is answered
/// before its commit is on disk and projected, so a read after an answer sees the write. LMDB
/// write transactions all run on the commit thread, as LMDB requires. Admin work (rebuild
/// installs, checks, repairs) runs on the projection thread between batches.
final class GroupCommitter: @unchecked Sendable {
    private struct Pending {
        var envelope: CommandEnvelope
        var promise: EventLoopPromise<CommitReceipt>
    }

    /// A committed batch on its way to the projection.
    private struct Committed {
        var batch: [Pending]
        var result: AppendResult
        var committedAt: ContinuousClock.Instant
    }

    private let ledger: Ledger
    private let projection: Projection
    private let broadcaster: EventBroadcaster
    private let metrics: LedgerMetrics
    private let logger: Logger
    private let maxBatch: Int
    private let freeSpace: FreeSpaceGuard

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Pending] = []
    private var committed: [Committed] = []
    private var tasks: [@Sendable () -> Void] = []
    private var stopping = false
    private var commitStageDone = false
    private var projectionStageDone = false

    init(ledger: Ledger, projection: Projection, broadcaster: EventBroadcaster, metrics: LedgerMetrics, logger: Logger, maxBatch: Int,
         freeSpace: FreeSpaceGuard) {
        self.ledger = ledger
        self.projection = projection
        self.broadcaster = broadcaster
        self.metrics = metrics
        self.logger = logger
        self.maxBatch = max(1, maxBatch)
        self.freeSpace = freeSpace
    }

    /// Starts both stages.
    func start() {
        let commitThread = Thread { [self] in runCommitStage() }
        commitThread.name = "ledger-commit"
        commitThread.start()
        let projectionThread = Thread { [self] in runProjectionStage() }
        projectionThread.name = "ledger-project"
        projectionThread.start()
    }

    /// Queues a command; `promise` is fulfilled once its batch is durable and projected, or
    /// failed with an ``APIError`` (disk full, shutting down, storage failure).
    func submit(_ envelope: CommandEnvelope, promise: EventLoopPromise<CommitReceipt>) {
        condition.lock()
        if stopping {
            condition.unlock()
            promise.fail(APIError.shuttingDown)
            return
        }
        pending.append(Pending(envelope: envelope, promise: promise))
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `work` on the projection thread between batches (rebuild installs, checks,
    /// repairs), so it never interleaves with a projection apply.
    func perform<T: Sendable>(on eventLoop: any EventLoop, _ work: @escaping @Sendable () throws -> T) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        condition.lock()
        if stopping {
            condition.unlock()
            promise.fail(APIError.shuttingDown)
            return promise.futureResult
        }
        tasks.append {
            do { promise.succeed(try work()) } catch { promise.fail(error) }
        }
        condition.broadcast()
        condition.unlock()
        return promise.futureResult
    }

    /// Stops taking commands, commits, projects and answers everything already queued, and
    /// waits for both stages to finish.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !(commitStageDone && projectionStageDone) { condition.wait() }
        condition.unlock()
    }

    // MARK: Stage 1: commit

    private func nextBatch() -> [Pending]? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !stopping { condition.wait() }
        if pending.isEmpty { return nil }
        let count = min(maxBatch, pending.count)
        let batch = Array(pending.prefix(count))
        pending.removeFirst(count)
        return batch
    }

    private func runCommitStage() {
        while let batch = nextBatch() {
            let started = ContinuousClock.now
            if let shortage = freeSpace.shortage() {
                // Refuse before anything is written: the log and the projection stay in step,
                // and reads keep working.
                for item in batch { item.promise.fail(APIError.diskFull(shortage)) }
                metrics.rejected("disk_full")
                continue
            }
            let result: AppendResult
            do {
                result = try ledger.append(batch.map(\.envelope), now: WallClock.microseconds())
            } catch {
                let failure = Self.apiError(for: error)
                logger.error("batch not committed", metadata: ["commands": "\(batch.count)", "error": "\(error)", "answer": "\(failure.code)"])
                for item in batch { item.promise.fail(failure) }
                continue
            }
            Failpoint.afterCommit.check()
            let now = ContinuousClock.now
            metrics.commitDuration.recordNanoseconds((now - started).nanoseconds)
            condition.lock()
            committed.append(Committed(batch: batch, result: result, committedAt: now))
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        commitStageDone = true
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Stage 2: project and answer

    private enum ProjectionWork {
        case batches([Committed])
        case task(@Sendable () -> Void)
    }

    private func nextProjectionWork() -> ProjectionWork? {
        condition.lock()
        defer { condition.unlock() }
        while committed.isEmpty && tasks.isEmpty && !(stopping && commitStageDone) { condition.wait() }
        if !committed.isEmpty {
            let all = committed
            committed.removeAll()
            return .batches(all)
        }
        if !tasks.isEmpty { return .task(tasks.removeFirst()) }
        return nil
    }

    private func runProjectionStage() {
        while let work = nextProjectionWork() {
            switch work {
            case .task(let task): task()
            case .batches(let batches): project(batches)
            }
        }
        condition.lock()
        projectionStageDone = true
        condition.broadcast()
        condition.unlock()
    }

    private func project(_ batches: [Committed]) {
        let started = ContinuousClock.now
        let events = batches.flatMap(\.result.events)
        do {
            try projection.applyCommitted(events)
        } catch {
            repairProjection(after: error)
        }
        Failpoint.afterApply.check()
        let projected = ContinuousClock.now
        metrics.projectionDuration.recordNanoseconds((projected - started).nanoseconds)
        broadcaster.publish(events)
        if let head = batches.last?.result.head {
            metrics.projectionLag.record(Int64(head.seq) - Int64(projection.appliedThrough))
        }
        for committed in batches {
            metrics.batches.increment()
            metrics.batchSize.record(committed.batch.count)
            metrics.appendedEvents.increment(by: committed.result.events.count)
            // From durable to projected: how long a committed batch waited for its answer.
            metrics.batchDuration.recordNanoseconds((projected - committed.committedAt).nanoseconds)
            for (item, outcome) in zip(committed.batch, committed.result.outcomes) {
                let events: [CommittedEvent]
                switch outcome {
                case .accepted(let range, _): events = Array(committed.result.events[range])
                case .rejected(let rejection, _): events = []; metrics.rejected(rejection.code.rawValue)
                case .failed: events = []; metrics.rejected("internal_invariant")
                }
                item.promise.succeed(CommitReceipt(outcome: outcome, events: events))
            }
        }
    }

    /// The log is ahead of a projection that could not take a batch: rebuild it from the log
    /// (which includes the batch) before anyone is answered.
    private func repairProjection(after error: any Error) {
        let damage = ProjectionDamage(.damaged, "applying a batch failed: \(error)")
        do {
            try projection.repair(damage)
        } catch {
            logger.critical("the projection cannot be rebuilt (\(error)); reads will fail until it is repaired (ledgerctl rebuild)")
        }
    }

    /// The answer for a batch that could not be committed.
    static func apiError(for error: any Error) -> APIError {
        if let lmdb = error as? LMDBError, lmdb.isDiskFull {
            return .diskFull(lmdb.message)
        }
        return .internal("the batch could not be committed: \(error)")
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
