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
        let deliver: @Sendable ([LoggedEvent]) -> Void
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)
    private let subscribed = Mutex<(@Sendable () -> Void)?>(nil)

    /// Registers a follower; returns its id for ``unsubscribe(_:)``.
    func subscribe(on eventLoop: any EventLoop, key: String?, deliver: @escaping @Sendable ([LoggedEvent]) -> Void) -> Int {
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
    func publish(_ events: [CommittedEvent]) {
        let current = subscribers.withLock { Array($0.values) }
        guard !current.isEmpty, !events.isEmpty else { return }
        let logged = events.map { LoggedEvent(event: $0.event, hash: $0.hash) }
        for subscriber in current {
            let selected = subscriber.key.map { key in logged.filter { $0.event.key == key } } ?? logged
            if selected.isEmpty { continue }
            subscriber.eventLoop.execute { subscriber.deliver(selected) }
        }
    }
}
