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
        let chosen = SortSpace.choose(from: ["", directory.join("missing"), file, directory.path, "/tmp"])
        #expect(chosen == .temporaryFiles(directory: directory.path))
        #expect(chosen.tempStore == "FILE")
    }

    /// With nowhere to write (a read-only root file system in a container), the sort stays in
    /// memory rather than failing the rebuild.
    @Test func withNoUsableDirectoryTheSortStaysInMemory() throws {
        let directory = TemporaryDirectory("sort")
        let file = directory.join("a-file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let chosen = SortSpace.choose(from: [directory.join("missing"), file])
        #expect(chosen == .memory)
        #expect(chosen.tempStore == "MEMORY")
    }

    /// Index builds sorted through temporary files in runs smaller than the data (so several
    /// runs are written and merged: 40k entries of the key index are ~1.5 MB, SQLite's smallest
    /// run is 250 pages, 1 MB) and sorted in memory give the same indexes.
    @Test func indexesSortedThroughFilesAndInMemoryAgree() throws {
        let f = try DataDirectoryFixture()
        for round in 0..<40 {
            let commands: [Command] = (0..<1_000).map { i in
                .transition(key: "key-\(String(repeating: "x", count: i % 7))-\((i * 37 + round) % 997)",
                            .cleared(reason: "round \(round)"))
            }
            try f.append(commands, apply: false)
        }
        let files = ProjectionFiles(directory: f.path)
        let temporary = try #require({ () -> SortSpace? in
            if case .temporaryFiles = SortSpace.choose() { return SortSpace.choose() }
            return nil
        }(), "no writable temporary directory on this machine")
        let throughFiles = try ProjectionBuilder.build(files, generation: 90, ledger: f.ledger, progress: nil,
                                                       sortSpace: temporary, sortRunKiB: 1_024)
        let inMemory = try ProjectionBuilder.build(files, generation: 91, ledger: f.ledger, progress: nil, sortSpace: .memory)
        #expect(throughFiles.report.events == 40_000 && inMemory.report.events == 40_000)
        let indexed = [
            "SELECT key, seq FROM transitions INDEXED BY transitions_by_key ORDER BY key, seq",
            "SELECT owner, seq FROM transitions INDEXED BY transitions_by_owner WHERE owner IS NOT NULL ORDER BY owner, seq",
            "SELECT state, key FROM sessions INDEXED BY sessions_by_state ORDER BY state, key",
        ]
        var answers: [[String]] = []
        for generation in [90, 91] {
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
    }
}
