import Ledger
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import LedgerServer

/// The hand-over from the writer to follow streams, without a socket.
@Suite struct EventBroadcasterTests {
    enum Delivery: Equatable { case events([UInt64]), failed(String) }

    /// What one follower was handed, in order.
    final class Deliveries: Sendable {
        private let received = Mutex<[Delivery]>([])
        var list: [Delivery] { received.withLock { $0 } }

        @Sendable func record(_ delivered: Result<[LoggedEvent], any Error>) {
            let delivery: Delivery = switch delivered {
            case .success(let events): .events(events.map(\.event.seq))
            case .failure(let error): .failed("\(error)")
            }
            received.withLock { $0.append(delivery) }
        }
    }

    private static func logged(_ seq: UInt64, key: String) -> LoggedEvent {
        LoggedEvent(event: Event(seq: seq, key: key, version: seq, type: .created, sessionId: "s\(seq)", time: 0), hash: .genesis)
    }

    /// A follower of one key gets that key's events only; a failure (events that could not be
    /// read back from the log) reaches every follower, so none goes on past a gap.
    @Test func followersGetTheirEventsAndAFailureEndsEveryStream() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let broadcaster = EventBroadcaster()
        let everything = Deliveries()
        let onlyA = Deliveries()
        _ = broadcaster.subscribe(on: loop, key: nil, deliver: everything.record)
        _ = broadcaster.subscribe(on: loop, key: "a", deliver: onlyA.record)
        broadcaster.publish([Self.logged(1, key: "a"), Self.logged(2, key: "b"), Self.logged(3, key: "a")])
        broadcaster.publish([Self.logged(4, key: "b")])
        let failure = LedgerError(.corruptRecord, "seq 5: checksum mismatch")
        broadcaster.failAll(failure)
        try await loop.submit {}.get()  // every delivery above was queued on the loop before this

        #expect(everything.list == [.events([1, 2, 3]), .events([4]), .failed("\(failure)")])
        #expect(onlyA.list == [.events([1, 3]), .failed("\(failure)")])
    }
}
