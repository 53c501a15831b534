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

/// The single writer: group commit.
///
/// Requests hand their commands to ``submit(_:promise:)`` from any event loop. One dedicated
/// thread takes everything waiting (up to `maxBatch`), decides and appends it in one LMDB write
/// transaction, commits durably (one fsync for the whole batch), applies the batch to the SQLite
/// projection, publishes it to followers, and only then answers every request of the batch. While
/// a commit is in flight, newly arriving commands queue up and form the next batch.
///
/// LMDB requires a write transaction to stay on one thread; here every write does.
final class GroupCommitter: @unchecked Sendable {
    private struct Pending {
        var envelope: CommandEnvelope
        var promise: EventLoopPromise<CommitReceipt>
    }

    private let ledger: Ledger
    private let projection: Projection
    private let broadcaster: EventBroadcaster
    private let metrics: LedgerMetrics
    private let logger: Logger
    private let maxBatch: Int

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Pending] = []
    private var tasks: [@Sendable () -> Void] = []
    private var stopping = false
    private var stopped = false

    init(ledger: Ledger, projection: Projection, broadcaster: EventBroadcaster, metrics: LedgerMetrics, logger: Logger, maxBatch: Int) {
        self.ledger = ledger
        self.projection = projection
        self.broadcaster = broadcaster
        self.metrics = metrics
        self.logger = logger
        self.maxBatch = max(1, maxBatch)
    }

    /// Starts the writer thread.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "ledger-writer"
        thread.start()
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
        condition.signal()
        condition.unlock()
    }

    /// Runs `work` on the writer thread between batches (rebuild installs, checks, repairs),
    /// so it never interleaves with an append.
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
        condition.signal()
        condition.unlock()
        return promise.futureResult
    }

    /// Stops taking commands, commits and answers everything already queued, and waits for the
    /// writer thread to finish.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private enum Work {
        case batch([Pending])
        case task(@Sendable () -> Void)
    }

    /// The next thing to do, waiting for it; nil once stopping and drained.
    private func next() -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && tasks.isEmpty && !stopping { condition.wait() }
        if !tasks.isEmpty { return .task(tasks.removeFirst()) }
        if pending.isEmpty { return nil }
        let count = min(maxBatch, pending.count)
        let batch = Array(pending.prefix(count))
        pending.removeFirst(count)
        return .batch(batch)
    }

    private func run() {
        while let work = next() {
            switch work {
            case .task(let task): task()
            case .batch(let batch): commit(batch)
            }
        }
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func commit(_ batch: [Pending]) {
        let started = ContinuousClock.now
        let result: AppendResult
        do {
            result = try ledger.append(batch.map(\.envelope), now: WallClock.microseconds())
        } catch {
            let failure = Self.apiError(for: error)
            logger.error("batch of \(batch.count) commands not committed: \(error)")
            for item in batch { item.promise.fail(failure) }
            return
        }
        // Durable from here on. Project before answering, so a read after the answer sees it.
        do {
            try projection.apply(result.events)
        } catch {
            repairProjection(after: error)
        }
        broadcaster.publish(result.events)

        metrics.batches.increment()
        metrics.batchSize.record(batch.count)
        metrics.appendedEvents.increment(by: result.events.count)
        metrics.batchDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        if let checkpoint = try? projection.checkpoint() {
            metrics.projectionLag.record(Int64(result.head.seq) - Int64(checkpoint.seq))
        }
        for (item, outcome) in zip(batch, result.outcomes) {
            let events: [CommittedEvent]
            switch outcome {
            case .accepted(let range, _): events = Array(result.events[range])
            case .rejected(let rejection, _): events = []; metrics.rejected(rejection.code.rawValue)
            case .failed: events = []; metrics.rejected("internal_invariant")
            }
            item.promise.succeed(CommitReceipt(outcome: outcome, events: events))
        }
    }

    /// The log is ahead of a projection that could not take the batch: rebuild it from the log
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
