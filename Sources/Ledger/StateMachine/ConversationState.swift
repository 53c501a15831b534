/// The state of one conversation, as folded from its events.
public struct ConversationState: Sendable, Hashable {
    public var key: String
    /// Number of accepted transitions so far; 0 for a conversation never written.
    public var version: UInt64 = 0
    /// The current session, or nil (state "none").
    public var sessionId: String?
    /// The owner and epoch of the latest created session; kept after it ends, so an owner can
    /// list the conversations it lost.
    public var owner: String?
    public var epoch: UInt64?
    public var environment: RuntimeEnvironment?
    /// Time of the conversation's first event (microseconds since the Unix epoch), 0 if none.
    public var createdAt: Int64 = 0
    /// Time of its latest event.
    public var updatedAt: Int64 = 0
    /// Seq of its latest event.
    public var lastSeq: UInt64 = 0

    public init(key: String) {
        self.key = key
    }

    public init(key: String, version: UInt64, sessionId: String?, owner: String?, epoch: UInt64?,
                environment: RuntimeEnvironment?, createdAt: Int64, updatedAt: Int64, lastSeq: UInt64) {
        self.key = key
        self.version = version
        self.sessionId = sessionId
        self.owner = owner
        self.epoch = epoch
        self.environment = environment
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastSeq = lastSeq
    }

    /// True while a session is current.
    public var isActive: Bool { sessionId != nil }
}
