import CLMDB
import Foundation
import Synchronization
import Testing
@testable import Ledger

/// The state environment (`<ledger>/state`) is derived from the log: whatever happened to it
/// (never written back, deleted, copied from another ledger, a format-2 ledger that kept head
/// state beside the log), a writable open ends with the head state a fold of the log gives.
@Suite struct HeadStateStoreTests {
    /// 60 transitions over 6 keys, some with an owner, so conversations, sessions, owners and
    /// the live index all have entries.
    func populate(_ f: LedgerFixture, round: Int) throws {
        for i in 0..<6 {
            let key = "k\(i)"
            let version = try f.conversation(key).version
            let owner = i % 2 == 0 ? "rt-\(i % 3)" : nil
            try f.accept(key, .created("s\(round)-\(i)", expectedVersion: version, owner: owner, epoch: nil, environment: nil))
            try f.accept(key, .resumed("s\(round)-\(i)", expectedVersion: version + 1))
            if i == 3 { try f.accept(key, .cleared("s\(round)-\(i)", expectedVersion: nil, reason: "reset")) }
        }
    }

    /// What a fold of the whole log gives, and the check that the ledger's head state is it.
    @discardableResult
    func expectFoldEqualsHeadState(_ ledger: Ledger, sourceLocation: SourceLocation = #_sourceLocation) throws -> LedgerState {
        let report = try LedgerVerifier.verify(ledger)
        #expect(report.problem == nil, "\(String(describing: report.problem))", sourceLocation: sourceLocation)
        #expect(try snapshotState(ledger) == report.state, sourceLocation: sourceLocation)
        let live = report.state.liveConversations(owner: nil).map(\.key)
        #expect(try ledger.read { try $0.liveKeys(owner: nil) } == live, sourceLocation: sourceLocation)
        #expect(try ledger.read { try $0.liveKeys(owner: "rt-0") } == report.state.liveConversations(owner: "rt-0").map(\.key),
                sourceLocation: sourceLocation)
        return report.state
    }

    /// Each key's events with their chain hashes, from the log itself.
    func historyFromTheLog(_ ledger: Ledger) throws -> [String: [LoggedEvent]] {
        try ledger.read { snapshot in
            var history: [String: [LoggedEvent]] = [:]
            try snapshot.forEachRecord { _, bytes in
                let (event, hash) = try StoredRecord.decode(bytes)
                if let key = event.key { history[key, default: []].append(LoggedEvent(event: event, hash: hash)) }
                return true
            }
            return history
        }
    }

    /// The per-conversation index and the history pages read through it give, for every key,
    /// exactly the key's events in the log, wherever they are held (written back or in memory).
    func expectIndexMatchesTheLog(_ ledger: Ledger, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (key, events) in try historyFromTheLog(ledger) {
            let seqs = events.map(\.event.seq)
            #expect(try ledger.read { try $0.seqs(forKey: key) } == seqs, "index of \(key)", sourceLocation: sourceLocation)
            #expect(try ledger.read { try $0.seqs(forKey: key, from: seqs[seqs.count / 2]) } == Array(seqs[(seqs.count / 2)...]),
                    sourceLocation: sourceLocation)
            #expect(try ledger.read { try $0.history(key: key) } == events, "history of \(key)", sourceLocation: sourceLocation)
            // Pages of 3 (at most 2 on some keys), each starting after the last seq of the one before.
            for limit in [2, 3] {
                var paged: [LoggedEvent] = []
                var after: UInt64 = 0
                while true {
                    let page = try ledger.read { try $0.history(key: key, after: after, limit: limit) }
                    #expect(page.count <= limit, sourceLocation: sourceLocation)
                    paged += page
                    guard page.count == limit, let last = page.last else { break }
                    after = last.event.seq
                }
                #expect(paged == events, "history of \(key) in pages of \(limit)", sourceLocation: sourceLocation)
            }
        }
        #expect(try ledger.read { try $0.history(key: "never-written") }.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func headStateHeldInMemoryIsFoldedAgainAfterACrash() throws {
        let f = try LedgerFixture(writeBack: WriteBackPolicy(events: 1_000_000, intervalNanoseconds: .max))
        try populate(f, round: 0)
        try f.ledger.writeBackHeadState()
        try populate(f, round: 1)
        #expect(f.ledger.headStateStatus.heldEvents > 0)
        let before = try expectFoldEqualsHeadState(f.ledger)
        try f.reopen()  // nothing written back: the open folds the tail again
        #expect(try snapshotState(f.ledger) == before)
        #expect(f.ledger.headStateStatus.heldEvents > 0)
        try expectIndexMatchesTheLog(f.ledger)
        try populate(f, round: 2)
        try expectFoldEqualsHeadState(f.ledger)
    }

    @Test func theIndexSpansWhatIsStoredAndWhatIsHeld() throws {
        // Write-backs every 5 events, in the background, while appends go on.
        let f = try LedgerFixture(writeBack: WriteBackPolicy(events: 5, intervalNanoseconds: .max))
        for round in 0..<4 { try populate(f, round: round) }
        try expectIndexMatchesTheLog(f.ledger)
        try expectFoldEqualsHeadState(f.ledger)
        try f.ledger.writeBackHeadState()
        #expect(f.ledger.headStateStatus.heldEvents == 0)
        try expectIndexMatchesTheLog(f.ledger)
    }

    @Test func manyConversationsAreWrittenBackBeforeManyEvents() throws {
        // The event and time bounds out of reach: only the number of conversations can start it.
        let f = try LedgerFixture(writeBack: WriteBackPolicy(events: 1_000_000, intervalNanoseconds: .max, conversations: 4))
        var session = "a0"
        try f.run("a", .created(session, expectedVersion: 0))
        for version in 1..<10 {
            try f.run("a", .resumed(session, expectedVersion: UInt64(version)))
        }
        #expect(f.ledger.headStateStatus.heldEvents == 10, "ten events of one conversation stay held")
        for key in ["b", "c", "d"] {
            session = key + "0"
            try f.run(key, .created(session, expectedVersion: 0))
        }
        // The fourth conversation started a write-back in the background.
        let deadline = ContinuousClock.now + .seconds(30)
        while f.ledger.headStateStatus.heldEvents > 0 && ContinuousClock.now < deadline { usleep(10_000) }
        #expect(f.ledger.headStateStatus.heldEvents == 0)
        try expectFoldEqualsHeadState(f.ledger)
    }

    @Test func aDeletedStateEnvironmentIsRebuiltFromTheLog() throws {
        let f = try LedgerFixture(writeBack: WriteBackPolicy(events: 7, intervalNanoseconds: .max))
        for round in 0..<3 { try populate(f, round: round) }
        try f.ledger.writeBackHeadState()
        let before = try snapshotState(f.ledger)
        try f.close()
        try FileManager.default.removeItem(atPath: Ledger.stateDirectory(of: f.directory.join("log")))
        try f.reopen()
        #expect(try snapshotState(f.ledger) == before)
        try expectIndexMatchesTheLog(f.ledger)
        try expectFoldEqualsHeadState(f.ledger)
    }

    /// ledgerd's reads of both environments are point reads, so a writable ledger maps them
    /// without the kernel's read-around; read-only opens (ledgerctl's replays and verifies,
    /// which read everything in order) keep it.
    @Test func aWritableLedgerMapsItsEnvironmentsWithoutReadAround() throws {
        let f = try LedgerFixture()
        try populate(f, round: 0)
        let logDirectory = f.directory.join("log")
        do {
            // The registry hands out the instances the ledger opened, with their flags.
            let state = try LMDBEnvironment.open(directory: Ledger.stateDirectory(of: logDirectory))
            let log = try LMDBEnvironment.open(directory: logDirectory)
            #expect(state.flags & UInt32(MDB_NORDAHEAD) != 0)
            #expect(log.flags & UInt32(MDB_NORDAHEAD) != 0)
        }
        try f.close()  // the last references: both environments close

        let readOnly = try Ledger.open(directory: logDirectory, options: LedgerOptions(readOnly: true))
        _ = try readOnly.read { try $0.conversationCount() }
        var options = LMDBOptions()
        options.readOnly = true
        let stateReadOnly = try LMDBEnvironment.open(directory: Ledger.stateDirectory(of: logDirectory), options: options)
        let logReadOnly = try LMDBEnvironment.open(directory: logDirectory, options: options)
        #expect(stateReadOnly.flags & UInt32(MDB_RDONLY) != 0, "the read-only ledger's own handle, shared")
        #expect(logReadOnly.flags & UInt32(MDB_RDONLY) != 0, "the read-only ledger's own handle, shared")
        #expect(stateReadOnly.flags & UInt32(MDB_NORDAHEAD) == 0)
        #expect(logReadOnly.flags & UInt32(MDB_NORDAHEAD) == 0)
    }

    @Test func aStateEnvironmentOfAnotherLogIsNotTrusted() throws {
        let other = try LedgerFixture()
        for round in 0..<5 { try populate(other, round: round) }  // longer, so its position exists in ours
        try other.ledger.writeBackHeadState()
        let f = try LedgerFixture()
        for round in 0..<6 { try f.run("x\(round)", .created("x\(round)", expectedVersion: 0)) }
        for round in 0..<5 { try populate(f, round: round + 10) }
        let before = try snapshotState(f.ledger)
        try f.close()
        try other.close()
        let ours = Ledger.stateDirectory(of: f.directory.join("log"))
        try FileManager.default.removeItem(atPath: ours)
        try FileManager.default.copyItem(atPath: Ledger.stateDirectory(of: other.directory.join("log")), toPath: ours)
        try f.reopen()
        #expect(try snapshotState(f.ledger) == before)
        try expectFoldEqualsHeadState(f.ledger)
    }

    /// The hint a rebuild sizes its fold's tables by: what was written back, counted without a
    /// scan (conversations as the entries of their database minus its index entries).
    @Test func theSizeHintCountsWhatWasWrittenBack() throws {
        let f = try LedgerFixture(writeBack: WriteBackPolicy(events: 1_000_000, intervalNanoseconds: .max))
        for round in 0..<3 { try populate(f, round: round) }
        try f.ledger.writeBackHeadState()
        let written = try snapshotState(f.ledger)
        let hint = try #require(f.ledger.sizeHint())
        // No boots in `populate`: every event names a key, so the count is exact here.
        #expect(hint.conversations == written.conversations.count)
        #expect(hint.sessions == written.sessions.count)
        try f.run("k-new", .created("s-new", expectedVersion: 0))  // held in memory only
        #expect(f.ledger.sizeHint()?.conversations == hint.conversations)
        #expect(f.ledger.sizeHint()?.sessions == hint.sessions)
    }

    /// A read-only open does not replace a state environment it cannot trust, so the hint is
    /// capped at the log's length: a fold never reserves more than its log could fill.
    @Test func theSizeHintNeverExceedsTheLog() throws {
        let other = try LedgerFixture()
        for round in 0..<5 { try populate(other, round: round) }
        try other.ledger.writeBackHeadState()
        let f = try LedgerFixture()
        try f.run("x", .created("x", expectedVersion: 0))
        try f.run("y", .created("y", expectedVersion: 0))
        try f.close()
        try other.close()
        let ours = Ledger.stateDirectory(of: f.directory.join("log"))
        try FileManager.default.removeItem(atPath: ours)
        try FileManager.default.copyItem(atPath: Ledger.stateDirectory(of: other.directory.join("log")), toPath: ours)
        let reader = try Ledger.open(directory: f.directory.join("log"), options: LedgerOptions(readOnly: true))
        let hint = try #require(reader.sizeHint())
        #expect(hint.conversations == 2)
        #expect(hint.sessions == 2, "the other ledger's state holds 30 session records")
    }

    @Test func aReadOnlyOpenFoldsWhatTheWriterHolds() throws {
        let f = try LedgerFixture(writeBack: WriteBackPolicy(events: 1_000_000, intervalNanoseconds: .max))
        try populate(f, round: 0)
        try f.ledger.writeBackHeadState()
        try populate(f, round: 1)  // held in the writer's memory only
        let written = try snapshotState(f.ledger)
        try f.close()
        let reader = try Ledger.open(directory: f.directory.join("log"), options: LedgerOptions(readOnly: true))
        #expect(try snapshotState(reader) == written)
        #expect(try reader.read { try $0.liveKeys(owner: nil) } == written.liveConversations(owner: nil).map(\.key))
        try expectIndexMatchesTheLog(reader)
    }

    @Test func aFormatTwoLedgerMovesItsHeadStateOut() throws {
        let f = try LedgerFixture()
        for round in 0..<3 { try populate(f, round: round) }
        let before = try snapshotState(f.ledger)
        try f.close()
        // What format 2 looked like: head state databases beside the log (here with stale
        // contents, which must not be trusted), no state environment, the format-2 tag.
        let log = f.directory.join("log")
        try FileManager.default.removeItem(atPath: Ledger.stateDirectory(of: log))
        do {
            let environment = try LMDBEnvironment.open(directory: log)
            for name in LedgerLayout.legacyStateDatabases {
                let database = try environment.database(named: name)
                try environment.write { txn in try txn.put(database, key: Array("stale".utf8), value: [1, 2, 3]) }
            }
            let meta = try environment.database(named: "meta")
            try environment.write { txn in try txn.put(meta, key: LedgerLayout.formatKey, value: LedgerLayout.legacyFormatTag) }
        }
        try f.reopen()
        #expect(try snapshotState(f.ledger) == before)
        try expectFoldEqualsHeadState(f.ledger)
        let (tag, left) = try f.ledger.environment.read { txn -> ([UInt8]?, [String]) in
            let tag = try txn.get(f.ledger.layout.meta, key: LedgerLayout.formatKey).map { Array($0) }
            let left = try LedgerLayout.legacyStateDatabases.filter { try txn.existingDatabase(named: $0) != nil }
            return (tag, left)
        }
        #expect(tag == LedgerLayout.formatTag)
        #expect(left.isEmpty, "format-2 databases left beside the log: \(left)")
    }

    /// `Ledger.conversation(_:)` (ledgerd's hot read) looks into the overlays without copying
    /// them and reads the state environment otherwise. Readers on other threads, while the
    /// writer appends and write-backs move the overlays out every few events, never see a
    /// conversation go back in time, and end on what a snapshot holds.
    @Test func pointReadsNeverGoBackWhileHeadStateIsWrittenBack() async throws {
        let f = try LedgerFixture(writeBack: WriteBackPolicy(events: 4, intervalNanoseconds: 500_000))
        let keys = (0..<8).map { "k\($0)" }
        for key in keys { try f.accept(key, .created("s-\(key)", expectedVersion: 0, owner: nil, epoch: nil, environment: nil)) }
        let done = Atomic(false)
        let backwards = Atomic(0)
        let reads = Atomic(0)
        let ledger: Ledger = f.ledger
        let finishedReaders = Atomic(0)
        // Threads of their own, not the shared dispatch pool: the test waits for them below,
        // and a pool busy with other suites' tests might not start them at all meanwhile.
        for _ in 0..<2 {
            Thread {
                defer { finishedReaders.add(1, ordering: .releasing) }
                var seen = [String: UInt64]()
                while !done.load(ordering: .relaxed) {
                    for key in keys {
                        guard let version = try? ledger.conversation(key).version else { backwards.add(1, ordering: .relaxed); continue }
                        if version < seen[key, default: 0] { backwards.add(1, ordering: .relaxed) }
                        seen[key] = version
                        reads.add(1, ordering: .relaxed)
                    }
                }
            }.start()
        }
        // Waits by suspending, not blocking: other suites' tests share the test process's few threads.
        while reads.load(ordering: .relaxed) < 64 { try await Task.sleep(for: .milliseconds(1)) }  // readers under way
        let readsBefore = reads.load(ordering: .relaxed)
        for round in 1...400 {
            for key in keys { try f.accept(key, .resumed("s-\(key)", expectedVersion: UInt64(round))) }
        }
        done.store(true, ordering: .relaxed)
        while finishedReaders.load(ordering: .relaxed) < 2 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(backwards.load(ordering: .relaxed) == 0, "a point read went back in time or failed")
        #expect(reads.load(ordering: .relaxed) > readsBefore + 1_000, "the readers ran while the writer wrote")
        for key in keys {
            #expect(try ledger.conversation(key) == f.conversation(key))
            #expect(try ledger.conversation(key).version == 401)
        }
        #expect(try ledger.conversation("never-written") == ConversationState(key: "never-written"))
    }
}
