import Foundation
import GRDB
import Testing
@testable import Ledger
@testable import Projections

@Suite struct SortSpaceTests {
    /// The first usable directory in SQLite's order; paths that are missing or not directories
    /// are passed over, as SQLite passes them over.
    @Test func theFirstWritableDirectoryIsChosen() throws {
        let directory = TemporaryDirectory("sort")
        let file = directory.join("a-file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let chosen = SortSpace.choose(from: ["", directory.join("missing"), file, directory.path, "/tmp"], needing: 1_024)
        #expect(chosen == .temporaryFiles(directory: directory.path))
        #expect(chosen.tempStore == "FILE")
        #expect("\(chosen)" == "temporary files in \(directory.path)")
    }

    /// SQLite would take the first writable directory however full it is, so one without room
    /// for the sort (by `statvfs`) means sorting in memory, not trying the next directory.
    @Test func aDirectoryWithoutRoomForTheSortMeansMemory() throws {
        let directory = TemporaryDirectory("sort")
        let chosen = SortSpace.choose(from: [directory.path, "/tmp"], needing: UInt64(1) << 60)
        #expect(chosen.isMemory)
        #expect("\(chosen)".contains("\(directory.path) has"), "\(chosen)")
        #expect(chosen.tempStore == "MEMORY")
    }

    /// With nowhere to write (a read-only root file system in a container), the sort stays in
    /// memory rather than failing the rebuild.
    @Test func withNoUsableDirectoryTheSortStaysInMemory() throws {
        let directory = TemporaryDirectory("sort")
        let file = directory.join("a-file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let chosen = SortSpace.choose(from: [directory.join("missing"), file], needing: 0)
        #expect(chosen.isMemory)
        #expect("\(chosen)".contains("no writable temporary directory"), "\(chosen)")
        #expect(chosen.tempStore == "MEMORY")
    }

    /// Index builds sorted through temporary files in runs smaller than the data (so several
    /// runs are written and merged: 40k entries of owner, state and key, ~45 bytes each, against
    /// SQLite's smallest run of 250 pages, 1 MB) and sorted in memory give the same indexes.
    @Test func indexesSortedThroughFilesAndInMemoryAgree() throws {
        let f = try DataDirectoryFixture()
        for round in 0..<40 {
            // 40k conversations, each created once by one of 65 owners, in an order that is
            // neither the keys' nor the owners'.
            let commands: [Command] = (0..<1_000).map { i in
                .transition(key: "key-\(String(repeating: "x", count: i % 7))-\((i * 37 + round) % 997)-\(round)",
                            .created("s-\(round)-\(i)", expectedVersion: 0, owner: "runtime-\(String(repeating: "y", count: i % 5))-\((i * 7) % 13)"))
            }
            try f.append(commands, apply: false)
        }
        let files = ProjectionFiles(directory: f.path)
        let temporary = SortSpace.choose(needing: 64 << 20)
        #expect(!temporary.isMemory, "no temporary directory with 64 MiB free on this machine: \(temporary)")
        let throughFiles = try ProjectionBuilder.build(files, generation: 90, ledger: f.ledger, progress: nil,
                                                       sortSpace: temporary, sortRunKiB: 1_024)
        let inMemory = try ProjectionBuilder.build(files, generation: 91, ledger: f.ledger, progress: nil, sortSpace: .memory(reason: "a test"))
        // A sort through files that fails (its directory full) is done again in memory.
        let retried = try ProjectionBuilder.build(files, generation: 92, ledger: f.ledger, progress: nil,
                                                  sortSpace: temporary, sortRunKiB: 1_024, failingTemporarySort: true)
        #expect(throughFiles.report.events == 40_000 && inMemory.report.events == 40_000 && retried.report.events == 40_000)
        #expect(!throughFiles.report.sortedInMemory && throughFiles.report.sortNote.isEmpty)
        #expect(inMemory.report.sortedInMemory)
        #expect(retried.report.sortedInMemory)
        #expect(retried.report.sortedIn.contains("sorting through \(temporary) failed") && retried.report.sortedIn.contains("disk is full"),
                "\(retried.report.sortedIn)")
        let indexed = [
            "SELECT owner, state, key FROM sessions INDEXED BY sessions_by_owner_state ORDER BY owner, state, key",
            "SELECT owner, seq FROM transitions INDEXED BY transitions_by_owner WHERE owner IS NOT NULL ORDER BY owner, seq",
            "SELECT state, key FROM sessions INDEXED BY sessions_by_state ORDER BY state, key",
        ]
        var answers: [[String]] = []
        for generation in [90, 91, 92] {
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: files.path(ofGeneration: generation), configuration: configuration)
            try queue.read { db in
                #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
                answers.append(try indexed.flatMap { sql in
                    try Row.fetchAll(db, sql: sql).map { "\($0)" }
                })
            }
            try queue.close()
        }
        #expect(answers[0].count > 40_000)
        #expect(answers[0] == answers[1])
        #expect(answers[0] == answers[2])
    }
}
