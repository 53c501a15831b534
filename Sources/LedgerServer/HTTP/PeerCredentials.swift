import CPeerCredentials
import Ledger
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads who is at the other end of a Unix socket connection (SO_PEERCRED). The kernel records
/// it at connect time, so it cannot be forged by the peer; authorisation uses uid and gid, the
/// pid is recorded for the audit trail.
enum PeerCredentials {
    static func read(_ channel: any Channel) -> EventLoopFuture<ActorIdentity> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(PeerCredentialsUnavailable())
        }
        let credentials: EventLoopFuture<ledger_peer_credentials> =
            provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return credentials.map { ActorIdentity(uid: $0.uid, gid: $0.gid, pid: $0.pid) }
    }

    struct PeerCredentialsUnavailable: Error {}
}

extension ledger_peer_credentials: @retroactive @unchecked Sendable {}
