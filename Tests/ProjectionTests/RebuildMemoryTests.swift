import Foundation
import Testing
@testable import Projections

/// What keeps a rebuild's memory down: chunks let go of as soon as the writer takes them, and
/// the freed heap handed back to the kernel afterwards (peaks and RSS are measured by
/// `ledger-bench rebuild` and `ledger-bench startup --rebuild-online`, see docs/performance.md).
@Suite struct RebuildMemoryTests {
    final class Chunk: Sendable {}

    /// A received element used to stay in the channel's array until the array was compacted,
    /// which with the rebuild's chunks of 4,096 events kept up to 64 chunks alive.
    @Test func aReceivedElementIsNotKeptByTheChannel() throws {
        let channel = BoundedChannel<Chunk>(capacity: 8)
        weak var first: Chunk?
        weak var second: Chunk?
        do {
            let a = Chunk(), b = Chunk()
            first = a
            second = b
            #expect(channel.send(a))
            #expect(channel.send(b))
        }
        #expect(first != nil, "queued, not yet received: the channel holds it")
        do {
            let received = try #require(channel.receive())
            #expect(received === first)
        }
        #expect(first == nil, "received and dropped by the receiver: nothing else holds it")
        #expect(second != nil)
        channel.close()
        #expect(channel.receive() != nil, "a closed channel still hands out what is left")
        #expect(second == nil)
        #expect(channel.receive() == nil)
    }

    /// The writer hands chunks back to the fold thread without ever waiting for it: an offer
    /// to a full or closed channel is refused (the writer then frees the chunk itself), and a
    /// polled chunk is held by nobody but its taker.
    @Test func spentChunksAreOfferedBackWithoutWaiting() throws {
        let channel = BoundedChannel<Chunk>(capacity: 2)
        weak var first: Chunk?
        do {
            let a = Chunk()
            first = a
            #expect(channel.offer(a))
            #expect(channel.offer(Chunk()))
            #expect(!channel.offer(Chunk()), "full: refused at once")
        }
        do {
            let polled = try #require(channel.poll())
            #expect(polled === first)
        }
        #expect(first == nil, "polled and dropped: nothing else holds it")
        #expect(channel.poll() != nil)
        #expect(channel.poll() == nil, "empty: nil at once")
        channel.close()
        #expect(!channel.offer(Chunk()), "closed: refused")
        #expect(channel.poll() == nil)
    }

    @Test func theHeapCanBeTrimmedOnThisCLibrary() {
        #if canImport(Glibc)
        #expect(HeapTrim.isAvailable, "malloc_trim not found: a ledgerd that rebuilt its projection keeps the fold's freed heap")
        HeapTrim.releaseFreedMemory()
        #endif
    }
}
