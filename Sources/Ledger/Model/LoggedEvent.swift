/// An event as served to readers: its fields and the chain hash the log stores for it.
public struct LoggedEvent: Sendable, Hashable {
    public var event: Event
    public var hash: ChainHash

    public init(event: Event, hash: ChainHash) {
        self.event = event
        self.hash = hash
    }
}
