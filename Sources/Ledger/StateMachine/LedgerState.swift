/// A set of conversations, session records and owners.
///
/// In memory it can be the whole state of a ledger (a fold from scratch, the verifier, tests);
/// in the stores it is the slice one command or event touches, loaded before ``SessionMachine``
/// runs and written back after. Entities that are absent have their initial state: a
/// conversation at version 0, an unknown session ID, an owner at epoch 0.
public struct LedgerState: Sendable, Hashable {
    public var conversations: [String: ConversationState] = [:]
    public var sessions: [String: SessionRecord] = [:]
    public var owners: [String: OwnerState] = [:]

    public init() {}

    /// Sizes the tables for about this many entities before a fold of a whole log: a
    /// dictionary that grows holds its old and new storage at once (185 MB of a rebuild's
    /// 778 MB heap peak on a million conversations). Pass a lower bound, such as
    /// ``Ledger/sizeHint()``: too few costs one more growth, too many costs memory.
    public mutating func reserveCapacity(conversations: Int, sessions: Int) {
        self.conversations.reserveCapacity(conversations)
        self.sessions.reserveCapacity(sessions)
    }

    public func conversation(_ key: String) -> ConversationState {
        conversations[key] ?? ConversationState(key: key)
    }

    public func session(_ id: String) -> SessionRecord? {
        sessions[id]
    }

    public func owner(_ name: String) -> OwnerState {
        owners[name] ?? OwnerState(name: name)
    }

    /// Holds a conversation loaded from a store, with the record of its current session.
    ///
    /// That record is implied, not looked up: ``SessionMachine/apply(_:to:)`` makes a session
    /// current only while it is live and only on the conversation its record names, and ends
    /// it only as the conversation leaves it, so a current session's record is always
    /// `SessionRecord(key: conversation.key)` (live). Every transition on a conversation needs
    /// that record, and at a million keys looking it up was a random B-tree read per event: a
    /// sixth of the writer's time. A record the slice already holds is kept (it may be newer).
    public mutating func hold(loaded conversation: ConversationState) {
        conversations[conversation.key] = conversation
        if let id = conversation.sessionId, sessions[id] == nil {
            sessions[id] = SessionRecord(key: conversation.key)
        }
    }

    /// Live conversations of `owner` (nil: of every owner and of none), sorted by key.
    /// On a slice this sees only what was loaded: stores load all of them for boots.
    public func liveConversations(owner: String?) -> [ConversationState] {
        conversations.values
            .filter { $0.isActive && (owner == nil || $0.owner == owner) }
            .sorted { $0.key < $1.key }
    }
}

/// What a command or an event needs loaded into a ``LedgerState`` slice before the state machine
/// can run on it.
public struct StateNeeds: Sendable, Hashable {
    public var keys: [String] = []
    public var sessions: [String] = []
    public var owners: [String] = []
    /// Load every live conversation of this owner (boot).
    public var liveOfOwner: String?
    /// Load every live conversation (invalidate-on-start).
    public var allLive = false

    public init() {}
}

extension Command {
    /// The entities deciding this command reads. Stores also load the current session record of
    /// every conversation they load.
    public var needs: StateNeeds {
        var needs = StateNeeds()
        switch self {
        case .transition(let key, let request):
            needs.keys = [key]
            needs.sessions = [request.sessionId, request.reportedSessionId].compactMap { $0 }
            if let owner = request.owner { needs.owners = [owner] }
        case .boot(let owner, _, _):
            needs.owners = [owner]
            needs.liveOfOwner = owner
        case .invalidateAllLive:
            needs.allLive = true
        }
        return needs
    }
}

extension Event {
    /// The entities applying this event reads and changes.
    public var needs: StateNeeds {
        var needs = StateNeeds()
        if let key { needs.keys = [key] }
        needs.sessions = [sessionId, reportedSessionId, supersedes].compactMap { $0 }
        if let owner, type == .ownerBooted || (type == .created && epoch != nil) {
            needs.owners = [owner]
        }
        return needs
    }
}

extension LedgerState {
    /// Lays `newer` over `self`: its entities replace those of the same name. How the changes of
    /// later events are laid over earlier ones (the head state's overlay, the projection's
    /// backlog).
    public mutating func take(_ newer: LedgerState) {
        for (key, conversation) in newer.conversations { conversations[key] = conversation }
        for (id, record) in newer.sessions { sessions[id] = record }
        for (name, owner) in newer.owners { owners[name] = owner }
    }
}
