import GRDB
import PropertyBased
import Testing
@testable import Ledger
@testable import Projections

@Suite struct ProjectionFoldTests {
    /// Turns random words into commands over a few keys, owners and recycled session IDs.
    static func commands(from script: [UInt64]) -> [[Command]] {
        var batches: [[Command]] = []
        var batch: [Command] = []
        var issued = 0
        for w in script {
            let key = "k\(w % 5)"
            let owner = ["o1", "o2"][Int((w >> 3) % 2)]
            let id = (w >> 8) % 4 == 0 && issued > 0 ? "s\((w >> 12) % UInt64(issued))" : { issued += 1; return "s\(issued - 1)" }()
            let version = (w >> 20) % 6
            switch (w >> 4) % 8 {
            case 0, 1: batch.append(.transition(key: key, .created(id, expectedVersion: version, owner: w % 3 == 0 ? owner : nil,
                                                                    environment: w % 2 == 0 ? RuntimeEnvironment(volume: "v\(w % 3)") : nil)))
            case 2, 3: batch.append(.transition(key: key, .resumed(id, expectedVersion: version)))
            case 4: batch.append(.transition(key: key, .errored(id, reason: "boom", reportedSessionId: w % 2 == 0 ? "r\(w % 7)" : nil)))
            case 5: batch.append(.transition(key: key, .cleared(w % 2 == 0 ? id : nil, reason: "reset")))
            case 6: batch.append(.boot(owner: owner, environment: RuntimeEnvironment(volume: "v\(w % 3)"), policy: w % 2 == 0 ? .all : .mismatched))
            default: if w % 5 == 0 { batch.append(.invalidateAllLive(reason: "restart")) }
            }
            if batch.count >= Int(1 + (w >> 30) % 5) { batches.append(batch); batch = [] }
        }
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }

    /// I4: after any sequence of commands the projection equals the fold of the log, row by row
    /// and answer by answer, whether batches are folded from their records or written from the
    /// entities the ledger computed for them.
    @Test(arguments: DataDirectoryFixture.ApplyPath.allCases)
    func theProjectionEqualsTheFoldOfTheLog(path: DataDirectoryFixture.ApplyPath) async throws {
        await propertyCheck(count: 40, input: Gen.uint64(in: 0 ... .max).array(of: 5...120)) { script in
            let f = try DataDirectoryFixture()
            for batch in Self.commands(from: script) { try f.append(batch, path: path) }
            #expect(try f.projection.compareWithLog() == nil)
            let logged = try f.ledger.read { snapshot in try (0..<5).map { try snapshot.conversation("k\($0)") } }
            let served = try f.projection.read { q in try (0..<5).map { try q.session("k\($0)") } }
            #expect(served == logged)
            #expect(try f.projection.checkpoint().seq == f.ledger.head().seq)
        }
    }

    /// The writer updates a row in place only while its state and owner stay (the listing
    /// indexes keep their entries) and replaces it otherwise: listings by state and owner follow
    /// each change, every index entry matches its row, and the rows stay the fold's.
    @Test func rowsThatChangeStateOrOwnerMoveInTheListingIndexes() throws {
        let f = try DataDirectoryFixture()
        func listed(owner: String? = nil, _ state: SessionStateFilter? = nil) throws -> [String] {
            try f.projection.read { try $0.sessions(owner: owner, state: state).sessions.map(\.key) }
        }
        func indexesHoldTheRows() throws -> Bool {
            let file = try DatabaseQueue(path: f.path + "/projection.sqlite")
            defer { try? file.close() }
            return try file.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") } == ["ok"]
        }
        try f.append([.transition(key: "k", .created("s1", expectedVersion: 0, owner: "o1")),
                      .transition(key: "j", .created("s2", expectedVersion: 0))], path: .changes)
        #expect(try listed(owner: "o1", .active) == ["k"])
        #expect(try listed(.active) == ["j", "k"])

        try f.append([.transition(key: "k", .cleared("s1", reason: "reset"))], path: .changes)
        #expect(try listed(.active) == ["j"])
        #expect(try listed(SessionStateFilter.none) == ["k"])
        #expect(try listed(owner: "o1", .active) == [])

        try f.append([.transition(key: "k", .created("s3", expectedVersion: 2, owner: "o2")),
                      .transition(key: "j", .resumed("s2", expectedVersion: 1))], path: .changes)
        #expect(try listed(owner: "o2", .active) == ["k"])
        #expect(try listed(owner: "o1") == [])
        #expect(try listed(SessionStateFilter.none) == [])
        #expect(try f.projection.read { try $0.session("j").version } == 2)
        #expect(try indexesHoldTheRows())
        #expect(try f.projection.compareWithLog() == nil)
    }

    /// A crash between the LMDB commit and the SQLite apply leaves the projection behind the
    /// log; opening it again catches up to the same state.
    @Test func aCrashBetweenCommitAndApplyIsCaughtUpOnOpen() async throws {
        await propertyCheck(count: 20, input: Gen.uint64(in: 0 ... .max).array(of: 20...100), Gen.int(in: 0...100)) { script, cut in
            let f = try DataDirectoryFixture()
            let batches = Self.commands(from: script)
            let applied = batches.count * cut / 100
            for (index, batch) in batches.enumerated() { try f.append(batch, apply: index < applied) }
            f.closeProjection()
            try f.reopenProjection()
            #expect(try f.projection.checkpoint().seq == f.ledger.head().seq)
            #expect(try f.projection.compareWithLog() == nil)
            // and it is the same as a projection that never crashed
            let clean = TemporaryDirectory("clean")
            let reference = try Projection.open(directory: clean.path, ledger: f.ledger, logger: CapturedLogs().logger())
            #expect(try ProjectionAnswers(f.projection) == ProjectionAnswers(reference))
        }
    }

    @Test func aGapAndADoubleApplyAreRefusedAndChangeNothing() throws {
        let f = try DataDirectoryFixture()
        let first = try f.append([.transition(key: "k", .created("s1", expectedVersion: 0))])
        let second = try f.append([.transition(key: "k", .resumed("s1", expectedVersion: 1))], apply: false)
        let third = try f.append([.transition(key: "k", .resumed("s1", expectedVersion: 2))], apply: false)
        let gap = #expect(throws: ProjectionError.self) { try f.projection.apply(third.events) }
        #expect(gap?.code == .outOfOrder)
        let double = #expect(throws: ProjectionError.self) { try f.projection.apply(first.events) }
        #expect(double?.code == .outOfOrder)
        #expect(try f.projection.checkpoint().seq == 1)
        #expect(try f.projection.read { try $0.session("k").version } == 1)
        try f.projection.apply(second.events)
        try f.projection.apply(third.events)
        #expect(try f.projection.read { try $0.session("k").version } == 3)
    }

    /// ledgerd's path: a batch the checkpoint already covers changes nothing, a batch after a
    /// gap is caught up from the log, and a log that does not chain from the checkpoint (a
    /// projection beside another ledger's log) is refused without a change.
    @Test func committedBatchesAreSkippedCaughtUpOrRefused() throws {
        let f = try DataDirectoryFixture()
        let first = try f.append([.transition(key: "k", .created("s1", expectedVersion: 0))], path: .changes)
        try f.append([.transition(key: "k", .resumed("s1", expectedVersion: 1))], apply: false)
        let third = try f.append([.transition(key: "k", .resumed("s1", expectedVersion: 2))], apply: false)
        try f.projection.applyCommitted(third)
        #expect(try f.projection.checkpoint().seq == 3)
        try f.projection.applyCommitted(first)
        #expect(try f.projection.read { try $0.session("k").version } == 3)
        #expect(try f.projection.compareWithLog() == nil)

        // The checkpoint's hash no longer names the log's event 3.
        let forged = try DatabaseQueue(path: f.path + "/projection.sqlite")
        try forged.write { try $0.execute(sql: "UPDATE checkpoint SET hash = zeroblob(32)") }
        try forged.close()
        let fourth = try f.append([.transition(key: "k", .created("s2", expectedVersion: 3))], apply: false)
        let refused = #expect(throws: ProjectionError.self) { try f.projection.applyCommitted(fourth) }
        #expect(refused?.code == .refused)
        #expect(try f.projection.checkpoint().seq == 3)
        #expect(try f.projection.read { try $0.session("k").sessionId } == "s1")
        #expect(try f.projection.read { try $0.session("k").version } == 3)
    }

    /// Handed a record that chains correctly but makes a dead session current (a forged or
    /// foreign log), the projection refuses it: the ledger's state machine runs here too.
    @Test func aProjectionNeverMakesADeadSessionCurrent() throws {
        let f = try DataDirectoryFixture()
        try f.append([.transition(key: "k", .created("s1", expectedVersion: 0))])
        try f.append([.transition(key: "k", .errored("s1", reason: "boom"))])
        let checkpoint = try f.projection.checkpoint()
        let forged = Event(seq: 3, key: "k", version: 3, type: .created, sessionId: "s1", time: f.clock + 1)
        let (bytes, hash) = StoredRecord.seal(forged, after: checkpoint.hash)
        let refused = #expect(throws: ProjectionError.self) {
            try f.projection.apply([CommittedEvent(event: forged, stored: bytes, hash: hash)])
        }
        #expect(refused?.code == .refused)
        #expect(refused?.message.contains("I1") == true)
        #expect(try f.projection.read { try $0.session("k").sessionId } == nil)

        // A record that does not chain from the checkpoint (another log's) is refused too.
        let foreign = Event(seq: 3, key: "k", version: 3, type: .created, sessionId: "s9", time: f.clock + 1)
        let (foreignBytes, foreignHash) = StoredRecord.seal(foreign, after: .genesis)
        let chain = #expect(throws: ProjectionError.self) {
            try f.projection.apply([CommittedEvent(event: foreign, stored: foreignBytes, hash: foreignHash)])
        }
        #expect(chain?.code == .refused)
        #expect(try f.projection.checkpoint() == checkpoint)
    }

    /// Time ranges are answered as seq ranges, so the projector refuses an event earlier than
    /// the one before it, even one that chains correctly.
    @Test func anEventThatGoesBackInTimeIsRefused() throws {
        let f = try DataDirectoryFixture()
        try f.append([.transition(key: "k", .created("s1", expectedVersion: 0))])
        let checkpoint = try f.projection.checkpoint()
        let earlier = Event(seq: 2, key: "k", version: 2, type: .resumed, sessionId: "s1", time: f.clock - 10)
        let (bytes, hash) = StoredRecord.seal(earlier, after: checkpoint.hash)
        let refused = #expect(throws: ProjectionError.self) {
            try f.projection.apply([CommittedEvent(event: earlier, stored: bytes, hash: hash)])
        }
        #expect(refused?.code == .refused)
        #expect(refused?.message.contains("back in time") == true)
    }

    @Test func queriesAnswerWhatTheServerAndCLINeed() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 12)
        try f.projection.read { q in
            let unknown = try q.session("never-written")
            #expect(unknown.version == 0 && unknown.sessionId == nil && !unknown.isActive)

            var all: [ConversationState] = []
            var cursor: String?
            repeat {
                let page = try q.sessions(after: cursor, limit: 5)
                #expect(page.sessions.count <= 5)
                all += page.sessions
                cursor = page.next
            } while cursor != nil
            #expect(all.map(\.key) == (0..<12).map { "k\($0)" }.sorted())

            let active = try q.sessions(state: .active, limit: 1000).sessions
            #expect(active.allSatisfy { $0.isActive })
            let ofB = try q.sessions(owner: "rt-b", limit: 1000).sessions
            #expect(!ofB.isEmpty && ofB.allSatisfy { $0.owner == "rt-b" })
            let noneOfA = try q.sessions(owner: "rt-a", state: SessionStateFilter.none, limit: 1000).sessions
            #expect(noneOfA.allSatisfy { $0.owner == "rt-a" && !$0.isActive })
            #expect(active.count + (try q.sessions(state: SessionStateFilter.none, limit: 1000).sessions.count) == 12)

            #expect(try q.history(owner: "rt-a").contains { $0.event.type == .ownerBooted })

            let everything = try q.events(since: 0)
            #expect(everything.map(\.event.seq) == Array(1...UInt64(everything.count)))
            let middle = everything[everything.count / 2].event.time
            let later = try q.events(since: middle)
            #expect(later.allSatisfy { $0.event.time >= middle })
            #expect(try q.events(since: 0, until: middle).count + later.count == everything.count)
            #expect(try q.owner("rt-a").epoch == 2)
        }
        // Every served event carries the log's chain hash.
        let served = try f.projection.read { try $0.events(since: 0) }
        try f.ledger.read { snapshot in
            for logged in served {
                let hash = try snapshot.record(logged.event.seq)!.withUnsafeBytes { try StoredRecord.parts($0).storedHash }
                #expect(hash == logged.hash)
            }
        }
    }
}
