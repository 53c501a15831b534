import Foundation
import Testing
@testable import Ledger
@testable import Projections

@Suite struct WALCheckpointTests {
    /// The background checkpointer copies committed WAL frames into the database file while the
    /// projection is open (a checkpoint that silently did nothing would let the WAL grow without
    /// bound and leave every page in it).
    @Test func theWALIsCopiedIntoTheDatabaseInTheBackground() async throws {
        let f = try DataDirectoryFixture()
        let database = f.liveFile
        let before = try Self.size(of: database)
        for i in 0..<200 {
            try f.append([.transition(key: "key-\(i)", .created("session-\(i)", expectedVersion: 0))])
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while try Self.size(of: database) <= before {
            guard ContinuousClock.now < deadline else {
                Issue.record("no checkpoint copied anything into \(database) in 10 s (still \(before) bytes)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func size(of path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}
