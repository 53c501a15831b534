/// What the ledger knows about one session ID: the conversation it belongs to and whether it
/// has ended. Records are never removed: an ended ID stays dead for ever (I1).
public struct SessionRecord: Sendable, Hashable {
    /// The conversation that created it, or that reported it dead first.
    public var key: String
    /// Seq of the event that ended it; 0 while the session is live.
    public var endedSeq: UInt64 = 0
    /// The kind of event that ended it, nil while live. A session ended by a `created` event
    /// was superseded.
    public var endedBy: EventType?

    public init(key: String, endedSeq: UInt64 = 0, endedBy: EventType? = nil) {
        self.key = key
        self.endedSeq = endedSeq
        self.endedBy = endedBy
    }

    /// A live session is the current session of its conversation; every other ID is dead.
    public var isLive: Bool { endedSeq == 0 }

    /// How it ended, for messages: "superseded", "errored", ...
    public var endDescription: String {
        switch endedBy {
        case nil: "live"
        case .created?: "superseded"
        case .errored?: "errored"
        case .cleared?: "cleared"
        case .invalidatedOnBoot?: "invalidated on boot"
        case .resumed?, .ownerBooted?: "ended"
        }
    }
}
