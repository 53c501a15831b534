import Foundation
import Logging
import Testing
@testable import Ledger
@testable import Projections

/// A data directory as ledgerd lays it out: the ledger in `log/`, the projection beside it.
final class DataDirectoryFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    let logs = CapturedLogs()
    private(set) var ledger: Ledger!
    var projection: Projection!
    var clock: Int64 = 1_700_000_000_000_000

    init() throws {
        directory = TemporaryDirectory("proj")
        ledger = try Ledger.open(directory: directory.join("log"), options: LedgerOptions(initialMapSize: 1 << 26))
        projection = try Projection.open(directory: directory.path, ledger: ledger, logger: logs.logger())
    }

    var path: String { directory.path }

    /// How a batch reaches the projection.
    enum ApplyPath: Sendable, CaseIterable {
        /// Folded again from its stored records (catch-up, repairs).
        case fold
        /// Written from the entities the ledger computed (ledgerd's writer).
        case changes
    }

    /// Appends commands to the log (one batch) and, unless told not to, applies the result to
    /// the projection along `path`.
    @discardableResult
    func append(_ commands: [Command], apply: Bool = true, path: ApplyPath = .fold) throws -> AppendResult {
        clock += 1_000
        let result = try ledger.append(commands.map { CommandEnvelope($0, actor: ActorIdentity(uid: 501, gid: 20, pid: 9)) }, now: clock)
        if apply {
            switch path {
            case .fold: try projection.apply(result.events)
            case .changes: try projection.applyCommitted(result)
            }
        }
        return result
    }

    /// A small history over several keys and owners, including boots, errors and clears.
    func populate(keys: Int = 12) throws {
        try append([.boot(owner: "rt-a", environment: RuntimeEnvironment(volume: "v1"), policy: .all)])
        for i in 0..<keys {
            let owner = i % 3 == 0 ? "rt-b" : "rt-a"
            try append([.transition(key: "k\(i)", .created("s\(i)", expectedVersion: 0, owner: owner,
                                                          environment: RuntimeEnvironment(volume: i % 2 == 0 ? "v1" : "v2")))])
            try append([.transition(key: "k\(i)", .resumed("s\(i)", expectedVersion: 1))])
            if i % 4 == 1 { try append([.transition(key: "k\(i)", .errored("s\(i)", reason: "error_during_execution", reportedSessionId: "r\(i)"))]) }
            if i % 4 == 2 { try append([.transition(key: "k\(i)", .cleared(reason: "user reset"))]) }
        }
        try append([.boot(owner: "rt-a", environment: RuntimeEnvironment(volume: "v1"), policy: .mismatched)])
        try append([.transition(key: "k3", .created("t3", expectedVersion: 2, owner: "rt-b"))])
    }

    /// Closes the projection (the pool is released) so its file can be damaged on disk.
    func closeProjection() {
        projection = nil
    }

    func reopenProjection(check: ProjectionCheckLevel = .quick) throws {
        projection = try Projection.open(directory: directory.path, ledger: ledger, logger: logs.logger(), check: check)
    }

    /// The live generation's database file.
    var liveFile: String {
        let files = ProjectionFiles(directory: directory.path)
        return files.path(ofGeneration: files.liveGeneration()!)
    }

    var forensics: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.join("forensics")))?.filter { $0.hasSuffix(".sqlite") } ?? []
    }
}

/// Every answer the projection gives, in a canonical form, for comparing two projections.
struct ProjectionAnswers: Equatable, CustomStringConvertible {
    var sessions: [ConversationState] = []
    var owners: [OwnerState] = []
    var byTime: [LoggedEvent] = []
    var checkpoint: Checkpoint = .empty

    init(_ projection: Projection, owners names: [String] = ["rt-a", "rt-b"]) throws {
        try projection.read { q in
            var cursor: String?
            repeat {
                let page = try q.sessions(after: cursor, limit: 5)
                sessions += page.sessions
                cursor = page.next
            } while cursor != nil
            owners = try names.map { try q.owner($0) }
            byTime = try q.events(since: 0, limit: 100_000)
            checkpoint = try q.checkpoint()
        }
    }

    var description: String { "\(sessions.count) sessions, \(byTime.count) events, checkpoint \(checkpoint)" }
}
