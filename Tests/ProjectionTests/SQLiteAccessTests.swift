import GRDB
import Testing
@testable import Ledger
@testable import Projections

/// Values are bound from the accessor's own buffer while they fit and copied by SQLite when
/// they do not; either way SQLite stores exactly the bytes bound, row after row.
@Suite struct SQLiteAccessTests {
    @Test func textAndBlobsRoundTripWhetherOrNotTheyFitTheBuffer() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT, d BLOB)")
            let insert = try SQLiteAccess(db, "INSERT INTO t (id, a, b, c, d) VALUES (?, ?, ?, ?, ?)")
            // Row 1: the third text and the blob no longer fit in the 4 KiB buffer.
            // Row 2: everything fits again after begin() starts the buffer over.
            let rows: [(Int64, String, String, String?, [UInt8])] = [
                (1, String(repeating: "a", count: 2_000), String(repeating: "é", count: 1_000), String(repeating: "c", count: 2_000), Array(0..<200)),
                (2, "short", "", nil, [7, 7, 7]),
            ]
            for (id, a, b, c, d) in rows {
                insert.begin()
                insert.bind(1, id)
                insert.bind(2, a)
                insert.bind(3, b)
                insert.bind(4, c)
                d.withUnsafeBytes { insert.bind(5, blob: $0) }
                try insert.run()
            }
            let select = try SQLiteAccess(db, "SELECT a, b, c, d FROM t WHERE id = ?")
            for (id, a, b, c, d) in rows {
                select.begin()
                select.bind(1, id)
                #expect(try select.step())
                #expect(select.string(0) == a)
                #expect(select.string(1) == b)
                #expect(select.string(2) == c)
                #expect(select.blob(3).map { Array($0) } ?? [] == d)
                select.reset()
            }
        }
    }

    /// The largest values the API admits (identifiers of 256 bytes, a reason of 1 KiB) reach
    /// the projection's rows intact and fold to the same state.
    @Test func theLargestAdmittedValuesReachTheProjectionIntact() throws {
        let f = try DataDirectoryFixture()
        func identifier(_ letter: Character) -> String { String(repeating: letter, count: InputLimits.maxIdentifierBytes) }
        let key = identifier("k"), first = identifier("s"), reported = identifier("r"), owner = identifier("o")
        let environment = RuntimeEnvironment(host: identifier("h"), volume: identifier("v"), cwd: identifier("c"), provider: identifier("p"))
        let reason = String(repeating: "x", count: InputLimits.maxReasonBytes)
        try f.append([.transition(key: key, .created(first, expectedVersion: 0, owner: owner, environment: environment))], path: .changes)
        try f.append([.transition(key: key, .errored(first, reason: reason, reportedSessionId: reported))], path: .changes)
        #expect(try f.projection.compareWithLog() == nil)
        let (conversation, history) = try f.projection.read { q in (try q.session(key), try q.history(owner: owner)) }
        #expect(conversation.owner == owner)
        #expect(conversation.environment == environment)
        let logged = try f.projection.read { try $0.events(since: 0) }
        #expect(logged.last?.event.reason == reason)
        #expect(logged.last?.event.reportedSessionId == reported)
        #expect(history.first?.event.environment == environment)
    }
}
