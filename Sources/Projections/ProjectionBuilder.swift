import Foundation
import GRDB
import Ledger
#if canImport(Glibc)
import Glibc
#endif

/// What a rebuild did.
public struct RebuildReport: Sendable {
    public var generation: Int
    public var events: UInt64
    public var checkpoint: Checkpoint
    /// Wall time of the fold, the inserts and the index builds, in seconds.
    public var seconds: Double
    /// Where the replaced generation was moved, when it was kept for forensics.
    public var setAside: String?
    /// Where the index sorts ran.
    public var sortSpace: SortSpace

    /// Where the index sorts ran: "temporary files in DIR", or "memory (why)".
    public var sortedIn: String { sortSpace.description }
    /// Whether the index sorts ran in memory (slower, and more memory at the end of the build).
    public var sortedInMemory: Bool { sortSpace.isMemory }

    public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : Double(events) }

    /// For log lines: says where the index sorts ran when that was memory (the slow way, which
    /// an operator may want to fix by giving SQLite a temporary directory with room).
    public var sortNote: String { sortedInMemory ? "; indexes sorted in \(sortedIn)" : "" }
}

/// A generation file built and synced, not yet live.
public struct PreparedGeneration: Sendable {
    public var report: RebuildReport
}

/// Builds a new projection generation from the log: fold every event into an empty file with
/// no journal and no syncing, create the secondary indexes at the end, switch the file to WAL,
/// then fsync it. The file is only made live afterwards, by a rename of the live symlink.
///
/// The fold (decode, checksum, chain, state machine) runs on its own thread and hands chunks of
/// folded events to the SQLite writer, so both cores work.
enum ProjectionBuilder {
    static let chunkSize = 4_096

    /// Builds generation `generation` from the whole log.
    ///
    /// When the index sorts fail in their temporary files (a temporary directory that fills up
    /// or goes away), the build is done again with the sorts in memory; the report says so.
    ///
    /// - Parameters:
    ///   - sortSpace: where the index sorts keep their runs; by default ``SortSpace/choose(from:needing:)``.
    ///   - sortRunKiB: the size of a sorted run when the sort uses temporary files.
    ///   - failingTemporarySort: tests only: the sort through temporary files fails as if its
    ///     directory were full.
    /// - Throws: ``ProjectionError`` or SQLite's error when the generation cannot be built.
    static func build(_ files: ProjectionFiles, generation: Int, ledger: Ledger, progress: ((UInt64, UInt64) -> Void)?,
                      sortSpace: SortSpace? = nil, sortRunKiB: Int = 2_048, failingTemporarySort: Bool = false) throws -> PreparedGeneration {
        let started = Clock.monotonicSeconds()
        // The fold's state (every conversation and session ID) is freed by now, built or not;
        // the process should not keep its heap (ledgerd lives on after an online rebuild).
        defer { HeapTrim.releaseFreedMemory() }
        let total = try ledger.head().seq
        let space = sortSpace ?? SortSpace.choose(needing: total * SortSpace.bytesPerEvent)
        var prepared: PreparedGeneration
        do {
            prepared = try buildOnce(files, generation: generation, ledger: ledger, through: total, progress: progress,
                                     sortSpace: space, sortRunKiB: sortRunKiB, failingTemporarySort: failingTemporarySort)
        } catch let failure as TemporarySortFailure {
            // Nothing of the failed file can be kept: with no journal, a failed statement
            // cannot be undone. Done again from the start, sorting in memory.
            let fallback = SortSpace.memory(reason: "sorting through \(space) failed: \(failure.underlying)")
            prepared = try buildOnce(files, generation: generation, ledger: ledger, through: total, progress: progress,
                                     sortSpace: fallback, sortRunKiB: sortRunKiB, failingTemporarySort: false)
        }
        prepared.report.seconds = Clock.monotonicSeconds() - started
        return prepared
    }

    /// The index sorts failed in their temporary files.
    struct TemporarySortFailure: Error {
        var underlying: any Error
    }

    private static func buildOnce(_ files: ProjectionFiles, generation: Int, ledger: Ledger, through total: UInt64,
                                  progress: ((UInt64, UInt64) -> Void)?, sortSpace: SortSpace, sortRunKiB: Int,
                                  failingTemporarySort: Bool) throws -> PreparedGeneration {
        files.remove(generation: generation)
        let path = files.path(ofGeneration: generation)
        let queue = try ProjectionDatabase.openBuilder(path: path)
        try ProjectionSchema.rebuildMigrator.migrate(queue)

        let chunks = BoundedChannel<[FoldedEvent]>(capacity: 8)
        // Chunks the writer is done with go back to the fold thread, which frees their events
        // there: their strings were allocated in its malloc arena, and freeing them on the writer
        // (the slower of the two threads) took arena locks for every one. Alternating runs on 1M
        // events: faster in 9 pairs of 10. When this channel is full or closed the writer frees
        // a chunk itself.
        let spent = BoundedChannel<[FoldedEvent]>(capacity: 8)
        let outcome = FoldOutcome()
        let folding = Thread {
            outcome.set(Result {
                var folder = LogFolder(checkpoint: .empty, load: nil, emitsEndedSessions: true)
                var chunk: [FoldedEvent] = []
                chunk.reserveCapacity(chunkSize)
                if let hint = ledger.sizeHint() {
                    folder.reserveCapacity(conversations: hint.conversations, sessions: hint.sessions)
                }
                _ = try ledger.read { snapshot in
                    try snapshot.forEachRecord(through: total) { seq, record in
                        chunk.append(try folder.fold(seq: seq, record: record))
                        if chunk.count == chunkSize {
                            guard chunks.send(chunk) else { return false }
                            // A returned chunk's storage is reused; its events are freed here.
                            chunk = spent.poll() ?? []
                            chunk.removeAll(keepingCapacity: true)
                            chunk.reserveCapacity(chunkSize)
                        }
                        return true
                    }
                }
                if !chunk.isEmpty { chunks.send(chunk) }
                return folder
            })
            chunks.close()
            spent.close()
            while spent.poll() != nil {}  // nothing is returned after the close
        }
        folding.start()

        let checkpoint: Checkpoint
        do {
            checkpoint = try queue.write { db -> Checkpoint in
                let writer = try ProjectionWriter(db)
                var written: UInt64 = 0
                while let chunk = chunks.receive() {
                    for folded in chunk { try writer.insert(folded) }
                    written += UInt64(chunk.count)
                    _ = spent.offer(chunk)
                    if written % 65_536 < UInt64(chunkSize) { progress?(written, total) }
                }
                let checkpoint = try {
                    // The fold's state is only needed for these rows; let it go before the index builds.
                    let folder = try outcome.take().get()
                    try writer.finish(folder)
                    return folder.checkpoint
                }()
                // Sorting in memory, the runs (~580 MB at 10M events) would come on top of the
                // fold's freed heap unless it is handed back first (980 MB anonymous at the peak
                // instead of 762). Sorting through files they need little, and without this trim
                // a 10M-event rebuild was 3-9 % faster (two alternating pairs) with the same peak
                // (754-756 MB, the fold's).
                if sortSpace.isMemory { HeapTrim.releaseFreedMemory() }
                // Index builds are sorts. SQLite sorts in runs of at most the page cache's size
                // and merges them; with temporary files (never with temp_store = MEMORY) a worker
                // thread sorts each run while the next is read. Runs of 2 MiB stay in the CPU
                // caches: the index on transitions(key, seq) over 1M events took 0.51 s this way
                // against 1.57 s in memory with 64 MiB runs, and 12 MB of memory against 134 MB
                // (sqlite3 shell, the same file and statements). Without a writable temporary
                // directory with room the sort stays in memory, as it always did before.
                try db.execute(sql: "PRAGMA threads = 2")
                try db.execute(sql: "PRAGMA temp_store = \(sortSpace.tempStore)")
                if !sortSpace.isMemory { try db.execute(sql: "PRAGMA cache_size = -\(sortRunKiB)") }
                do {
                    if failingTemporarySort && !sortSpace.isMemory {
                        throw DatabaseError(resultCode: .SQLITE_FULL, message: "database or disk is full (simulated)")
                    }
                    for sql in ProjectionSchema.secondaryIndexes { try db.execute(sql: sql) }
                } catch let error where !sortSpace.isMemory {
                    throw TemporarySortFailure(underlying: error)
                }
                progress?(checkpoint.seq, total)
                return checkpoint
            }
        } catch {
            chunks.close()  // stops the fold if the writer gave up first
            _ = outcome.take()
            throw error
        }
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try queue.close()
        try ProjectionFiles.syncFile(path)
        try files.syncDirectory()
        let report = RebuildReport(generation: generation, events: checkpoint.seq, checkpoint: checkpoint,
                                   seconds: 0, sortSpace: sortSpace)
        return PreparedGeneration(report: report)
    }
}

/// The fold thread's result, handed to the writer when the fold ends.
final class FoldOutcome: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<LogFolder, any Error>?

    func set(_ value: Result<LogFolder, any Error>) {
        condition.lock()
        result = value
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the result and takes it (the fold's state is released with it).
    func take() -> Result<LogFolder, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        defer { result = .failure(ProjectionError(.io, "the fold's result was already taken")) }
        return result!
    }
}

enum Clock {
    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
