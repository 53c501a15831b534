import Ledger

/// What a turn begins with: the session to resume (nil: start fresh) and what the binding needs
/// to record the turn's outcome safely.
public struct TurnTicket: Sendable {
    public var key: String
    public var resume: String?
    /// The conversation's version this turn is based on (ledger binding).
    public var version: UInt64
}

/// How a runtime keeps "the current SDK session of each conversation".
public protocol SessionBinding: Sendable {
    /// A short name for reports.
    var name: String { get }
    /// At process start.
    func boot(owner: String, environment: RuntimeEnvironment) async throws
    /// Decides what this turn resumes.
    func begin(_ key: String) async throws -> TurnTicket
    /// The SDK ran the turn on `sessionId`.
    func succeeded(_ ticket: TurnTicket, sessionId: String) async throws
    /// The SDK answered `error_during_execution`, with the session ID its result carried.
    func failed(_ ticket: TurnTicket, resultSessionId: String, reason: String) async throws
    /// A user asks to start the conversation over.
    func reset(_ key: String) async throws
    /// The session the binding now holds for `key` (for reports).
    func current(_ key: String) async throws -> String?
}
