import Foundation
import GRDB
import Ledger
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite read models of one data directory, kept as a fold of its ledger.
///
/// Opening checks the live file (``ProjectionCheckLevel``) and repairs it when it cannot be
/// trusted: the damaged file is moved to `forensics/`, a new generation is rebuilt from the
/// log, and one log line says what happened and why. It then catches up from its checkpoint
/// to the log's head.
///
/// Writes (``apply(_:)``, ``catchUp()``, ``rebuild(progress:)``, ``repair(_:)``) must come from
/// one thread at a time, in log order: ledgerd's writer. Reads may come from any thread.
public final class Projection: Sendable {
    public let files: ProjectionFiles
    public let ledger: Ledger
    public let isReadOnly: Bool
    private let logger: Logger
    private let readers: Int
    private let live: Mutex<LiveGeneration>
    /// The checkpoint seq as of the last write: the writer's own knowledge, read without SQLite.
    private let appliedSeq = Atomic<UInt64>(0)

    struct LiveGeneration: Sendable {
        var generation: Int
        var pool: DatabasePool
        /// Checkpoints this generation's WAL (writable projections only).
        var checkpointer: WALCheckpointer?
    }

    private init(files: ProjectionFiles, ledger: Ledger, logger: Logger, readers: Int, readOnly: Bool, live: LiveGeneration) {
        self.files = files
        self.ledger = ledger
        self.logger = logger
        self.readers = readers
        self.isReadOnly = readOnly
        self.live = Mutex(live)
    }

    deinit {
        live.withLock { $0.checkpointer }?.stop()
    }

    /// Opens the projection in `directory`, repairing and catching up as needed.
    ///
    /// - Parameters:
    ///   - directory: the data directory (the live link is `projection.sqlite` inside it).
    ///   - ledger: the log the projection folds.
    ///   - check: how thoroughly to check the file before trusting it.
    ///   - readers: size of the reader pool.
    /// - Throws: ``ProjectionError`` or SQLite/LMDB errors when even a rebuild fails.
    public static func open(directory: String, ledger: Ledger, logger: Logger = Logger(label: "ledger.projection"),
                            check: ProjectionCheckLevel = .quick, readers: Int = 8) throws -> Projection {
        let files = ProjectionFiles(directory: directory)
        mkdir(directory, 0o700)
        var opened: LiveGeneration?
        var damage: ProjectionDamage?
        var setAside: String?
        if let generation = files.liveGeneration(), access(files.path(ofGeneration: generation), F_OK) == 0 {
            do {
                let pool = try ProjectionDatabase.openPool(path: files.livePath, readers: readers)
                damage = ProjectionHealth.check(pool, ledger: ledger, level: check)
                if damage == nil {
                    try ProjectionSchema.migrator.migrate(pool)
                    opened = LiveGeneration(generation: generation, pool: pool,
                                            checkpointer: try WALCheckpointer(path: files.path(ofGeneration: generation), logger: logger))
                }
            } catch {
                damage = ProjectionDamage(.damaged, "SQLite cannot open it: \(error)")
            }
            if let damage {
                setAside = try files.setAside(generation: generation, label: damage.kind.rawValue)
            }
        } else if try files.liveGeneration() != nil || ledger.head().seq > 0 {
            damage = ProjectionDamage(.missing, "\(files.livePath) is missing")
        }
        if opened == nil {
            let prepared = try ProjectionBuilder.build(files, generation: files.nextGeneration(), ledger: ledger, progress: nil)
            try files.makeLive(prepared.report.generation)
            opened = LiveGeneration(generation: prepared.report.generation,
                                    pool: try ProjectionDatabase.openPool(path: files.livePath, readers: readers),
                                    checkpointer: try WALCheckpointer(path: files.path(ofGeneration: prepared.report.generation), logger: logger))
            if let damage {
                let kept = setAside.map { "moved to \($0); " } ?? ""
                logger.error("projection \(damage.kind.rawValue): \(damage.reason); \(kept)rebuilt \(prepared.report.events) events from the log in \(format(prepared.report.seconds)) s as generation \(prepared.report.generation)\(prepared.report.sortNote)")
            }
        }
        let projection = Projection(files: files, ledger: ledger, logger: logger, readers: readers, readOnly: false, live: opened!)
        projection.removeOtherGenerations()
        try projection.catchUp()
        projection.appliedSeq.store(try projection.checkpoint().seq, ordering: .releasing)
        return projection
    }

    /// Opens the live projection for reading only, without checking, repairing or catching up:
    /// for tools beside a running ledgerd.
    public static func openReadOnly(directory: String, ledger: Ledger, logger: Logger = Logger(label: "ledger.projection")) throws -> Projection {
        let files = ProjectionFiles(directory: directory)
        guard let generation = files.liveGeneration(), access(files.path(ofGeneration: generation), F_OK) == 0 else {
            throw ProjectionError(.damaged, "\(files.livePath) is missing")
        }
        let pool = try ProjectionDatabase.openPool(path: files.livePath, readOnly: true, readers: 2)
        return Projection(files: files, ledger: ledger, logger: logger, readers: 2, readOnly: true,
                          live: LiveGeneration(generation: generation, pool: pool, checkpointer: nil))
    }

    /// The generation the projection serves from.
    public var generation: Int { live.withLock { $0.generation } }

    private var pool: DatabasePool { live.withLock { $0.pool } }

    // MARK: Reading

    /// Lends the read queries to `body` over one consistent read transaction.
    ///
    /// - Throws: ``ProjectionError`` `.damaged` when a row fails its digest or SQLite reports
    ///   corruption; the caller should ``repair(_:)``.
    public func read<R>(_ body: (ProjectionQueries) throws -> R) throws -> R {
        let (generation, pool) = live.withLock { ($0.generation, $0.pool) }
        do {
            return try pool.read { db in try body(ProjectionQueries(db: db)) }
        } catch {
            // A rebuild may have swapped generations under this read: try once more on the new one.
            if self.generation != generation {
                return try self.pool.read { db in try body(ProjectionQueries(db: db)) }
            }
            throw Self.classify(error)
        }
    }

    /// The projection's checkpoint.
    public func checkpoint() throws -> Checkpoint {
        try read { try $0.checkpoint() }
    }

    /// The seq the writer last brought the projection to (no SQLite read).
    public var appliedThrough: UInt64 { appliedSeq.load(ordering: .acquiring) }

    // MARK: Writing

    /// Applies events just committed to the log, in one SQLite transaction.
    ///
    /// - Throws: ``ProjectionError`` `.outOfOrder` when they do not follow the checkpoint,
    ///   `.refused` when they do not follow the chain or break an invariant, `.damaged` on
    ///   SQLite corruption. Nothing is applied then.
    public func apply(_ events: [CommittedEvent]) throws {
        guard !events.isEmpty else { return }
        do {
            let reached = try pool.write { db -> UInt64 in
                var projector = try Projector(db: db)
                for (index, committed) in events.enumerated() {
                    try committed.stored.withUnsafeBytes { try projector.apply(seq: committed.event.seq, record: $0) }
                    if index == events.count / 2 { Failpoint.midProjection.check() }
                }
                try projector.finish()
                return projector.checkpoint.seq
            }
            appliedSeq.store(reached, ordering: .releasing)
        } catch {
            throw Self.classify(error)
        }
    }

    /// Brings the projection up to seq `last`, just committed to the log, in one transaction.
    ///
    /// When `first` is the checkpoint's next seq, the events are read back from the log and the
    /// rows written from `changed`, the entities as the ledger's state machine left them (see
    /// ``AppendResult/changed``; merged over every batch from `first` through `last`, later
    /// ones winning): no second fold, no lookups. When the checkpoint already covers some of
    /// them (a rebuild or repair caught up past them) or there is a gap, the log is folded from
    /// the checkpoint instead (``catchUp(batchSize:)``); when it covers them all, nothing changes.
    ///
    /// - Parameters:
    ///   - first: the first seq `changed` covers.
    ///   - last: the last seq to apply.
    ///   - changed: what the events from `first` through `last` changed.
    /// - Throws: ``ProjectionError`` `.refused` when the log does not chain from the
    ///   checkpoint, `.damaged` on SQLite corruption. Nothing is applied then.
    public func applyCommitted(from first: UInt64, through last: UInt64, changed: LedgerState) throws {
        let checkpoint = appliedSeq.load(ordering: .acquiring)
        if last <= checkpoint || first > last { return }
        guard first == checkpoint + 1 else {
            try catchUp()
            return
        }
        do {
            let reached = try pool.write { db -> UInt64 in
                let writer = try ProjectionWriter(db)
                return try writer.write(from: ledger, through: last, changed: changed, after: try CheckpointRow.read(db)).seq
            }
            appliedSeq.store(reached, ordering: .releasing)
        } catch {
            throw Self.classify(error)
        }
    }

    /// ``applyCommitted(from:through:changed:)`` for one batch the ledger appended.
    public func applyCommitted(_ result: AppendResult) throws {
        guard let first = result.events.first?.event.seq else { return }
        try applyCommitted(from: first, through: result.head.seq, changed: result.changed)
    }

    /// Applies whatever the log holds past the checkpoint, in transactions of `batchSize` events.
    ///
    /// - Returns: the number of events applied.
    @discardableResult
    public func catchUp(batchSize: Int = 16_384) throws -> UInt64 {
        try catchUp(pool: pool, batchSize: batchSize)
    }

    private func catchUp(pool: DatabasePool, batchSize: Int = 16_384) throws -> UInt64 {
        var applied: UInt64 = 0
        defer { if pool === self.pool, let seq = try? pool.read({ try CheckpointRow.read($0).seq }) { appliedSeq.store(seq, ordering: .releasing) } }
        while true {
            let done: Bool = try pool.write { db in
                var projector = try Projector(db: db)
                let from = projector.checkpoint.seq + 1
                var count = 0
                _ = try ledger.read { snapshot in
                    try snapshot.forEachRecord(from: from, through: from + UInt64(batchSize) - 1) { seq, record in
                        try projector.apply(seq: seq, record: record)
                        count += 1
                        return true
                    }
                }
                try projector.finish()
                applied += UInt64(count)
                return count < batchSize
            }
            if done { return applied }
        }
    }

    // MARK: Checking, rebuilding, repairing

    /// Checks the live file now. Safe beside the writer: it reads one snapshot.
    public func check(_ level: ProjectionCheckLevel) -> ProjectionDamage? {
        ProjectionHealth.check(pool, ledger: ledger, level: level)
    }

    /// Compares the projection row by row with a fresh fold of the log (or with `fold`, one the
    /// caller already made, when it reaches the projection's checkpoint).
    public func compareWithLog(fold: (state: LedgerState, seq: UInt64)? = nil, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> ProjectionMismatch? {
        try ProjectionComparator.compare(pool, with: ledger, fold: fold, progress: progress)
    }

    /// Builds the next generation from the log (a snapshot of it) without touching the live one.
    /// May run on any thread, while the writer goes on applying to the live generation.
    public func prepareRebuild(progress: ((UInt64, UInt64) -> Void)? = nil) throws -> PreparedGeneration {
        try ProjectionBuilder.build(files, generation: files.nextGeneration(), ledger: ledger, progress: progress)
    }

    /// Catches a prepared generation up with the log and swaps it in. Call from the writer.
    ///
    /// - Parameter retiring: what becomes of the generation it replaces: removed, or moved to
    ///   `forensics/` under this label (a damaged file is kept for inspection).
    @discardableResult
    public func install(_ prepared: PreparedGeneration, setAsideAs label: String? = nil) throws -> RebuildReport {
        let generation = prepared.report.generation
        let pool = try ProjectionDatabase.openPool(path: files.path(ofGeneration: generation), readers: readers)
        var report = prepared.report
        report.events += try catchUp(pool: pool)
        report.checkpoint = try pool.read { try CheckpointRow.read($0) }
        Failpoint.rebuildSwap.check()
        try files.makeLive(generation)
        let checkpointer = try WALCheckpointer(path: files.path(ofGeneration: generation), logger: logger)
        let (old, oldCheckpointer) = live.withLock { live in
            defer { live = LiveGeneration(generation: generation, pool: pool, checkpointer: checkpointer) }
            return (live.generation, live.checkpointer)
        }
        oldCheckpointer?.stop()
        appliedSeq.store(report.checkpoint.seq, ordering: .releasing)
        if let label {
            report.setAside = try files.setAside(generation: old, label: label)
        } else {
            files.remove(generation: old)
        }
        return report
    }

    /// Rebuilds from the log and swaps the new generation in; readers elsewhere keep the old
    /// file until they reopen. Call from the writer.
    @discardableResult
    public func rebuild(progress: ((UInt64, UInt64) -> Void)? = nil) throws -> RebuildReport {
        try install(try prepareRebuild(progress: progress))
    }

    /// Rebuilds from the log, swaps the new generation in, moves the damaged one to
    /// `forensics/`, and logs one line saying what happened and why. Call from the writer.
    @discardableResult
    public func repair(_ damage: ProjectionDamage) throws -> RebuildReport {
        let report = try install(try prepareRebuild(), setAsideAs: damage.kind.rawValue)
        logger.error("projection \(damage.kind.rawValue): \(damage.reason); moved to \(report.setAside ?? "?"); rebuilt \(report.events) events from the log in \(Self.format(report.seconds)) s as generation \(report.generation)\(report.sortNote)")
        return report
    }

    /// Stops the reads in progress (a long check) with `SQLITE_INTERRUPT`.
    public func interruptReads() {
        live.withLock { $0.pool }.interrupt()
    }

    /// Checkpoints the WAL and closes the SQLite connections (the last writes are committed).
    public func close() {
        let (pool, checkpointer) = live.withLock { ($0.pool, $0.checkpointer) }
        checkpointer?.stop()
        try? pool.close()
    }

    /// Removes generation files other than the live one (left by an interrupted rebuild).
    private func removeOtherGenerations() {
        let current = generation
        for other in files.generationsOnDisk() where other != current { files.remove(generation: other) }
    }

    static func classify(_ error: any Error) -> any Error {
        if ProjectionDatabase.isDamage(error) {
            return ProjectionError(.damaged, "SQLite reports the file damaged: \(error)")
        }
        return error
    }

    /// Seconds with two decimals, for logs. Plain Swift rather than `String(format:)`, whose
    /// first use bridges through Foundation: ledgerd logs this while its first connections
    /// arrive, and that bridging took part in a Swift runtime race (see `HTTPServer.start`).
    public static func format(_ seconds: Double) -> String {
        let hundredths = Int((max(0, seconds) * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
