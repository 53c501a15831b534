import Ledger
import LedgerClient
import LedgerTestSupport
import Testing

@Suite struct BootTests {
    /// Incident B: after a container is recreated, its owner's boot invalidates the stale
    /// sessions, so the next turn starts fresh instead of resuming a dead transcript forever.
    @Test func bootAllInvalidatesEverySessionOfThePreviousEpochs() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        let first = try await c.boot(owner: "phantom")
        #expect(first.epoch == 1)
        #expect(first.invalidated.isEmpty)
        _ = try await c.transition("cli:cli:local", .created("S1", expectedVersion: 0, owner: "phantom", epoch: 1))
        _ = try await c.transition("slack:C1:t1", .created("S2", expectedVersion: 0, owner: "phantom", epoch: 1))
        _ = try await c.transition("other", .created("S3", expectedVersion: 0, owner: "someone-else"))
        let second = try await c.boot(owner: "phantom", invalidate: .all)
        #expect(second.epoch == 2)
        #expect(Set(second.invalidated.map(\.key)) == ["cli:cli:local", "slack:C1:t1"])
        #expect(Set(second.invalidated.map(\.sessionId)) == ["S1", "S2"])
        #expect(try await c.session("cli:cli:local").sessionId == nil)
        #expect(try await c.session("other").sessionId == "S3")
        // A client with a stale view is fenced by the version; one that re-read learns S1 is dead.
        #expect(try await c.transition("cli:cli:local", .resumed("S1", expectedVersion: 1)).rejectionCode == .staleVersion)
        let resume = try await c.transition("cli:cli:local", .resumed("S1", expectedVersion: 2))
        #expect(resume.rejectionCode == .deadSession)
        #expect(resume.session.sessionId == nil)
        let history = try await c.history("cli:cli:local")
        #expect(history.last?.event.type == .invalidatedOnBoot)
        #expect(history.last?.event.epoch == 2)
    }

    /// Incident G: a boot whose volume survived keeps the sessions; a lost volume invalidates.
    @Test func bootMismatchedIsPrecise() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        let volumeA = RuntimeEnvironment(host: "c-1", volume: "vol-a", cwd: "/app")
        _ = try await c.boot(owner: "rt", environment: volumeA)
        _ = try await c.transition("kept", .created("S1", expectedVersion: 0, owner: "rt", environment: volumeA))
        _ = try await c.transition("lost", .created("S2", expectedVersion: 0, owner: "rt",
                                                   environment: RuntimeEnvironment(host: "c-1", volume: "vol-b", cwd: "/app")))
        let boot = try await c.boot(owner: "rt", environment: RuntimeEnvironment(volume: "vol-a", cwd: "/app"), invalidate: .mismatched)
        #expect(boot.invalidated.map(\.key) == ["lost"])
        #expect(try await c.session("kept").sessionId == "S1")
        #expect(try await c.transition("kept", .resumed("S1", expectedVersion: 1)).isAccepted)

        let reply = try await c.send(.POST, "/v1/owners/rt/boot", body: Array(#"{"invalidate":"mismatched"}"#.utf8))
        #expect(reply.status == 400)
        let bad = try await c.send(.POST, "/v1/owners/rt/boot", body: Array(#"{"invalidate":"some"}"#.utf8))
        #expect(bad.status == 400)
    }
}
