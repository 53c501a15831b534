/// An owner (one runtime instance, e.g. a container) and its boot epochs.
public struct OwnerState: Sendable, Hashable {
    public var name: String
    /// The current epoch; 0 for an owner that never announced a boot.
    public var epoch: UInt64 = 0
    /// The environment announced with the latest boot.
    public var environment: RuntimeEnvironment?
    /// Time of the latest boot, 0 if none.
    public var bootedAt: Int64 = 0
    /// Seq of the latest boot event, 0 if none.
    public var lastSeq: UInt64 = 0

    public init(name: String) {
        self.name = name
    }

    public init(name: String, epoch: UInt64, environment: RuntimeEnvironment?, bootedAt: Int64, lastSeq: UInt64) {
        self.name = name
        self.epoch = epoch
        self.environment = environment
        self.bootedAt = bootedAt
        self.lastSeq = lastSeq
    }
}
