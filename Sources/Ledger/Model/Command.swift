/// The four transitions a client may ask for on a conversation.
public enum TransitionKind: String, Sendable, CaseIterable, Hashable {
    case created, resumed, errored, cleared

    public var eventType: EventType {
        switch self {
        case .created: .created
        case .resumed: .resumed
        case .errored: .errored
        case .cleared: .cleared
        }
    }
}

/// A client's request to move a conversation. Which fields apply depends on ``kind``:
///
/// | kind    | sessionId | expectedVersion | other |
/// |---------|-----------|-----------------|-------|
/// | created | required  | required        | owner, epoch, environment, reason |
/// | resumed | required  | required        | owner + epoch as a fence, reason |
/// | errored | required  | ignored         | reason, reportedSessionId, owner (recorded) |
/// | cleared | optional (compare-and-clear) | optional | reason, owner (recorded) |
///
/// A created session belongs to the owner it names (nil: to none, so only ledgerd's
/// `--invalidate-on-start` ends it at a boot); a later created without an owner replaces that.
public struct TransitionRequest: Sendable, Hashable {
    public var kind: TransitionKind
    public var sessionId: String?
    public var expectedVersion: UInt64?
    public var owner: String?
    public var epoch: UInt64?
    public var environment: RuntimeEnvironment?
    public var reason: String?
    public var reportedSessionId: String?

    public init(kind: TransitionKind, sessionId: String? = nil, expectedVersion: UInt64? = nil,
                owner: String? = nil, epoch: UInt64? = nil, environment: RuntimeEnvironment? = nil,
                reason: String? = nil, reportedSessionId: String? = nil) {
        self.kind = kind
        self.sessionId = sessionId
        self.expectedVersion = expectedVersion
        self.owner = owner
        self.epoch = epoch
        self.environment = environment
        self.reason = reason
        self.reportedSessionId = reportedSessionId
    }

    public static func created(_ sessionId: String, expectedVersion: UInt64, owner: String? = nil, epoch: UInt64? = nil,
                               environment: RuntimeEnvironment? = nil, reason: String? = nil) -> Self {
        Self(kind: .created, sessionId: sessionId, expectedVersion: expectedVersion, owner: owner, epoch: epoch,
             environment: environment, reason: reason)
    }

    public static func resumed(_ sessionId: String, expectedVersion: UInt64, owner: String? = nil, epoch: UInt64? = nil) -> Self {
        Self(kind: .resumed, sessionId: sessionId, expectedVersion: expectedVersion, owner: owner, epoch: epoch)
    }

    public static func errored(_ sessionId: String, reason: String? = nil, reportedSessionId: String? = nil) -> Self {
        Self(kind: .errored, sessionId: sessionId, reason: reason, reportedSessionId: reportedSessionId)
    }

    public static func cleared(_ sessionId: String? = nil, expectedVersion: UInt64? = nil, reason: String? = nil) -> Self {
        Self(kind: .cleared, sessionId: sessionId, expectedVersion: expectedVersion, reason: reason)
    }
}

/// Which of a booting owner's live sessions to invalidate.
public enum InvalidationPolicy: String, Sendable, CaseIterable, Hashable {
    /// Every live session of earlier epochs.
    case all
    /// Only those whose recorded environment differs from the booting one (incident G).
    case mismatched
}

/// Something a writer asks the ledger to do. The ledger decides it against the current state and
/// either appends the resulting events or answers a ``Rejection``.
public enum Command: Sendable, Hashable {
    /// Move one conversation.
    case transition(key: String, TransitionRequest)
    /// An owner (runtime instance) announces a boot: new epoch, stale sessions invalidated.
    case boot(owner: String, environment: RuntimeEnvironment?, policy: InvalidationPolicy)
    /// ledgerd's `--invalidate-on-start`: end every live session, whoever owns it.
    case invalidateAllLive(reason: String)
}
