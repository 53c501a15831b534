/// How long committed writes may wait to be projected together when no read needs them.
///
/// One SQLite transaction writes every page it dirties once, so projecting many commit batches
/// together costs far less per event than projecting each alone. The wait may differ by how
/// writes arrive (commit batches of one or two events: writers one at a time; larger ones:
/// concurrent writers); by default both are a second, and a transaction takes 32,768 events at
/// most (``maxEvents``).
///
/// Larger transactions cost the projection less per event: 131,072 events within 4 s took its
/// CPU per event down by a quarter (7.5 → 5.6 µs on 10k keys, 23–26 → 17–21 µs on a million;
/// docs/performance.md), and since waiting events are read back from the log they no longer
/// hold events in memory. They are not the default because of what a listing then waits for:
/// the first list read in a write storm ends the wait and waits itself for everything held
/// back, up to four times as many events (2–3 s of projection work on a million keys), and the
/// heap under load runs 20–120 MB higher. (A disk stall once blamed on them hit the smaller
/// transactions just as hard when another writer kept the disk busy; docs/performance.md,
/// "Larger projection transactions: the disk stall was not theirs".)
///
/// A lone writer was once projected within 2 ms, to keep the projection's bursts small, but
/// measured since then its tail latency is better with the long wait (1-client p99 0.26–0.39 ms
/// in 9 of 10 runs against 0.75–1.43 ms): a SQLite transaction every few milliseconds rewrote
/// the same pages into the WAL (2.3 times the `pwrite` calls), which the checkpoint copies and
/// flushes every 50 ms in front of the writer's own flushes (see docs/performance.md, "The
/// 1-client tail"). Either way writes are answered once durable, and a read that needs the
/// projection ends the wait at once.
///
/// A read that ends the wait then waits itself for everything held back, and a follow stream
/// (`GET /v1/events?follow`) gets events once they are projected; so the long wait is kept for
/// while nobody reads the projection. For ``readWindow`` after a read had to wait, and while a
/// follow stream is open, writes linger at most ``busyWhileRead`` and ``maxEventsWhileRead``
/// events. (The hot read, a conversation's current state, comes from the ledger's head state
/// and never waits for the projection.)
public struct ProjectionLinger: Sendable, Hashable {
    /// The wait after a commit batch smaller than ``busyBatch`` events.
    public var quiet: Duration
    /// The wait after a commit batch of ``busyBatch`` events or more.
    public var busy: Duration
    /// The longest wait within ``readWindow`` of a read that waited for the projection, or
    /// while a follow stream is open.
    public var busyWhileRead: Duration
    /// Events in a commit batch from which it counts as concurrent writers.
    public var busyBatch: Int
    /// Events taken into one projection transaction at most: reaching it ends the wait.
    public var maxEvents: Int
    /// The same, within ``readWindow`` of a read that waited for the projection, or while a
    /// follow stream is open.
    public var maxEventsWhileRead: Int
    /// How long after a read waited for the projection the shorter limits apply.
    public var readWindow: Duration
    /// Committed events waiting for the projection at most. A projection slower than the writes
    /// (a million keys, each write a random page) would otherwise fall behind without bound;
    /// at this many the writer waits for the projection to take them, and writes go at the
    /// projection's pace. Waiting events are read back from the log, so what they hold in
    /// memory is the entities they changed (at most one entry per conversation, session and
    /// owner), which this bounds too.
    public var maxBacklog: Int

    public init(quiet: Duration = .seconds(1), busy: Duration = .seconds(1), busyWhileRead: Duration = .milliseconds(20),
                busyBatch: Int = 4, maxEvents: Int = 32_768, maxEventsWhileRead: Int = 4_096, readWindow: Duration = .seconds(5),
                maxBacklog: Int = 65_536) {
        self.quiet = quiet
        self.busy = busy
        self.busyWhileRead = min(busy, busyWhileRead)
        self.busyBatch = busyBatch
        self.maxEvents = max(1, maxEvents)
        self.maxEventsWhileRead = max(1, min(maxEvents, maxEventsWhileRead))
        self.readWindow = readWindow
        // Never below one transaction's worth: the projection thread takes the queue when it
        // reaches maxEvents, so a smaller bound would hold the writer on every batch.
        self.maxBacklog = max(self.maxEvents, maxBacklog)
    }

    /// The wait for a commit batch of `events` events; `read`: someone reads the projection now.
    func wait(afterBatchOf events: Int, read: Bool) -> Duration {
        let wait = events < busyBatch ? quiet : busy
        return read ? min(wait, busyWhileRead) : wait
    }

    /// Events projected in one transaction at most; `read`: someone reads the projection now.
    func eventLimit(read: Bool) -> Int {
        read ? maxEventsWhileRead : maxEvents
    }
}
