/// Why the ledger refused a command. The raw values are the stable codes clients branch on.
public enum RejectionCode: String, Sendable, CaseIterable, Hashable {
    /// The command named a version that is no longer current.
    case staleVersion = "stale_version"
    /// The session has ended (errored, cleared, superseded, invalidated, or reported dead).
    case deadSession = "dead_session"
    /// The session is (or was) bound to another conversation.
    case sessionTaken = "session_taken"
    /// The owner epoch named is not the owner's current one.
    case staleEpoch = "stale_epoch"
    /// compare-and-clear: the session named is not the current one any more.
    case sessionChanged = "session_changed"
    /// resumed: the session named is not the conversation's current one.
    case notCurrent = "not_current"
    /// The command itself is malformed (the message names the field).
    case invalidRequest = "invalid_request"
}

/// A refused command: a stable code, a message for humans and, for invalid input, the field.
public struct Rejection: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: RejectionCode
    public var message: String
    /// The offending field of the request, for ``RejectionCode/invalidRequest``.
    public var field: String?

    public init(_ code: RejectionCode, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public static func invalid(_ field: String, _ message: String) -> Rejection {
        Rejection(.invalidRequest, "\(field): \(message)", field: field)
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
