import Testing
@testable import Ledger

/// Every rule of the state machine and every rejection code, through a real LMDB file.
@Suite struct TransitionRuleTests {
    let key = "slack:C123:thread9"

    // MARK: created

    @Test func createdOnAnUnknownKeyStartsAtVersionOne() throws {
        let f = try LedgerFixture()
        let state = try f.accept(key, .created("S1", expectedVersion: 0))
        #expect(state.version == 1)
        #expect(state.sessionId == "S1")
        #expect(try f.conversation(key) == state)
        #expect(try f.session("S1") == SessionRecord(key: key))
    }

    @Test func createdSupersedesTheCurrentSessionWhichThenIsDead() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        let (outcome, events) = try f.run(key, .created("S2", expectedVersion: 1))
        guard case .accepted = outcome else { Issue.record("\(outcome)"); return }
        #expect(events.map(\.event.supersedes) == ["S1"])
        #expect(try f.session("S1")?.endedBy == .created)
        #expect(try f.session("S1")?.endedSeq == events[0].event.seq)
        let (rejection, current) = try f.reject(key, .created("S1", expectedVersion: 2))
        #expect(rejection.code == .deadSession)
        #expect(current?.sessionId == "S2")
    }

    @Test func createdWithAStaleVersionIsRejectedWithTheCurrentState() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("Sa", expectedVersion: 0))
        let (rejection, current) = try f.reject(key, .created("Sb", expectedVersion: 0))
        #expect(rejection.code == .staleVersion)
        #expect(current?.sessionId == "Sa")
        #expect(current?.version == 1)
        #expect(try f.session("Sb") == nil, "a rejected command leaves no trace")
    }

    @Test func createdWithASessionOfAnotherKeyIsSessionTaken() throws {
        let f = try LedgerFixture()
        try f.accept("other", .created("S1", expectedVersion: 0))
        let (rejection, current) = try f.reject(key, .created("S1", expectedVersion: 0))
        #expect(rejection.code == .sessionTaken)
        #expect(current?.version == 0)
    }

    @Test func createdAgainWithTheCurrentSessionBumpsTheVersionWithoutSuperseding() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        let (outcome, events) = try f.run(key, .created("S1", expectedVersion: 1))
        guard case .accepted(_, let state?) = outcome else { Issue.record("\(outcome)"); return }
        #expect(state.version == 2)
        #expect(state.sessionId == "S1")
        #expect(events[0].event.supersedes == nil)
        #expect(try f.session("S1")?.isLive == true)
    }

    @Test func createdChecksTheOwnerEpoch() throws {
        let f = try LedgerFixture()
        try f.run(.boot(owner: "runtime-a", environment: nil, policy: .all))
        try f.run(.boot(owner: "runtime-a", environment: nil, policy: .all))
        let (old, _) = try f.reject(key, .created("S1", expectedVersion: 0, owner: "runtime-a", epoch: 1))
        #expect(old.code == .staleEpoch)
        let (ahead, _) = try f.reject(key, .created("S1", expectedVersion: 0, owner: "runtime-a", epoch: 3))
        #expect(ahead.code == .staleEpoch)
        let state = try f.accept(key, .created("S1", expectedVersion: 0, owner: "runtime-a", epoch: 2))
        #expect(state.owner == "runtime-a")
        #expect(state.epoch == 2)
    }

    @Test func createdWithAnOwnerButNoEpochIsStampedWithTheCurrentEpoch() throws {
        let f = try LedgerFixture()
        try f.run(.boot(owner: "runtime-a", environment: nil, policy: .all))
        let state = try f.accept(key, .created("S1", expectedVersion: 0, owner: "runtime-a"))
        #expect(state.epoch == 1)
        let fresh = try f.accept("k2", .created("S2", expectedVersion: 0, owner: "never-booted"))
        #expect(fresh.epoch == 0)
    }

    // MARK: resumed

    @Test func resumedBumpsTheVersionAndFencesOlderTurns() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        let state = try f.accept(key, .resumed("S1", expectedVersion: 1))
        #expect(state.version == 2)
        // A turn that read version 1 before the resume can no longer write.
        let (rejection, current) = try f.reject(key, .created("S9", expectedVersion: 1))
        #expect(rejection.code == .staleVersion)
        #expect(current?.version == 2)
    }

    @Test func resumedRejections() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        try f.accept(key, .created("S2", expectedVersion: 1))
        try f.accept("other", .created("T1", expectedVersion: 0))
        #expect(try f.reject(key, .resumed("S2", expectedVersion: 1)).0.code == .staleVersion)
        #expect(try f.reject(key, .resumed("S1", expectedVersion: 2)).0.code == .deadSession)
        #expect(try f.reject(key, .resumed("T1", expectedVersion: 2)).0.code == .sessionTaken)
        #expect(try f.reject(key, .resumed("S-never", expectedVersion: 2)).0.code == .notCurrent)
        try f.run(.boot(owner: "rt", environment: nil, policy: .all))
        #expect(try f.reject(key, .resumed("S2", expectedVersion: 2, owner: "rt", epoch: 0)).0.code == .staleEpoch)
        #expect(try f.accept(key, .resumed("S2", expectedVersion: 2, owner: "rt", epoch: 1)).version == 3)
    }

    // MARK: errored

    /// Incident A: the error result carries a new ID; both it and the failed one are dead, and
    /// the conversation has no session, so the next turn starts fresh instead of looping.
    @Test func erroredKillsTheSessionAndTheReportedId() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        try f.accept(key, .resumed("S1", expectedVersion: 1))
        let state = try f.accept(key, TransitionRequest.errored("S1", reason: "error_during_execution", reportedSessionId: "S2"))
        #expect(state.sessionId == nil)
        #expect(state.version == 3)
        #expect(try f.session("S1")?.endedBy == .errored)
        #expect(try f.session("S2")?.endedBy == .errored)
        #expect(try f.reject(key, .created("S2", expectedVersion: 3)).0.code == .deadSession)
        #expect(try f.accept(key, .created("S3", expectedVersion: 3)).sessionId == "S3")
    }

    /// Incident C: the dead ID echoed back in the error result cannot be saved again.
    @Test func anEchoedDeadIdCannotBeSavedAgain() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        try f.accept(key, .errored("S1", reason: "error_during_execution", reportedSessionId: "S1"))
        let (rejection, current) = try f.reject(key, .created("S1", expectedVersion: 2))
        #expect(rejection.code == .deadSession)
        #expect(current?.sessionId == nil)
    }

    /// Incident D: an old turn's error report cannot end the newer session, and a report that
    /// changes nothing is acknowledged without an event, so it cannot fence out the new turn.
    @Test func aLateErrorNeverEndsANewerSession() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        try f.accept(key, .resumed("S1", expectedVersion: 1))      // old turn starts (v2)
        try f.accept(key, .cleared(reason: "user reset"))           // v3
        try f.accept(key, .created("S2", expectedVersion: 3))       // v4
        let (outcome, events) = try f.run(key, .errored("S1", reason: "late", reportedSessionId: "S2"))
        guard case .accepted(_, let state?) = outcome else { Issue.record("\(outcome)"); return }
        #expect(events.isEmpty)
        #expect(state.sessionId == "S2")
        #expect(state.version == 4)
        #expect(try f.session("S2")?.isLive == true)
        // and the old turn's late success write is fenced out
        #expect(try f.reject(key, .created("S1b", expectedVersion: 2)).0.code == .staleVersion)
    }

    @Test func erroredOnAnUnknownSessionRecordsItDeadWithoutTouchingTheCurrentOne() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        let state = try f.accept(key, .errored("S-unknown"))
        #expect(state.sessionId == "S1")
        #expect(state.version == 2)
        #expect(try f.session("S-unknown")?.isLive == false)
    }

    @Test func erroredNeverReachesIntoAnotherConversation() throws {
        let f = try LedgerFixture()
        try f.accept("other", .created("T1", expectedVersion: 0))
        try f.accept(key, .created("S1", expectedVersion: 0))
        #expect(try f.reject(key, .errored("T1")).0.code == .sessionTaken)
        // A reported ID that is another conversation's live session is not ended either.
        try f.accept(key, .errored("S1", reportedSessionId: "T1"))
        #expect(try f.session("T1")?.isLive == true)
        #expect(try f.conversation("other").sessionId == "T1")
        // Dead or alive, another conversation's session is not this one's to report on.
        try f.accept("other", .errored("T1"))
        #expect(try f.reject(key, .errored("T1", reportedSessionId: "fresh")).0.code == .sessionTaken)
        #expect(try f.session("fresh") == nil)
    }

    // MARK: cleared

    @Test func compareAndClear() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        let (rejection, current) = try f.reject(key, .cleared("S0", reason: "reset"))
        #expect(rejection.code == .sessionChanged)
        #expect(current?.sessionId == "S1")
        let (outcome, events) = try f.run(key, .cleared("S1", reason: "reset"))
        guard case .accepted(_, let state?) = outcome else { Issue.record("\(outcome)"); return }
        #expect(state.sessionId == nil)
        #expect(events[0].event.sessionId == "S1")
        #expect(events[0].event.reason == "reset")
        #expect(try f.session("S1")?.endedBy == .cleared)
    }

    @Test func adminClearWithoutSessionClearsWhateverIsCurrentAndFences() throws {
        let f = try LedgerFixture()
        try f.accept(key, .created("S1", expectedVersion: 0))
        #expect(try f.accept(key, .cleared(reason: "admin")).sessionId == nil)
        let state = try f.accept(key, .cleared(reason: "again, nothing current"))
        #expect(state.version == 3)
        #expect(try f.reject(key, .cleared(expectedVersion: 1, reason: "stale")).0.code == .staleVersion)
    }

    // MARK: boots

    @Test func bootAllInvalidatesEveryLiveSessionOfTheOwnerOnly() throws {
        let f = try LedgerFixture()
        try f.run(.boot(owner: "a", environment: nil, policy: .all))
        try f.accept("k1", .created("S1", expectedVersion: 0, owner: "a", epoch: 1))
        try f.accept("k2", .created("S2", expectedVersion: 0, owner: "a", epoch: 1))
        try f.accept("k3", .created("S3", expectedVersion: 0, owner: "b"))
        try f.accept("k4", .created("S4", expectedVersion: 0))
        try f.accept("k2", .cleared(reason: "done"))
        let (outcome, events) = try f.run(.boot(owner: "a", environment: nil, policy: .all))
        guard case .accepted = outcome else { Issue.record("\(outcome)"); return }
        #expect(events.map(\.event.type) == [.ownerBooted, .invalidatedOnBoot])
        #expect(events[0].event.epoch == 2)
        #expect(events[1].event.key == "k1")
        #expect(events[1].event.sessionId == "S1")
        #expect(try f.conversation("k1").sessionId == nil)
        #expect(try f.conversation("k3").sessionId == "S3")
        #expect(try f.conversation("k4").sessionId == "S4")
        #expect(try f.session("S1")?.endedBy == .invalidatedOnBoot)
        // A write from the old epoch is fenced out.
        #expect(try f.reject("k5", .created("S5", expectedVersion: 0, owner: "a", epoch: 1)).0.code == .staleEpoch)
    }

    /// Incident G: a boot whose transcripts survived (same volume) keeps continuity; a lost
    /// volume invalidates. Fields the boot does not name are not compared.
    @Test func bootMismatchedKeepsSessionsWhoseEnvironmentMatches() throws {
        let f = try LedgerFixture()
        let kept = RuntimeEnvironment(host: "c-1", volume: "vol-a", cwd: "/app", provider: "anthropic")
        let lost = RuntimeEnvironment(host: "c-1", volume: "vol-b", cwd: "/app", provider: "anthropic")
        try f.accept("k1", .created("S1", expectedVersion: 0, owner: "a", environment: kept))
        try f.accept("k2", .created("S2", expectedVersion: 0, owner: "a", environment: lost))
        try f.accept("k3", .created("S3", expectedVersion: 0, owner: "a"))
        let booting = RuntimeEnvironment(host: nil, volume: "vol-a", cwd: "/app", provider: "anthropic")
        let (_, events) = try f.run(.boot(owner: "a", environment: booting, policy: .mismatched))
        #expect(events.compactMap(\.event.key) == ["k2", "k3"])
        #expect(events[1].event.reason?.contains("volume") == true)
        #expect(try f.conversation("k1").sessionId == "S1")
        #expect(try f.conversation("k2").sessionId == nil)
        #expect(try f.conversation("k3").sessionId == nil, "a session with no recorded environment cannot show continuity")
        // The surviving session can be resumed under the new epoch.
        #expect(try f.accept("k1", .resumed("S1", expectedVersion: 1, owner: "a", epoch: 1)).version == 2)
    }

    @Test func bootMismatchedNeedsAnEnvironment() throws {
        let f = try LedgerFixture()
        let (outcome, events) = try f.run(.boot(owner: "a", environment: RuntimeEnvironment(), policy: .mismatched))
        guard case .rejected(let rejection, nil) = outcome else { Issue.record("\(outcome)"); return }
        #expect(rejection.code == .invalidRequest)
        #expect(rejection.field == "environment")
        #expect(events.isEmpty)
    }

    @Test func invalidateAllLiveEndsEverySessionWhoeverOwnsIt() throws {
        let f = try LedgerFixture()
        try f.accept("k1", .created("S1", expectedVersion: 0, owner: "a"))
        try f.accept("k2", .created("S2", expectedVersion: 0))
        try f.accept("k3", .created("S3", expectedVersion: 0, owner: "b"))
        let (_, events) = try f.run(.invalidateAllLive(reason: "ledgerd --invalidate-on-start"))
        #expect(Set(events.compactMap(\.event.key)) == ["k1", "k2", "k3"])
        #expect(events.allSatisfy { $0.event.type == .invalidatedOnBoot })
        for k in ["k1", "k2", "k3"] { #expect(try f.conversation(k).sessionId == nil) }
        let (_, none) = try f.run(.invalidateAllLive(reason: "again"))
        #expect(none.isEmpty)
    }

    // MARK: invalid requests

    @Test(arguments: [
        (TransitionRequest(kind: .created, expectedVersion: 0), "sessionId"),
        (TransitionRequest(kind: .created, sessionId: "S"), "expectedVersion"),
        (TransitionRequest(kind: .resumed, sessionId: "S"), "expectedVersion"),
        (TransitionRequest(kind: .errored), "sessionId"),
        (TransitionRequest(kind: .resumed, sessionId: "S", expectedVersion: 0, environment: RuntimeEnvironment(host: "h")), "environment"),
        (TransitionRequest(kind: .created, sessionId: "S", expectedVersion: 0, reportedSessionId: "R"), "reportedSessionId"),
        (TransitionRequest(kind: .created, sessionId: "S", expectedVersion: 0, epoch: 3), "epoch"),
        (TransitionRequest(kind: .created, sessionId: "", expectedVersion: 0), "sessionId"),
        (TransitionRequest(kind: .created, sessionId: String(repeating: "x", count: 257), expectedVersion: 0), "sessionId"),
        (TransitionRequest(kind: .created, sessionId: "tab\there", expectedVersion: 0), "sessionId"),
        (TransitionRequest(kind: .created, sessionId: "S", expectedVersion: 0, owner: "o\u{85}"), "owner"),
        (TransitionRequest(kind: .created, sessionId: "S", expectedVersion: 0, environment: RuntimeEnvironment(cwd: "")), "environment.cwd"),
        (TransitionRequest(kind: .cleared, reason: String(repeating: "r", count: 1025)), "reason"),
        (TransitionRequest(kind: .cleared, reason: "nul\u{0}"), "reason"),
        (TransitionRequest(kind: .cleared, owner: "o", epoch: 1), "epoch"),
        (TransitionRequest(kind: .errored, sessionId: "S", owner: "o", epoch: 1), "epoch"),
    ])
    func invalidRequestsNameTheField(request: TransitionRequest, field: String) throws {
        let f = try LedgerFixture()
        let (rejection, current) = try f.reject(key, request)
        #expect(rejection.code == .invalidRequest)
        #expect(rejection.field == field)
        #expect(current == nil)
        #expect(try f.ledger.head().seq == 0)
    }

    @Test func invalidKeysAreRejected() throws {
        let f = try LedgerFixture()
        for bad in ["", String(repeating: "k", count: 257), "line\nbreak"] {
            let (rejection, _) = try f.reject(bad, .created("S", expectedVersion: 0))
            #expect(rejection.field == "key")
        }
        #expect(try f.accept(String(repeating: "é", count: 128), .created("S", expectedVersion: 0)).version == 1, "256 bytes of UTF-8 is the limit")
    }

    // MARK: batches and actors

    /// Incident E inside one batch: two turns both read version 0 and both create; exactly one wins.
    @Test func aBatchDecidesEachCommandAgainstTheStateTheOnesBeforeLeft() throws {
        let f = try LedgerFixture()
        let actor = ActorIdentity(uid: 1000, gid: 1000, pid: 42)
        let result = try f.ledger.append([
            CommandEnvelope(.transition(key: key, .created("Sa", expectedVersion: 0)), actor: actor),
            CommandEnvelope(.transition(key: key, .created("Sb", expectedVersion: 0)), actor: actor),
            CommandEnvelope(.transition(key: key, .resumed("Sa", expectedVersion: 1)), actor: actor),
        ], now: 5)
        #expect(result.events.map(\.event.seq) == [1, 2])
        guard case .rejected(let rejection, let state?) = result.outcomes[1] else { Issue.record("\(result.outcomes)"); return }
        #expect(rejection.code == .staleVersion)
        #expect(state.sessionId == "Sa")
        #expect(result.events.allSatisfy { $0.event.actor == actor && $0.event.time == 5 })
        #expect(result.head.seq == 2)
        #expect(try f.ledger.head() == result.head)
    }

    @Test func timeNeverGoesBackwards() throws {
        let f = try LedgerFixture()
        _ = try f.ledger.append([CommandEnvelope(.transition(key: key, .created("S1", expectedVersion: 0)))], now: 1_000)
        let result = try f.ledger.append([CommandEnvelope(.transition(key: key, .resumed("S1", expectedVersion: 1)))], now: 10)
        #expect(result.events[0].event.time == 1_000)
    }
}
