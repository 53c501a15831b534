import Ledger
import NIOCore
import Synchronization

/// Hands newly committed events to the follow streams (`GET /v1/events?follow=true`).
///
/// The writer publishes each batch once it is durable and projected (a follower that then reads
/// sees it); every subscriber gets the
/// events on its own event loop, where they are encoded, so no JSON work happens on the writer.
final class EventBroadcaster: Sendable {
    struct Subscriber: Sendable {
        let eventLoop: any EventLoop
        let key: String?
        /// Gets each batch of events, or the error that ends the stream (events that could not be
        /// read back from the log: delivering what comes after them would leave a gap).
        let deliver: @Sendable (Result<[LoggedEvent], any Error>) -> Void
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)
    private let subscribed = Mutex<(@Sendable () -> Void)?>(nil)

    /// Registers a follower; returns its id for ``unsubscribe(_:)``.
    func subscribe(on eventLoop: any EventLoop, key: String?, deliver: @escaping @Sendable (Result<[LoggedEvent], any Error>) -> Void) -> Int {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = Subscriber(eventLoop: eventLoop, key: key, deliver: deliver) }
        subscribed.withLock { $0 }?()
        return id
    }

    /// Sets what runs after each new subscription (the writer shortens its projection linger
    /// for followers, and must hear of one that arrives while a batch already lingers).
    func whenSubscribed(_ action: @escaping @Sendable () -> Void) {
        subscribed.withLock { $0 = action }
    }

    func unsubscribe(_ id: Int) {
        _ = subscribers.withLock { $0.removeValue(forKey: id) }
    }

    var count: Int { subscribers.withLock { $0.count } }

    /// Delivers `events` to every subscriber whose filter matches.
    func publish(_ logged: [LoggedEvent]) {
        let current = subscribers.withLock { Array($0.values) }
        guard !current.isEmpty, !logged.isEmpty else { return }
        for subscriber in current {
            let selected = subscriber.key.map { key in logged.filter { $0.event.key == key } } ?? logged
            if selected.isEmpty { continue }
            subscriber.eventLoop.execute { subscriber.deliver(.success(selected)) }
        }
    }

    /// Ends every subscriber's stream with `error`.
    func failAll(_ error: any Error) {
        let current = subscribers.withLock { Array($0.values) }
        for subscriber in current {
            subscriber.eventLoop.execute { subscriber.deliver(.failure(error)) }
        }
    }
}
