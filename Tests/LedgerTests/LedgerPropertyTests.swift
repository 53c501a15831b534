import PropertyBased
import Testing
@testable import Ledger

/// Random interleavings of commands from several clients that hold stale views, boot owners and
/// report errors echoing IDs. After every append, an oracle built only from the events the
/// ledger returned checks I1, I2 and I3; at the end, reopening gives the same state and a fold
/// from scratch equals the head state.
@Suite struct LedgerPropertyTests {
    @Test func invariantsHoldUnderRandomInterleavings() async throws {
        await propertyCheck(count: 60, input: Gen.uint64(in: 0 ... .max).array(of: 10...150)) { script in
            try runScript(script, writeBack: WriteBackPolicy())
        }
    }

    /// The same with head state written back every few events, in the background, while
    /// appends go on: reads see one state whether it is held in memory, being written back or stored.
    @Test func invariantsHoldWhileHeadStateIsWrittenBack() async throws {
        await propertyCheck(count: 40, input: Gen.uint64(in: 0 ... .max).array(of: 10...150)) { script in
            try runScript(script, writeBack: WriteBackPolicy(events: 3, intervalNanoseconds: 2_000_000))
        }
    }

    /// What a client last read of one key.
    struct View { var version: UInt64 = 0; var sessionId: String? }

    /// Everything the oracle learned from the events so far.
    struct Oracle {
        var versions: [String: UInt64] = [:]
        var epochs: [String: UInt64] = [:]
        var current: [String: String] = [:]
        var everCreated: Set<String> = []
        var graveyard: Set<String> = []

        /// Checks one accepted command's events and learns from them.
        mutating func learn(_ command: Command, _ events: [Event]) {
            if case .transition(let key, let request) = command, let expected = request.expectedVersion,
               request.kind == .created || request.kind == .resumed || request.kind == .cleared {
                #expect(expected == versions[key, default: 0], "I2: a write based on version \(expected) won at \(versions[key, default: 0])")
            }
            for event in events {
                if event.type == .ownerBooted {
                    #expect(event.epoch == epochs[event.owner!, default: 0] + 1, "epochs are gapless")
                    epochs[event.owner!] = event.epoch
                    continue
                }
                let key = event.key!
                #expect(event.version == versions[key, default: 0] + 1, "I2: versions rise by exactly one")
                versions[key] = event.version
                switch event.type {
                case .created:
                    let id = event.sessionId!
                    #expect(!graveyard.contains(id), "I1: dead session \(id) made current")
                    #expect(!current.values.contains(id) || current[key] == id, "a live session belongs to one conversation")
                    if let epoch = event.epoch {
                        #expect(epoch == epochs[event.owner!, default: 0], "I3: created in a stale epoch")
                    }
                    if let old = current[key], old != id { #expect(event.supersedes == old); graveyard.insert(old) }
                    current[key] = id
                    everCreated.insert(id)
                case .resumed:
                    #expect(!graveyard.contains(event.sessionId!), "I1: dead session resumed")
                    #expect(current[key] == event.sessionId, "resumed a session that is not current")
                case .errored:
                    let id = event.sessionId!
                    graveyard.insert(id)
                    if current[key] == id { current[key] = nil }
                    if let reported = event.reportedSessionId, !everCreated.contains(reported) { graveyard.insert(reported) }
                case .cleared, .invalidatedOnBoot:
                    #expect(current[key] == event.sessionId)
                    if let id = event.sessionId { graveyard.insert(id) }
                    current[key] = nil
                case .ownerBooted:
                    break
                }
            }
        }
    }

    func runScript(_ script: [UInt64], writeBack: WriteBackPolicy) throws {
        let f = try LedgerFixture(writeBack: writeBack)
        let keys = ["k0", "k1", "k2"]
        let owners = ["rt-a", "rt-b"]
        let environments = [RuntimeEnvironment(volume: "v1"), RuntimeEnvironment(volume: "v2"), RuntimeEnvironment(host: "h1", volume: "v1")]
        var views = [[String: View]](repeating: [:], count: 4)
        var knownEpochs = [[String: UInt64]](repeating: [:], count: 4)
        var issued: [String] = []
        var counter = 0
        var oracle = Oracle()
        var pending: [Command] = []

        func newId() -> String { counter += 1; issued.append("s\(counter)"); return "s\(counter)" }
        func oldId(_ w: UInt64) -> String { issued.isEmpty ? newId() : issued[Int(w % UInt64(issued.count))] }

        func flush() throws {
            guard !pending.isEmpty else { return }
            f.clock += 1_000
            let stateBefore = try snapshotState(f.ledger)
            let result = try f.ledger.append(pending.map { CommandEnvelope($0) }, now: f.clock)
            // What the batch reports as changed (what the head state takes and the projection
            // writes) is exactly what its events change when folded over the whole state before it.
            var folded = stateBefore
            for committed in result.events { try SessionMachine.apply(committed.event, to: &folded) }
            #expect(result.changed == folded.changes(since: stateBefore))
            #expect(try snapshotState(f.ledger) == folded)
            for (command, outcome) in zip(pending, result.outcomes) {
                switch outcome {
                case .accepted(let range, _):
                    oracle.learn(command, result.events[range].map(\.event))
                case .rejected(let rejection, let conversation):
                    if case .transition(let key, _) = command, rejection.code != .invalidRequest {
                        #expect(conversation?.version == oracle.versions[key, default: 0], "a rejection carries the current state")
                    }
                case .failed(let violation):
                    Issue.record("the state machine decided an event that breaks an invariant: \(violation)")
                }
            }
            // The stored state agrees with the oracle after every batch.
            for key in keys {
                let stored = try f.conversation(key)
                #expect(try f.ledger.conversation(key) == stored, "the point read (ledgerd's GET) agrees with a snapshot")
                #expect(stored.version == oracle.versions[key, default: 0])
                #expect(stored.sessionId == oracle.current[key])
                if let id = stored.sessionId {
                    #expect(!oracle.graveyard.contains(id), "I1: a dead session is current")
                    // The writer and the projection take this record as implied instead of
                    // reading it (LedgerState.hold(loaded:)): it must be exactly what is stored.
                    var implied = LedgerState()
                    implied.hold(loaded: stored)
                    #expect(try f.ledger.read { try $0.session(id) } == implied.sessions[id], "a current session's stored record is the implied one")
                }
            }
            // The live index (what boots and invalidate-on-start read) agrees too.
            #expect(try f.ledger.read { try $0.liveKeys(owner: nil) } == keys.filter { oracle.current[$0] != nil })
            pending.removeAll()
        }

        for w in script {
            let client = Int(w % 4)
            let key = keys[Int((w >> 2) % 3)]
            let owner = owners[Int((w >> 4) % 2)]
            let view = views[client][key] ?? View()
            let pick = w >> 16
            switch (w >> 5) % 12 {
            case 0, 1:
                try flush()
                let state = try f.conversation(key)
                views[client][key] = View(version: state.version, sessionId: state.sessionId)
                knownEpochs[client][owner] = try f.ledger.read { try $0.owner(owner).epoch }
            case 2, 3:
                let id = pick % 5 == 0 ? oldId(pick) : newId()
                pending.append(.transition(key: key, .created(id, expectedVersion: view.version)))
            case 4:
                let id = pick % 5 == 0 ? oldId(pick) : newId()
                pending.append(.transition(key: key, .created(id, expectedVersion: view.version, owner: owner,
                                                             epoch: pick % 3 == 0 ? nil : knownEpochs[client][owner, default: 0],
                                                             environment: environments[Int(pick % 3)])))
            case 5, 6:
                pending.append(.transition(key: key, .resumed(view.sessionId ?? oldId(pick), expectedVersion: view.version)))
            case 7:
                let reported: String? = switch pick % 4 { case 0: nil; case 1: newId(); case 2: oldId(pick >> 3); default: view.sessionId }
                pending.append(.transition(key: key, .errored(view.sessionId ?? oldId(pick), reason: "error_during_execution", reportedSessionId: reported)))
            case 8:
                pending.append(.transition(key: key, .cleared(pick % 2 == 0 ? view.sessionId : nil,
                                                             expectedVersion: pick % 3 == 0 ? view.version : nil, reason: "reset")))
            case 9, 10:
                let policy: InvalidationPolicy = pick % 2 == 0 ? .all : .mismatched
                pending.append(.boot(owner: owner, environment: environments[Int(pick % 3)], policy: policy))
            default:
                if pick % 8 == 0 { pending.append(.invalidateAllLive(reason: "restart")) }
            }
            if pending.count >= Int(1 + (w >> 40) % 4) { try flush() }
        }
        try flush()

        // A fold of the whole log from scratch equals the head state kept beside it.
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem == nil, "\(String(describing: report.problem))")
        let before = try snapshotState(f.ledger)
        #expect(before == report.state)
        // Closing and reopening gives the same state: with what was held in memory lost (folded
        // again from the log), and after writing everything back.
        try f.reopen()
        #expect(try snapshotState(f.ledger) == before)
        try f.ledger.writeBackHeadState()
        #expect(f.ledger.headStateStatus.heldEvents == 0)
        try f.reopen()
        #expect(try snapshotState(f.ledger) == before)
        #expect(try LedgerVerifier.verify(f.ledger).problem == nil)
    }
}

/// Every conversation, session record and owner stored in `ledger`.
func snapshotState(_ ledger: Ledger) throws -> LedgerState {
    try ledger.read { snapshot in
        var state = LedgerState()
        try snapshot.forEachConversation { state.conversations[$0.key] = $0 }
        try snapshot.forEachSession { state.sessions[$0] = $1 }
        try snapshot.forEachOwner { state.owners[$0.name] = $0 }
        return state
    }
}

extension LedgerState {
    /// Every entity of `self` that differs from `before`: the oracle for what a batch changed,
    /// computed over whole states.
    func changes(since before: LedgerState) -> LedgerState {
        var changed = LedgerState()
        for (key, conversation) in conversations where before.conversations[key] != conversation { changed.conversations[key] = conversation }
        for (id, record) in sessions where before.sessions[id] != record { changed.sessions[id] = record }
        for (name, owner) in owners where before.owners[name] != owner { changed.owners[name] = owner }
        return changed
    }
}
