import CoreMetrics
import Ledger
import Metrics
import Projections
import Prometheus
import Synchronization

/// ledgerd's metrics, through swift-metrics, kept in this daemon's own Prometheus registry (no
/// process-wide bootstrap, so several daemons can live in one test process).
public final class LedgerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    /// Events appended to the log.
    let appendedEvents: CoreMetrics.Counter
    /// Batches committed (one durable LMDB commit each).
    let batches: CoreMetrics.Counter
    /// Commands per batch.
    let batchSize: CoreMetrics.Recorder
    /// Time from a batch's durable commit (when it is answered) to its projection.
    let batchDuration: CoreMetrics.Timer
    /// Time of the decide + durable LMDB commit of a batch.
    let commitDuration: CoreMetrics.Timer
    /// Time of applying a batch to the SQLite projection.
    let projectionDuration: CoreMetrics.Timer
    /// Projection lag in events (head seq minus checkpoint seq), after each batch.
    let projectionLag: CoreMetrics.Gauge
    /// Time the writer waited for the projection to take its backlog (``ProjectionLinger/maxBacklog``).
    let projectionBackpressure: CoreMetrics.Timer
    /// Heap trims after bursts of writes (``IdleHeapTrim``).
    let heapTrims: CoreMetrics.Counter
    let openConnections: CoreMetrics.Meter
    /// SQLite's allocations (page caches above all), set when the metrics are read.
    private let sqliteMemory: CoreMetrics.Gauge
    /// Events whose head state is held in memory only (folded again from the log after a
    /// crash), set when the metrics are read.
    private let headStateHeld: CoreMetrics.Gauge
    /// 1 while the last write-back of head state failed (it is retried; the log is unaffected).
    private let headStateWriteBackFailing: CoreMetrics.Gauge
    private let rejectionCounters: Mutex<[String: CoreMetrics.Counter]> = Mutex([:])
    /// One latency timer per route, made up front: the hot path takes no lock to find it.
    private let requestTimers: [String: CoreMetrics.Timer]

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["ledger_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        let latency: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                   .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .seconds(1)]
        factory.durationHistogramBuckets["ledger_request_duration_seconds"] = latency
        factory.durationHistogramBuckets["ledger_batch_duration_seconds"] = latency
        factory.durationHistogramBuckets["ledger_commit_duration_seconds"] = latency
        factory.durationHistogramBuckets["ledger_projection_apply_duration_seconds"] = latency
        factory.durationHistogramBuckets["ledger_projection_backpressure_seconds"] = latency
        self.factory = factory
        appendedEvents = CoreMetrics.Counter(label: "ledger_appended_events_total", factory: factory)
        batches = CoreMetrics.Counter(label: "ledger_batches_total", factory: factory)
        batchSize = CoreMetrics.Recorder(label: "ledger_batch_size", factory: factory)
        batchDuration = CoreMetrics.Timer(label: "ledger_batch_duration_seconds", factory: factory)
        commitDuration = CoreMetrics.Timer(label: "ledger_commit_duration_seconds", factory: factory)
        projectionDuration = CoreMetrics.Timer(label: "ledger_projection_apply_duration_seconds", factory: factory)
        projectionLag = CoreMetrics.Gauge(label: "ledger_projection_lag_events", factory: factory)
        projectionBackpressure = CoreMetrics.Timer(label: "ledger_projection_backpressure_seconds", factory: factory)
        heapTrims = CoreMetrics.Counter(label: "ledger_heap_trims_total", factory: factory)
        openConnections = CoreMetrics.Meter(label: "ledger_open_connections", factory: factory)
        sqliteMemory = CoreMetrics.Gauge(label: "ledger_sqlite_memory_bytes", factory: factory)
        headStateHeld = CoreMetrics.Gauge(label: "ledger_head_state_held_events", factory: factory)
        headStateWriteBackFailing = CoreMetrics.Gauge(label: "ledger_head_state_write_back_failing", factory: factory)
        var timers: [String: CoreMetrics.Timer] = [:]
        for route in LedgerHandler.Route.allCases {
            timers[route.rawValue] = CoreMetrics.Timer(label: "ledger_request_duration_seconds", dimensions: [("route", route.rawValue)], factory: factory)
        }
        requestTimers = timers
    }

    /// Counts a refused command by its code.
    func rejected(_ code: String) {
        let counter = rejectionCounters.withLock { counters in
            if let existing = counters[code] { return existing }
            let made = CoreMetrics.Counter(label: "ledger_rejections_total", dimensions: [("code", code)], factory: factory)
            counters[code] = made
            return made
        }
        counter.increment()
    }

    /// Records how long a request to `route` took.
    func requestFinished(route: LedgerHandler.Route, nanoseconds: Int64) {
        requestTimers[route.rawValue]?.recordNanoseconds(nanoseconds)
    }

    /// The Prometheus text exposition.
    ///
    /// - Parameter ledger: the ledger whose head-state write-back is reported.
    public func exposition(ledger: Ledger) -> [UInt8] {
        sqliteMemory.record(SQLiteMemory.bytesInUse)
        let headState = ledger.headStateStatus
        headStateHeld.record(headState.heldEvents)
        headStateWriteBackFailing.record(headState.writeBackError == nil ? 0 : 1)
        return registry.emitToBuffer()
    }
}
