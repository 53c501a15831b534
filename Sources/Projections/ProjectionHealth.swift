import GRDB
import Ledger

/// Checks that a projection file can be trusted.
enum ProjectionHealth {
    /// Runs the checks of `level`; any SQLite error on the way counts as damage.
    ///
    /// - Returns: the first damage found, or nil.
    static func check(_ pool: DatabasePool, ledger: Ledger, level: ProjectionCheckLevel) -> ProjectionDamage? {
        do {
            let (quick, checkpoint) = try pool.read { db -> ([String], Checkpoint?) in
                let result = level == .fast ? ["ok"] : try String.fetchAll(db, sql: "PRAGMA quick_check")
                if try ProjectionSchema.migrator.hasBeenSuperseded(db) {
                    return (["incompatible"], nil)
                }
                // An older schema is fine: `Projection.open` migrates it forward after this
                // check. Only a file without the tables is damage.
                guard try ProjectionSchema.migrator.appliedIdentifiers(db).contains(ProjectionSchema.tablesMigration) else {
                    return (["no schema"], nil)
                }
                return (result, try CheckpointRow.read(db))
            }
            if quick == ["incompatible"] {
                return ProjectionDamage(.incompatible, "the file was written by a newer build (unknown schema migrations)")
            }
            guard quick == ["ok"], let checkpoint else {
                return ProjectionDamage(.damaged, "PRAGMA quick_check reported: \(quick.prefix(3).joined(separator: "; "))")
            }
            if let damage = try checkAgainstLog(checkpoint, ledger: ledger) { return damage }
            if level == .full {
                if let mismatch = try ProjectionComparator.compare(pool, with: ledger) {
                    return ProjectionDamage(.mismatch, mismatch.description)
                }
            }
            return nil
        } catch let error as ProjectionError {
            return ProjectionDamage(.damaged, error.message)
        } catch {
            return ProjectionDamage(.damaged, "SQLite: \(error)")
        }
    }

    /// The checkpoint must not be ahead of the log, and its hash must be the log's at that seq.
    static func checkAgainstLog(_ checkpoint: Checkpoint, ledger: Ledger) throws -> ProjectionDamage? {
        let head = try ledger.head()
        if checkpoint.seq > head.seq {
            return ProjectionDamage(.ahead, "its checkpoint (seq \(checkpoint.seq)) is ahead of the log's head (seq \(head.seq))")
        }
        let logged: ChainHash = try ledger.read { snapshot in
            guard checkpoint.seq > 0 else { return .genesis }
            guard let record = try snapshot.record(checkpoint.seq) else { return .genesis }
            return try record.withUnsafeBytes { try StoredRecord.parts($0).storedHash }
        }
        if logged != checkpoint.hash {
            return ProjectionDamage(.diverged, "its checkpoint hash at seq \(checkpoint.seq) (\(checkpoint.hash.hex.prefix(12))) is not the log's (\(logged.hex.prefix(12)))")
        }
        return nil
    }
}
