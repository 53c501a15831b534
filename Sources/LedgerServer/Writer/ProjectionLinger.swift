/// How long committed writes may wait to be projected together when no read needs them.
///
/// One SQLite transaction writes every page it dirties once, so projecting many commit batches
/// together costs far less per event than projecting each alone. But the projection's work then
/// comes in bursts, and on a small machine a burst competes with the writer's next commit for
/// the CPU. So the wait depends on how writes arrive: a commit batch of several events means
/// concurrent writers (throughput matters, the longer wait pays); batches of one or two mean
/// writers one at a time (latency matters, project promptly). Either way writes are answered
/// once durable, and a read that needs the projection ends the wait at once.
public struct ProjectionLinger: Sendable, Hashable {
    /// The wait after a commit batch smaller than ``busyBatch`` events.
    public var quiet: Duration
    /// The wait after a commit batch of ``busyBatch`` events or more.
    public var busy: Duration
    /// Events in a commit batch from which it counts as concurrent writers.
    public var busyBatch: Int

    public init(quiet: Duration = .milliseconds(2), busy: Duration = .milliseconds(20), busyBatch: Int = 4) {
        self.quiet = quiet
        self.busy = busy
        self.busyBatch = busyBatch
    }

    /// The wait for a commit batch of `events` events.
    func wait(afterBatchOf events: Int) -> Duration {
        events >= busyBatch ? busy : quiet
    }
}
