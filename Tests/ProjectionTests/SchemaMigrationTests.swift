import Foundation
import GRDB
import Testing
@testable import Ledger
@testable import Projections

/// A projection written by an earlier build is brought forward in place when ledgerd opens it:
/// an upgrade must not cost a rebuild (35 s on a 10M-event ledger).
@Suite struct SchemaMigrationTests {
    /// A populated data directory with its projection closed, what that projection answered,
    /// and its generation.
    func closedProjection() throws -> (DataDirectoryFixture, ProjectionAnswers, Int) {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 6)
        let answers = try ProjectionAnswers(f.projection)
        let generation = f.projection.generation
        f.closeProjection()
        return (f, answers, generation)
    }

    /// Runs `body` on the live projection file, outside ledgerd.
    func onFile<R>(_ f: DataDirectoryFixture, readOnly: Bool = false, _ body: (Database) throws -> R) throws -> R {
        var configuration = Configuration()
        configuration.readonly = readOnly
        let queue = try DatabaseQueue(path: f.liveFile, configuration: configuration)
        defer { try? queue.close() }
        return try readOnly ? queue.read(body) : queue.write(body)
    }

    /// Whether every migration this build knows is applied, and the indexes on `transitions`.
    func schema(_ f: DataDirectoryFixture) throws -> (complete: Bool, indexes: Set<String>) {
        try onFile(f, readOnly: true) { db in
            (try ProjectionSchema.migrator.hasCompletedMigrations(db), Set(try db.indexes(on: "transitions").map(\.name)))
        }
    }

    /// Schema "v1" indexed transitions by conversation; "v2" drops that index, since history by
    /// conversation is read from the log. A "v1" file opens as it is, loses the index, and
    /// answers as before.
    @Test func aVersionOneProjectionIsMigratedInPlaceNotRebuilt() throws {
        let (f, answers, generation) = try closedProjection()
        // Turn the file into what a "v1" build left: the index there, "v2" not applied.
        let applied = try onFile(f) { db in
            try db.execute(sql: "CREATE INDEX transitions_by_key ON transitions(key, seq)")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2'")
            return try ProjectionSchema.migrator.appliedIdentifiers(db)
        }
        #expect(applied == ["v1"])

        try f.reopenProjection(check: .full)
        #expect(f.projection.generation == generation, "migrated in place, not rebuilt")
        #expect(f.forensics.isEmpty)
        #expect(f.logs.lines(atLeast: .error).isEmpty)
        let migrated = try schema(f)
        #expect(migrated.complete)
        #expect(!migrated.indexes.contains("transitions_by_key"))
        #expect(try ProjectionAnswers(f.projection) == answers)
    }

    /// A file a newer build migrated further (a migration this build does not know) is not
    /// trusted: it is set aside as incompatible and rebuilt, and answers as before.
    @Test func aProjectionFromANewerBuildIsSetAsideAndRebuilt() throws {
        let (f, answers, generation) = try closedProjection()
        try onFile(f) { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99')") }

        try f.reopenProjection()
        #expect(f.projection.generation != generation)
        #expect(f.forensics.count == 1 && f.forensics.allSatisfy { $0.contains("incompatible") }, "\(f.forensics)")
        #expect(f.logs.lines(atLeast: .error).contains { $0.contains("newer build") })
        #expect(try ProjectionAnswers(f.projection) == answers)
    }

    /// A rebuild writes the current schema: every migration applied, no `transitions_by_key`.
    @Test func aRebuiltProjectionHasTheCurrentSchema() throws {
        let (f, _, _) = try closedProjection()
        for suffix in ["", "-wal", "-shm"] { unlink(f.liveFile + suffix) }
        try f.reopenProjection()
        let rebuilt = try schema(f)
        #expect(rebuilt.complete)
        #expect(rebuilt.indexes == ["transitions_by_owner"])
    }
}
