import Foundation
import GRDB
import Testing
@testable import Ledger
@testable import Projections

@Suite struct ProjectionRebuildTests {
    @Test func aRebuildGivesTheSameAnswersAndReportsProgress() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 30)
        let before = try ProjectionAnswers(f.projection)
        var reported: [(UInt64, UInt64)] = []
        let report = try f.projection.rebuild { done, total in reported.append((done, total)) }
        #expect(report.events == (try f.ledger.head().seq))
        #expect(report.checkpoint.seq == report.events)
        #expect(reported.last.map { $0.0 == $0.1 } == true)
        #expect(try ProjectionAnswers(f.projection) == before)
        #expect(ProjectionFiles(directory: f.path).generationsOnDisk() == [report.generation], "the old generation is removed")
    }

    /// Readers elsewhere keep their file: a connection opened before the swap still reads the
    /// old generation, consistently, while new readers see the new one.
    @Test func aRebuildWhileAReaderHoldsTheOldFileOpen() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 10)
        var configuration = Configuration()
        configuration.readonly = true
        let reader = try DatabaseQueue(path: f.path + "/projection.sqlite", configuration: configuration)
        let oldGeneration = f.projection.generation
        try reader.read { db in
            let before = try Int.fetchOne(db, sql: "SELECT count(*) FROM transitions")
            try f.projection.rebuild()
            try f.append([.transition(key: "new-key", .created("fresh", expectedVersion: 0))])
            // inside its transaction the old reader sees exactly what it saw
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM transitions") == before)
        }
        // the old connection still works on the old file, which does not have the new write
        #expect(try reader.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sessions WHERE key = 'new-key'") } == 0)
        #expect(f.projection.generation == oldGeneration + 1)
        #expect(try f.projection.read { try $0.session("new-key").sessionId } == "fresh")
        // a reader that opens now gets the new generation
        let fresh = try DatabaseQueue(path: f.path + "/projection.sqlite", configuration: configuration)
        #expect(try fresh.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sessions WHERE key = 'new-key'") } == 1)
    }

    /// A rebuild prepared off the writer, while events keep arriving, catches up when installed.
    @Test func aPreparedRebuildCatchesUpWithEventsAppendedMeanwhile() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 8)
        let prepared = try f.projection.prepareRebuild()
        try f.append([.transition(key: "late", .created("late-1", expectedVersion: 0))])
        try f.append([.transition(key: "late", .resumed("late-1", expectedVersion: 1))])
        let report = try f.projection.install(prepared)
        #expect(report.checkpoint.seq == (try f.ledger.head().seq))
        #expect(try f.projection.read { try $0.session("late").version } == 2)
        #expect(try f.projection.compareWithLog() == nil)
    }
}
