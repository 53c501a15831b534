import Ledger
import LedgerClient

/// Keeps sessions in ledgerd, following the per-turn protocol of docs/api.md: read, resume with
/// the version, record the outcome against that version, report errors with the ID they carried,
/// announce boots. Every 409 is answered by adopting the state it carries, never by retrying the
/// same write.
public final class LedgerBinding: SessionBinding, @unchecked Sendable {
    public let name = "ledgerd"
    public let client: LedgerClient
    public let invalidate: InvalidationPolicy
    private var owner: String?
    private var epoch: UInt64?
    private var environment: RuntimeEnvironment?
    /// Rejections this binding received and adopted, by code (for reports).
    public private(set) var adopted: [RejectionCode] = []

    public init(socketPath: String, invalidate: InvalidationPolicy) {
        client = LedgerClient(socketPath: socketPath)
        self.invalidate = invalidate
    }

    public func boot(owner: String, environment: RuntimeEnvironment) async throws {
        let result = try await client.boot(owner: owner, environment: environment, invalidate: invalidate)
        self.owner = owner
        self.epoch = result.epoch
        self.environment = environment
    }

    public func begin(_ key: String) async throws -> TurnTicket {
        var state = try await client.session(key)
        for _ in 0..<3 {
            guard let session = state.sessionId else {
                return TurnTicket(key: key, resume: nil, version: state.version)
            }
            switch try await client.transition(key, .resumed(session, expectedVersion: state.version, owner: owner, epoch: epoch)) {
            case .accepted(let result):
                return TurnTicket(key: key, resume: session, version: result.version)
            case .rejected(let code, _, let current):
                adopted.append(code)
                state = current
            }
        }
        return TurnTicket(key: key, resume: nil, version: state.version)
    }

    public func succeeded(_ ticket: TurnTicket, sessionId: String) async throws {
        guard sessionId != ticket.resume else { return }  // the same session went on: nothing to record
        let outcome = try await client.transition(ticket.key, .created(sessionId, expectedVersion: ticket.version, owner: owner,
                                                                       epoch: epoch, environment: environment))
        // stale_version: another turn won the race (adopt it next turn); dead_session: the SDK
        // handed back a dead ID. Either way the ledger keeps the truth and the next turn reads it.
        if let code = outcome.rejectionCode { adopted.append(code) }
    }

    public func failed(_ ticket: TurnTicket, resultSessionId: String, reason: String) async throws {
        let session = ticket.resume ?? resultSessionId
        let outcome = try await client.transition(ticket.key, .errored(session, reason: reason, reportedSessionId: resultSessionId))
        if let code = outcome.rejectionCode { adopted.append(code) }
    }

    public func reset(_ key: String) async throws {
        let state = try await client.session(key)
        let outcome = try await client.transition(key, .cleared(state.sessionId, reason: "user reset"))
        if let code = outcome.rejectionCode { adopted.append(code) }
    }

    public func current(_ key: String) async throws -> String? {
        try await client.session(key).sessionId
    }
}
