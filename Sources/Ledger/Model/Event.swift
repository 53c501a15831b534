/// One entry of the log: an accepted transition of a conversation, or an owner's boot.
///
/// Conversation events have a `key` and a `version` (the conversation's version after the event,
/// gapless from 1). Owner boot events have no key; their `version` is the owner's new epoch,
/// which is likewise gapless from 1 per owner.
public struct Event: Sendable, Hashable {
    /// Position in the log, gapless from 1.
    public var seq: UInt64
    /// The conversation, or nil for ``EventType/ownerBooted``.
    public var key: String?
    public var version: UInt64
    public var type: EventType
    /// created: the new session; resumed/errored: the turn's session; cleared and
    /// invalidated_on_boot: the session that ended (nil when a clear found none).
    public var sessionId: String?
    /// errored: an ID the SDK reported alongside the error (incident A), dead from now on.
    public var reportedSessionId: String?
    /// created: the session this one replaced, dead from now on.
    public var supersedes: String?
    public var owner: String?
    /// created: the owner's epoch the session belongs to; resumed: the epoch the writer named
    /// (checked against the owner's current one); owner_booted: the new epoch;
    /// invalidated_on_boot: the epoch of the boot that invalidated it.
    public var epoch: UInt64?
    public var environment: RuntimeEnvironment?
    public var reason: String?
    public var actor: ActorIdentity?
    /// Microseconds since the Unix epoch; never decreases along the log.
    public var time: Int64

    public init(seq: UInt64 = 0, key: String?, version: UInt64, type: EventType, sessionId: String? = nil,
                reportedSessionId: String? = nil, supersedes: String? = nil, owner: String? = nil,
                epoch: UInt64? = nil, environment: RuntimeEnvironment? = nil, reason: String? = nil,
                actor: ActorIdentity? = nil, time: Int64 = 0) {
        self.seq = seq
        self.key = key
        self.version = version
        self.type = type
        self.sessionId = sessionId
        self.reportedSessionId = reportedSessionId
        self.supersedes = supersedes
        self.owner = owner
        self.epoch = epoch
        self.environment = environment
        self.reason = reason
        self.actor = actor
        self.time = time
    }
}
