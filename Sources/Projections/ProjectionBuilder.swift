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

    public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : Double(events) }
}

/// A generation file built and synced, not yet live.
public struct PreparedGeneration: Sendable {
    public var report: RebuildReport
}

/// Builds a new projection generation from the log: fold every event into an empty file with
/// no journal and no syncing, create the secondary indexes at the end, switch the file to WAL,
/// then fsync it. The file is only made live afterwards, by a rename of the live symlink.
enum ProjectionBuilder {
    static func build(_ files: ProjectionFiles, generation: Int, ledger: Ledger,
                      progress: ((UInt64, UInt64) -> Void)?) throws -> PreparedGeneration {
        let started = Clock.monotonicSeconds()
        files.remove(generation: generation)
        let path = files.path(ofGeneration: generation)
        let queue = try ProjectionDatabase.openBuilder(path: path)
        try ProjectionSchema.rebuildMigrator.migrate(queue)
        let (events, checkpoint) = try queue.write { db -> (UInt64, Checkpoint) in
            var projector = try Projector(db: db, startsEmpty: true)
            let total = try ledger.read { snapshot in
                let total = try snapshot.head().seq
                try snapshot.forEachRecord { seq, record in
                    try projector.apply(seq: seq, record: record)
                    if seq % 16_384 == 0 { progress?(seq, total) }
                    return true
                }
                return total
            }
            try projector.finish()
            for sql in ProjectionSchema.secondaryIndexes { try db.execute(sql: sql) }
            progress?(projector.checkpoint.seq, total)
            return (projector.checkpoint.seq, projector.checkpoint)
        }
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try queue.close()
        try ProjectionFiles.syncFile(path)
        try files.syncDirectory()
        let report = RebuildReport(generation: generation, events: events, checkpoint: checkpoint,
                                   seconds: Clock.monotonicSeconds() - started)
        return PreparedGeneration(report: report)
    }
}

enum Clock {
    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
