import Ledger

/// What one turn came to.
public struct TurnResult: Sendable {
    public var succeeded: Bool
    /// The session the turn ran on, when it ran.
    public var sessionId: String?
    /// Whether it resumed an earlier session (rather than starting fresh).
    public var resumed: Bool
    public var error: String?
}

/// A simulated agent runtime: for each message of a conversation it asks its binding what to
/// resume, runs the fake SDK, and records the outcome, as an orchestrator's turn loop does.
public final class AgentRuntime: Sendable {
    public let owner: String
    public let sdk: FakeAgentSDK
    public let binding: any SessionBinding
    public let environment: RuntimeEnvironment

    /// The environment is what decides whether a transcript survives a restart: the volume the
    /// SDK keeps transcripts on (a container-local store is its own volume), the working
    /// directory and the provider. Not the host: a recreated container with the same volume
    /// still has its transcripts.
    public init(owner: String, sdk: FakeAgentSDK, binding: any SessionBinding) {
        self.owner = owner
        self.sdk = sdk
        self.binding = binding
        environment = RuntimeEnvironment(volume: sdk.transcripts.volume, cwd: "/app", provider: "anthropic")
    }

    /// Process start.
    public func start() async throws {
        try await binding.boot(owner: owner, environment: environment)
    }

    /// One turn on `key`.
    ///
    /// - Parameters:
    ///   - gate: holds the SDK call in flight until opened.
    ///   - diesAfterSDK: the process dies after the SDK answered, before anything is recorded.
    public func turn(_ key: String, message: String, gate: Gate? = nil, diesAfterSDK: Bool = false) async -> TurnResult {
        do {
            let ticket = try await binding.begin(key)
            switch await sdk.query(message, resume: ticket.resume, gate: gate) {
            case .success(let id):
                if diesAfterSDK { return TurnResult(succeeded: false, sessionId: id, resumed: ticket.resume != nil, error: "died mid-turn") }
                try await binding.succeeded(ticket, sessionId: id)
                return TurnResult(succeeded: true, sessionId: id, resumed: ticket.resume != nil)
            case .errorDuringExecution(let id):
                if diesAfterSDK { return TurnResult(succeeded: false, sessionId: nil, resumed: false, error: "died mid-turn") }
                try await binding.failed(ticket, resultSessionId: id, reason: "error_during_execution")
                return TurnResult(succeeded: false, sessionId: nil, resumed: ticket.resume != nil, error: "error_during_execution (resumed \(ticket.resume ?? "nothing"))")
            }
        } catch {
            return TurnResult(succeeded: false, sessionId: nil, resumed: false, error: "\(error)")
        }
    }
}
