/// What happened, as recorded in the log. The raw value is the stored tag: never renumber.
public enum EventType: UInt8, Sendable, CaseIterable, Hashable {
    /// A session was bound to a conversation (superseding the previous one, if any).
    case created = 1
    /// A turn began on the current session; bumps the version so older turns are fenced out.
    case resumed = 2
    /// A turn failed: the session (and an ID the SDK reported with the error) is dead.
    case errored = 3
    /// The conversation's session was reset on purpose (compare-and-clear or admin reset).
    case cleared = 4
    /// An owner's boot (or ledgerd's `--invalidate-on-start`) ended this conversation's session.
    case invalidatedOnBoot = 5
    /// An owner announced a boot and received a new epoch.
    case ownerBooted = 6

    /// The name used in the HTTP API, the CLI and exports.
    public var name: String {
        switch self {
        case .created: "created"
        case .resumed: "resumed"
        case .errored: "errored"
        case .cleared: "cleared"
        case .invalidatedOnBoot: "invalidated_on_boot"
        case .ownerBooted: "owner_booted"
        }
    }

    /// Parses an API name.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// True for events that belong to a conversation (everything but owner boots).
    public var isConversationEvent: Bool { self != .ownerBooted }
}
