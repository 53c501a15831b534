import NIOCore
import Synchronization

/// The open client connections, for the connection limit and for a graceful shutdown.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
    private let draining = Atomic<Bool>(false)

    var count: Int { channels.withLock { $0.count } }
    var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Adds a connection; false when `limit` connections are already open.
    func add(_ channel: any Channel, limit: Int) -> Bool {
        channels.withLock { open in
            guard open.count < limit else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Asks every connection to close once its request in flight is answered.
    func drain() {
        draining.store(true, ordering: .relaxed)
        for channel in channels.withLock({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(DrainEvent())
        }
    }

    /// Closes whatever is still open.
    func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// Tells a connection handler to close once idle: the server is shutting down.
struct DrainEvent: Sendable {}
