import Foundation
import Ledger
import LedgerAPI
import Logging
import NIOCore
import Projections
import Synchronization

/// What one submitted command came to, once its batch is durable.
struct CommitReceipt: Sendable {
    var outcome: CommandOutcome
    /// The events this command appended (empty when rejected or a no-op): a slice of the
    /// batch's events, so answering a batch allocates no array per command.
    var events: ArraySlice<CommittedEvent>
}

/// The writer: group commit in two pipelined stages.
///
/// Requests hand their commands to ``submit(_:promise:)`` from any event loop.
///
/// 1. The **commit** thread takes everything waiting (up to `maxBatch`), decides and appends it
///    in one LMDB write transaction and commits durably: one fsync for the whole batch. It then
///    answers every request of the batch: an answer means the write is on disk. While a commit
///    is in flight, arriving commands queue up and form the next batch.
/// 2. The **projection** thread takes every committed batch waiting, applies them to the SQLite
///    projection in one transaction and publishes them to followers.
///
/// The projection is off the write's path, so a read could arrive before the projection has
/// caught up with a write already answered. Reads therefore pass ``projectionCoversCommits(on:)``
/// first: it lets them through at once when the projection covers every commit made so far
/// (the usual case) and otherwise holds them until it does. So a read that starts after an
/// answer always sees the write. LMDB write transactions all run on the commit thread, as LMDB
/// requires. Admin work (rebuild installs, checks, repairs) runs on the projection thread
/// between batches.
final class GroupCommitter: @unchecked Sendable {
    private struct Pending: Sendable {
        var envelope: CommandEnvelope
        var eventLoop: any EventLoop
        var answer: Answer
    }

    /// Called on the submitter's event loop with what became of a command.
    typealias Answer = @Sendable (Result<CommitReceipt, APIError>) -> Void

    /// A committed (and answered) batch on its way to the projection thread, which merges its
    /// changes into its ``ProjectionBacklog`` while it lingers. Its events are not held: the
    /// projection reads them back from the log (see ``ProjectionBacklog``).
    private struct Committed {
        /// The seqs of the events it appended; nil when it appended none.
        var seqs: ClosedRange<UInt64>?
        var changed: LedgerState
        var head: LedgerHead
        var committedAt: ContinuousClock.Instant
    }

    /// A read held until the projection covers `seq`.
    private struct ReadFence {
        var seq: UInt64
        var promise: EventLoopPromise<Void>
    }

    private let ledger: Ledger
    private let projection: Projection
    private let broadcaster: EventBroadcaster
    private let metrics: LedgerMetrics
    private let logger: Logger
    private let maxBatch: Int
    private let freeSpace: FreeSpaceGuard
    /// How long committed events may wait for the projection when no read needs them.
    private let projectionLinger: ProjectionLinger
    /// The seq of the last durable commit, published before its requests are answered.
    private let durableSeq = Atomic<UInt64>(0)
    private let committedBatchCount = Atomic<UInt64>(0)

    // Two queues, each with its own lock and condition, so that each thread is woken only for
    // its own work: with one condition for both, every submitted command woke the lingering
    // projection thread too (7,000 needless wake-ups a second at 64 clients).

    /// Guards `pending` and `submissionsClosed`; signalled for the commit thread.
    private let commitQueue = NSCondition()
    private var pending: [Pending] = []
    private var submissionsClosed = false

    /// Guards everything below. Two threads may wait on it, the projection thread and
    /// `stop()`, so it is always broadcast: a signal could wake `stop()` instead. Its timed
    /// waits (the linger) run on the monotonic clock: a wall clock set back would stretch them.
    private let projectionQueue = MonotonicCondition()
    /// Batches the projection thread has not taken yet.
    private var committed: [Committed] = []
    /// Events appended by the batches in `committed`.
    private var untakenEvents = 0
    /// Events waiting for the projection: in `committed` and in the projection thread's backlog.
    private var committedEvents = 0
    /// When the oldest waiting batch was committed, and its size: where the linger starts.
    private var waitingSince: (instant: ContinuousClock.Instant, events: Int)?
    /// Whether a waiting batch came from concurrent writers (``ProjectionLinger/busyBatch``
    /// events or more): then batches are merged while they wait (see ``mergeEvery``).
    private var lingersBusy = false
    /// Batches taken by the projection thread while it lingers (that thread's own).
    private var lingering = ProjectionBacklog()
    /// Events in batches not taken yet that make the lingering projection thread take them in
    /// and merge their changes, when the writes come from concurrent writers (the linger's
    /// busy case): a few dozen wake-ups a second at full speed. A lone writer's batches (a
    /// second of them is a few thousand events) are merged when projected, as before: merging
    /// them while lingering doubled its p999 (0.73–1.14 → 2.0–2.4 ms in three pairs).
    static let mergeEvery = 2_048
    /// The commit thread waits for the projection to take the backlog (see `waitForProjectionRoom`).
    private var writerWaitsForProjection = false
    private var tasks: [@Sendable () -> Void] = []
    private var fences: [ReadFence] = []
    /// When a read last had to wait for the projection (see ``ProjectionLinger/readWindow``).
    private var lastReadWait: ContinuousClock.Instant?
    private var stopping = false
    private var commitStageDone = false
    private var projectionStageDone = false

    init(ledger: Ledger, projection: Projection, broadcaster: EventBroadcaster, metrics: LedgerMetrics, logger: Logger, maxBatch: Int,
         projectionLinger: ProjectionLinger = ProjectionLinger(), freeSpace: FreeSpaceGuard) {
        self.projectionLinger = projectionLinger
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
        broadcaster.whenSubscribed { [weak self] in self?.followerSubscribed() }
        let commitThread = Thread { [self] in
            ThreadName.setCurrent("ledger-commit")
            runCommitStage()
        }
        commitThread.start()
        let projectionThread = Thread { [self] in
            ThreadName.setCurrent("ledger-project")
            BackgroundPriority.applyToCurrentThread()
            runProjectionStage()
        }
        projectionThread.start()
    }

    /// Queues a command; `answer` runs on `eventLoop` once its batch is durable, or with an
    /// ``APIError`` (disk full, shutting down, storage failure).
    ///
    /// A callback rather than a promise: the caller turns the receipt into its response in
    /// that one call, where a promise chain would allocate a future and a callback list for
    /// each step (map, error mapping) of every write.
    func submit(_ envelope: CommandEnvelope, on eventLoop: any EventLoop, answer: @escaping Answer) {
        commitQueue.lock()
        if submissionsClosed {
            commitQueue.unlock()
            eventLoop.execute { answer(.failure(APIError.shuttingDown)) }
            return
        }
        pending.append(Pending(envelope: envelope, eventLoop: eventLoop, answer: answer))
        commitQueue.signal()
        commitQueue.unlock()
    }

    /// Runs `work` on the projection thread between batches (rebuild installs, checks,
    /// repairs), so it never interleaves with a projection apply.
    func perform<T: Sendable>(on eventLoop: any EventLoop, _ work: @escaping @Sendable () throws -> T) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        projectionQueue.lock()
        if stopping {
            projectionQueue.unlock()
            promise.fail(APIError.shuttingDown)
            return promise.futureResult
        }
        tasks.append {
            do { promise.succeed(try work()) } catch { promise.fail(error) }
        }
        projectionQueue.broadcast()
        projectionQueue.unlock()
        return promise.futureResult
    }

    /// Nil when the projection already covers every commit answered so far; otherwise a future
    /// that succeeds once it does (or fails if the projection cannot be brought up to date).
    ///
    /// Taken by every projection read, so a read that starts after a write was answered sees it.
    func projectionCoversCommits(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        let seq = durableSeq.load(ordering: .acquiring)
        if projection.appliedThrough >= seq { return nil }
        let promise = eventLoop.makePromise(of: Void.self)
        projectionQueue.lock()
        // Checked again under the lock: the projection thread publishes its progress before it
        // takes the lock to release fences, so a fence added now cannot miss that release.
        if projection.appliedThrough >= seq {
            projectionQueue.unlock()
            promise.succeed()
        } else if projectionStageDone {
            projectionQueue.unlock()
            promise.fail(APIError.shuttingDown)
        } else {
            fences.append(ReadFence(seq: seq, promise: promise))
            lastReadWait = .now
            projectionQueue.broadcast()  // a lingering projection stage applies at once
            projectionQueue.unlock()
        }
        return promise.futureResult
    }

    /// A follow stream opened: batches already lingering under the long wait (their deadline
    /// was set before anyone followed) are projected within the short one, like later ones.
    private func followerSubscribed() {
        projectionQueue.lock()
        if committedEvents > 0 { projectionQueue.broadcast() }
        projectionQueue.unlock()
    }

    /// Stops taking commands, commits, projects and answers everything already queued, and
    /// waits for both stages to finish.
    func stop() {
        commitQueue.lock()
        submissionsClosed = true
        commitQueue.signal()
        commitQueue.unlock()
        projectionQueue.lock()
        stopping = true
        projectionQueue.broadcast()
        while !(commitStageDone && projectionStageDone) { projectionQueue.wait() }
        projectionQueue.unlock()
    }

    // MARK: Stage 1: commit

    private func nextBatch() -> [Pending]? {
        commitQueue.lock()
        defer { commitQueue.unlock() }
        while pending.isEmpty && !submissionsClosed { commitQueue.wait() }
        if pending.isEmpty { return nil }
        if pending.count <= maxBatch {
            // The usual case: everything waiting is the batch, handed over without copying;
            // the next one is likely about as large, so its room is made now, not by doubling.
            let batch = pending
            pending = []
            pending.reserveCapacity(batch.count)
            return batch
        }
        let batch = Array(pending.prefix(maxBatch))
        pending.removeFirst(maxBatch)
        return batch
    }

    private func runCommitStage() {
        while let batch = nextBatch() {
            let started = ContinuousClock.now
            if let shortage = freeSpace.shortage() {
                // Refuse before anything is written: the log and the projection stay in step,
                // and reads keep working.
                fail(batch, with: APIError.diskFull(shortage))
                metrics.rejected("disk_full")
                continue
            }
            waitForProjectionRoom()
            let result: AppendResult
            do {
                result = try ledger.append(batch.map(\.envelope), now: WallClock.microseconds())
            } catch {
                let failure = Self.apiError(for: error)
                logger.error("batch not committed", metadata: ["commands": "\(batch.count)", "error": "\(error)", "answer": "\(failure.code)"])
                fail(batch, with: failure)
                continue
            }
            Failpoint.afterCommit.check()
            committedBatchCount.add(1, ordering: .relaxed)
            let now = ContinuousClock.now
            metrics.commitDuration.recordNanoseconds((now - started).nanoseconds)
            projectionQueue.lock()
            // Published under the lock with the batch, so the projection thread never sees a
            // durable seq whose batch it has not been handed (see releaseFences).
            durableSeq.store(result.head.seq, ordering: .releasing)
            let seqs = result.events.first.map { $0.event.seq...result.head.seq }
            committed.append(Committed(seqs: seqs, changed: result.changed, head: result.head, committedAt: now))
            let first = committedEvents == 0
            if first { waitingSince = (now, result.events.count) }
            committedEvents += result.events.count
            let mergeWasDue = lingersBusy && untakenEvents >= Self.mergeEvery
            if result.events.count >= projectionLinger.busyBatch { lingersBusy = true }
            untakenEvents += result.events.count
            let mergeDue = lingersBusy && untakenEvents >= Self.mergeEvery
            // A projection thread already lingering over older batches keeps its deadline (it
            // is set by the oldest batch); it is woken only when it has nothing yet, when it
            // has batches to merge, or when the batch limit is reached.
            if first || (mergeDue && !mergeWasDue)
                || committedEvents >= projectionLinger.eventLimit(read: projectionIsRead(now: now)) {
                projectionQueue.broadcast()
            }
            projectionQueue.unlock()
            answer(batch, with: result)
        }
        projectionQueue.lock()
        commitStageDone = true
        projectionQueue.broadcast()
        projectionQueue.unlock()
    }

    /// Batches committed since the start: whether writes came in since a moment before.
    var batchesCommitted: UInt64 { committedBatchCount.load(ordering: .relaxed) }

    /// Holds the commit thread while ``ProjectionLinger/maxBacklog`` committed events wait for
    /// the projection, until the projection thread takes them: memory stays bounded when the
    /// projection is slower than the writes, and the writes slow to its pace instead.
    private func waitForProjectionRoom() {
        projectionQueue.lock()
        defer { projectionQueue.unlock() }
        guard committedEvents >= projectionLinger.maxBacklog, !projectionStageDone else { return }
        let started = ContinuousClock.now
        while committedEvents >= projectionLinger.maxBacklog && !projectionStageDone {
            writerWaitsForProjection = true
            projectionQueue.wait()
        }
        writerWaitsForProjection = false
        metrics.projectionBackpressure.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
    }

    /// Answers every request of a durable batch.
    ///
    /// One task per event loop carries all of that loop's answers: fulfilling each promise from
    /// this thread would queue a task (and take the loop's lock) per request, on the thread
    /// every write waits for.
    private func answer(_ batch: [Pending], with result: AppendResult) {
        metrics.batches.increment()
        metrics.batchSize.record(batch.count)
        metrics.appendedEvents.increment(by: result.events.count)
        for outcome in result.outcomes {
            switch outcome {
            case .accepted: break
            case .rejected(let rejection, _): metrics.rejected(rejection.code.rawValue)
            case .failed: metrics.rejected("internal_invariant")
            }
        }
        // The batch and its result go to each loop whole, with the positions of that loop's
        // requests: each loop makes its own receipts, so this thread, which every write
        // waits for, copies nothing per request.
        var loops: [any EventLoop] = []
        var positions: [[Int]] = []
        for index in batch.indices {
            let loop = batch[index].eventLoop
            if let group = loops.firstIndex(where: { $0 === loop }) {
                positions[group].append(index)
            } else {
                loops.append(loop)
                positions.append([index])
            }
        }
        for (group, loop) in loops.enumerated() {
            let indexes = positions[group]
            loop.execute {
                for index in indexes { batch[index].answer(.success(Self.receipt(of: index, in: result))) }
            }
        }
    }

    /// What the command at `index` of a committed batch came to.
    private static func receipt(of index: Int, in result: AppendResult) -> CommitReceipt {
        let outcome = result.outcomes[index]
        if case .accepted(let range, _) = outcome {
            return CommitReceipt(outcome: outcome, events: result.events[range])
        }
        return CommitReceipt(outcome: outcome, events: [])
    }

    /// Answers every request of a batch that was not committed with the same error.
    private func fail(_ batch: [Pending], with error: APIError) {
        for item in batch { item.eventLoop.execute { item.answer(.failure(error)) } }
    }

    // MARK: Stage 2: project

    private enum ProjectionWork {
        case batches([Committed])
        case task(@Sendable () -> Void)
    }

    /// The next work of the projection thread.
    ///
    /// Committed batches linger (``ProjectionLinger``: long after a batch of concurrent writers,
    /// short after a lone writer) so that one SQLite transaction takes many of them: it writes
    /// every B-tree page it dirties to the WAL once, and events of one transaction share pages.
    /// A read waiting for the projection, an admin task, a full batch or a shutdown ends the wait.
    private func nextProjectionWork() -> ProjectionWork? {
        projectionQueue.lock()
        defer { projectionQueue.unlock() }
        while true {
            if committedEvents > 0, let oldest = waitingSince {
                let now = ContinuousClock.now
                let read = projectionIsRead(now: now)
                let deadline = oldest.instant + projectionLinger.wait(afterBatchOf: oldest.events, read: read)
                if fences.isEmpty && tasks.isEmpty && !stopping && committedEvents < projectionLinger.eventLimit(read: read)
                    && now < deadline {
                    if untakenEvents >= Self.mergeEvery && lingersBusy {
                        // Merged outside the lock: the commit thread goes on meanwhile.
                        let arrived = committed
                        committed.removeAll(keepingCapacity: true)
                        untakenEvents = 0
                        projectionQueue.unlock()
                        take(arrived)
                        projectionQueue.lock()
                    } else {
                        projectionQueue.wait(for: deadline - now)
                    }
                    continue
                }
                let arrived = committed
                committed.removeAll()
                untakenEvents = 0
                committedEvents = 0
                waitingSince = nil
                lingersBusy = false
                if writerWaitsForProjection { projectionQueue.broadcast() }
                return .batches(arrived)
            }
            if !tasks.isEmpty { return .task(tasks.removeFirst()) }
            if stopping && commitStageDone { return nil }
            projectionQueue.wait()
        }
    }

    /// Whether someone reads the projection now: a read waited for it within the linger's read
    /// window, or a follow stream is open. Called under the projection queue's lock.
    private func projectionIsRead(now: ContinuousClock.Instant) -> Bool {
        broadcaster.count > 0 || lastReadWait.map { now - $0 < projectionLinger.readWindow } ?? false
    }

    private func runProjectionStage() {
        while let work = nextProjectionWork() {
            switch work {
            case .task(let task): task()
            case .batches(let arrived):
                take(arrived)
                project(lingering.takeAll())
            }
            releaseFences()
        }
        projectionQueue.lock()
        projectionStageDone = true
        let stranded = fences
        fences.removeAll()
        projectionQueue.broadcast()
        projectionQueue.unlock()
        for fence in stranded { fence.promise.fail(APIError.shuttingDown) }
    }

    /// Takes batches into the projection thread's backlog. Projection thread only.
    private func take(_ arrived: [Committed]) {
        for batch in arrived {
            lingering.absorb(seqs: batch.seqs, changed: batch.changed, head: batch.head, committedAt: batch.committedAt)
        }
    }

    private func project(_ backlog: ProjectionBacklog) {
        if let delay = Self.projectionDelay { usleep(delay) }
        let started = ContinuousClock.now
        let batches = backlog.batches
        if let seqs = backlog.seqs {
            do {
                try projection.applyCommitted(from: seqs.lowerBound, through: seqs.upperBound, changed: backlog.changed)
            } catch {
                repairProjection(after: error)
            }
        }
        Failpoint.afterApply.check()
        let projected = ContinuousClock.now
        metrics.projectionDuration.recordNanoseconds((projected - started).nanoseconds)
        if let seqs = backlog.seqs, broadcaster.count > 0 { publish(seqs) }
        if let head = batches.last?.head {
            metrics.projectionLag.record(Int64(head.seq) - Int64(projection.appliedThrough))
        }
        for committed in batches {
            // From durable to projected: how long a committed batch waited to become readable.
            metrics.batchDuration.recordNanoseconds((projected - committed.committedAt).nanoseconds)
        }
    }

    /// Hands the events of `seqs`, just projected, to the follow streams, read back from the log
    /// like the projection read them (followers keep the linger short, so these are few).
    private func publish(_ seqs: ClosedRange<UInt64>) {
        do {
            broadcaster.publish(try ledger.loggedEvents(from: seqs.lowerBound, through: seqs.upperBound))
        } catch {
            // Followers then miss these events rather than stall: their streams end with the
            // error below, and a reconnecting follower resumes from the last seq it saw.
            logger.error("committed events could not be read back for followers", metadata: ["seqs": "\(seqs)", "error": "\(error)"])
            broadcaster.failAll(error)
        }
    }

    /// A test hook: `LEDGERD_PROJECTION_DELAY_MS=<n>` holds every projection apply for n ms, so
    /// tests can see reads wait for a lagging projection rather than answer from behind it.
    private static let projectionDelay: UInt32? = getenv("LEDGERD_PROJECTION_DELAY_MS")
        .flatMap { UInt32(String(cString: $0)) }.map { $0 * 1_000 }

    /// Lets through the reads the projection now covers. Reads waiting on a projection that
    /// could not be brought up to date (its repair failed) get an error rather than waiting on.
    private func releaseFences() {
        let applied = projection.appliedThrough
        projectionQueue.lock()
        if fences.isEmpty {
            projectionQueue.unlock()
            return
        }
        let stuck = committedEvents == 0 && applied < durableSeq.load(ordering: .acquiring)
        var released: [ReadFence] = []
        var failed: [ReadFence] = []
        fences.removeAll { fence in
            if fence.seq <= applied {
                released.append(fence)
                return true
            }
            if stuck {
                failed.append(fence)
                return true
            }
            return false
        }
        projectionQueue.unlock()
        for fence in released { fence.promise.succeed() }
        for fence in failed {
            fence.promise.fail(APIError.internal("the projection is behind the log and could not be repaired; see ledgerd's log and run ledgerctl rebuild"))
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
