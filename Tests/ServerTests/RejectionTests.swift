import LedgerClient
import LedgerTestSupport
import Ledger
import Testing

/// Every rejection code over HTTP: 409 with the code and the conversation's current state.
@Suite struct RejectionTests {
    func expectRejected(_ outcome: TransitionOutcome, _ code: RejectionCode, version: UInt64, session: String?,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .rejected(let got, let message, let current) = outcome else {
            Issue.record("expected \(code), got \(outcome)", sourceLocation: sourceLocation)
            return
        }
        #expect(got == code, sourceLocation: sourceLocation)
        #expect(!message.isEmpty, sourceLocation: sourceLocation)
        #expect(current.version == version, sourceLocation: sourceLocation)
        #expect(current.sessionId == session, sourceLocation: sourceLocation)
    }

    @Test func everyCode() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        #expect(try await c.transition("k", .created("S1", expectedVersion: 0)).isAccepted)
        expectRejected(try await c.transition("k", .created("S2", expectedVersion: 0)), .staleVersion, version: 1, session: "S1")
        #expect(try await c.transition("k", .created("S2", expectedVersion: 1)).isAccepted)
        expectRejected(try await c.transition("k", .resumed("S1", expectedVersion: 2)), .deadSession, version: 2, session: "S2")
        #expect(try await c.transition("other", .created("T1", expectedVersion: 0)).isAccepted)
        expectRejected(try await c.transition("k", .created("T1", expectedVersion: 2)), .sessionTaken, version: 2, session: "S2")
        _ = try await c.boot(owner: "rt")
        expectRejected(try await c.transition("k", .created("S3", expectedVersion: 2, owner: "rt", epoch: 0)), .staleEpoch, version: 2, session: "S2")
        expectRejected(try await c.transition("k", .cleared("S1", reason: "reset")), .sessionChanged, version: 2, session: "S2")
        expectRejected(try await c.transition("k", .resumed("S-other", expectedVersion: 2)), .notCurrent, version: 2, session: "S2")
        do {
            _ = try await c.transition("k", .created("", expectedVersion: 2))
            Issue.record("an empty session ID was accepted")
        } catch LedgerClientError.server(let error) {
            #expect(error.status == 400)
            #expect(error.code == "invalid_request")
            #expect(error.field == "sessionId")
        }
    }

    /// Incident D over HTTP: an old turn's late write after a user's reset is fenced out, and its
    /// late error report neither fails nor touches the new session.
    @Test func aLateWriteAfterAClearIsRejected() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        _ = try await c.transition("k", .created("S1", expectedVersion: 0))
        let turn = try await c.transition("k", .resumed("S1", expectedVersion: 1))   // old turn at v2
        #expect(turn.session.version == 2)
        _ = try await c.transition("k", .cleared(reason: "user reset"))
        _ = try await c.transition("k", .created("S2", expectedVersion: 3))
        expectRejected(try await c.transition("k", .created("S1-late", expectedVersion: 2)), .staleVersion, version: 4, session: "S2")
        let lateError = try await c.transition("k", .errored("S1", reason: "late", reportedSessionId: "S2"))
        guard case .accepted(let result) = lateError else { Issue.record("\(lateError)"); return }
        #expect(!result.appended)
        #expect(result.session.sessionId == "S2")
        #expect(try await c.session("k").version == 4)
    }
}
