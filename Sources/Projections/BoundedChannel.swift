import Foundation

/// A blocking, bounded, closable queue between two threads (the rebuild's fold and its writer).
final class BoundedChannel<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    /// Received slots are set to nil at once: a consumed element must not live on until the
    /// array is compacted (with the rebuild's chunks, that held up to 64 chunks of events).
    private var items: [Element?] = []
    private var head = 0
    private var closed = false
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Waits for room and enqueues; false when the channel was closed (the receiver gave up).
    @discardableResult
    func send(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while isFull && !closed { condition.wait() }
        if closed { return false }
        enqueue(element)
        return true
    }

    /// Waits for an element; nil once the channel is closed and drained.
    func receive() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        return dequeue()
    }

    /// Enqueues without waiting; false when the channel is full or closed.
    func offer(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if closed || isFull { return false }
        enqueue(element)
        return true
    }

    /// Takes an element without waiting; nil when there is none.
    func poll() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        return dequeue()
    }

    // Called with the lock held.
    private var isFull: Bool { items.count - head >= capacity }

    private func enqueue(_ element: Element) {
        items.append(element)
        condition.broadcast()
    }

    private func dequeue() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head].take()
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element
    }

    /// No more sends; receivers drain what is left, senders stop.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
