import LedgerClient
import LedgerTestSupport
import Testing
@testable import LedgerServer

@Suite struct IdleHeapTrimTests {
    /// Once per burst of writes, at the first tick that saw no commit since the one before;
    /// never while writes go on, never before any write.
    @Test func trimsOncePerBurstWhenTheWritesStop() {
        let trim = IdleHeapTrim()
        #expect(!trim.tick(batches: 0), "no write yet")
        #expect(!trim.tick(batches: 0))
        #expect(!trim.tick(batches: 5), "writes going on")
        #expect(!trim.tick(batches: 12), "writes going on")
        #expect(trim.tick(batches: 12), "the writes stopped")
        #expect(!trim.tick(batches: 12), "already trimmed")
        #expect(!trim.tick(batches: 13))
        #expect(trim.tick(batches: 13), "the next burst stopped")
    }

    /// ledgerd trims its heap after a burst of writes, seen in `/metrics`.
    @Test func ledgerdTrimsAfterABurstOfWrites() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        func trims() async throws -> Double {
            let metrics = String(decoding: try await client.send(.GET, "/metrics").body, as: UTF8.self)
            return metrics.split(separator: "\n").first { $0.hasPrefix("ledger_heap_trims_total ") }
                .flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        }
        #expect(try await trims() == 0)
        for turn in 0..<50 {
            _ = try await client.transition("trim", .created("trim-\(turn)", expectedVersion: UInt64(turn)))
        }
        // Ticks every 5 s: the first after the burst sees it, the next one trims. At least once:
        // on a machine whose disk stalls the writes for a tick or more, the burst is two bursts
        // to ledgerd (once per burst is `trimsOncePerBurstWhenTheWritesStop`'s to show).
        let deadline = ContinuousClock.now + .seconds(60)
        while try await trims() < 1 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(250)) }
        #expect(try await trims() >= 1)
    }
}
