/// Who wrote an event: the peer process as the kernel reported it (SO_PEERCRED), filled in by
/// ledgerd, never taken from the request body.
public struct ActorIdentity: Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}
