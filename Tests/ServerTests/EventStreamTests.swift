import Foundation
import Ledger
import LedgerClient
import LedgerTestSupport
import Testing

@Suite struct EventStreamTests {
    @Test func theLogAsNDJSONFromASeqAndForOneKey() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        for i in 0..<5 { _ = try await c.transition("a", .created("a\(i)", expectedVersion: UInt64(i))) }
        for i in 0..<3 { _ = try await c.transition("b", .created("b\(i)", expectedVersion: UInt64(i))) }
        var all: [LoggedEvent] = []
        for try await event in c.events(from: 1) { all.append(event) }
        #expect(all.map(\.event.seq) == Array(1...8))
        var fromFour: [UInt64] = []
        for try await event in c.events(from: 4) { fromFour.append(event.event.seq) }
        #expect(fromFour == [4, 5, 6, 7, 8])
        var onlyB: [String] = []
        for try await event in c.events(from: 1, key: "b") { onlyB.append(event.event.sessionId ?? "") }
        #expect(onlyB == ["b0", "b1", "b2"])
        // The hashes are the log's chain.
        #expect(all.map(\.hash) == (try await c.history("a") + c.history("b")).sorted { $0.event.seq < $1.event.seq }.map(\.hash))
    }

    /// A follower gets the history, then live events as they are committed, in order, without
    /// gaps or duplicates across the handover.
    @Test func followReceivesLiveEvents() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        _ = try await c.transition("k", .created("s0", expectedVersion: 0))
        let received = Task {
            var seqs: [UInt64] = []
            for try await event in c.events(from: 1, follow: true) {
                seqs.append(event.event.seq)
                if seqs.count == 21 { break }
            }
            return seqs
        }
        try await Task.sleep(for: .milliseconds(100))
        for i in 1...20 { _ = try await c.transition("k", .created("s\(i)", expectedVersion: UInt64(i))) }
        let seqs = try await received.value
        #expect(seqs == Array(1...21))

        let keyed = Task {
            var ids: [String] = []
            for try await event in c.events(from: 1, key: "only", follow: true) {
                ids.append(event.event.sessionId ?? "")
                if ids.count == 2 { break }
            }
            return ids
        }
        try await Task.sleep(for: .milliseconds(100))
        _ = try await c.transition("noise", .created("n1", expectedVersion: 0))
        _ = try await c.transition("only", .created("o1", expectedVersion: 0))
        _ = try await c.transition("only", .created("o2", expectedVersion: 1))
        #expect(try await keyed.value == ["o1", "o2"])
    }

    /// A follow stream opened while a write already lingers under the long wait: that write and
    /// the next one reach the follower within the short wait, not when the long one ends (the
    /// projection thread was woken only for a first batch, so it kept the first write's 60 s).
    @Test func aFollowerOpenedWhileAWriteLingersEndsTheLongWait() async throws {
        let daemon = try Daemon(arguments: ["--projection-linger-ms", "60000", "--projection-linger-busy-ms", "60000"])
        let c = daemon.client()
        #expect(try await daemon.startupCheckOutcome() == "ok")
        _ = try await c.transition("k", .created("s1", expectedVersion: 0))
        let lingering = try await Self.projectionSeq(c)
        let received = Task { () -> UInt64? in
            for try await event in c.events(from: 2, follow: true) { return event.event.seq }
            return nil
        }
        #expect(try await Self.followerIsCounted(c), "the follow stream was never counted")
        let ticker = Self.longestStall()
        _ = try await c.transition("k", .created("s2", expectedVersion: 1))
        let answered = ContinuousClock.now
        #expect(try await received.value == 2)
        // From the answer: the write is durable then, however long its commit took.
        let took = ContinuousClock.now - answered
        ticker.cancel()
        let stall = await ticker.value
        // Against the 60 s linger; the margin is for a loaded machine, and a machine that stops
        // for most of the wait (once for six minutes in a fresh-clone CI run, every test late)
        // is not the linger's doing.
        #expect(took < .seconds(30) || stall > took / 2,
                "the follower waited \(took) (the first write was projected through \(lingering) before it; longest stall \(stall))")
        #expect(try await Self.projectionSeq(c) == 2)
    }

    /// Waits (up to 10 s) until ledgerd counts a follower (`followers` in the status): writing
    /// after a fixed sleep instead can lose that race on a loaded machine.
    private static func followerIsCounted(_ c: LedgerClient) async throws -> Bool {
        for _ in 0..<500 {
            if case .object(let status) = try await c.status(), case .number(let followers)? = status["followers"],
               (followers.unsignedValue ?? 0) >= 1 {
                return true
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// The longest gap between 50 ms ticks until cancelled: a machine that stops for most of a
    /// minute (seen in fresh-clone CI runs) delays a delivery without the linger having anything
    /// to do with it, and shows here as a gap of that size.
    private static func longestStall() -> Task<Duration, Never> {
        Task {
            var longest = Duration.zero
            var last = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                let now = ContinuousClock.now
                longest = max(longest, now - last)
                last = now
            }
            return longest
        }
    }

    private static func projectionSeq(_ c: LedgerClient) async throws -> UInt64? {
        guard case .object(let status) = try await c.status(), case .number(let seq)? = status["projectionSeq"] else { return nil }
        return seq.unsignedValue
    }

    /// Follow streams get events once projected; while one is open the projection does not
    /// linger long. With both lingers at their longest (60 s), a follower still gets a write at
    /// once.
    @Test func anOpenFollowStreamKeepsTheProjectionFromLingering() async throws {
        let daemon = try Daemon(arguments: ["--projection-linger-ms", "60000", "--projection-linger-busy-ms", "60000"])
        let c = daemon.client()
        #expect(try await daemon.startupCheckOutcome() == "ok")
        let received = Task { () -> UInt64? in
            for try await event in c.events(from: 1, follow: true) { return event.event.seq }
            return nil
        }
        #expect(try await Self.followerIsCounted(c), "the follow stream was never counted")
        let ticker = Self.longestStall()
        let written = ContinuousClock.now
        _ = try await c.transition("k", .created("s1", expectedVersion: 0))
        let answeredAt = ContinuousClock.now
        let answered = answeredAt - written
        #expect(try await received.value == 1)
        // Counted from the answer: the write is durable by then, and the event is projected
        // and sent within the short linger after that. A write whose commit waits on a slow
        // disk (the whole machine's tests share it) is not the linger's doing.
        let took = ContinuousClock.now - answeredAt
        ticker.cancel()
        let stall = await ticker.value
        guard took >= .seconds(10) && stall <= took / 2 else { return }
        // Seen twice in full runs (67.9 s in a fresh-clone CI run, the machine never stalled for
        // more than 0.4 s; 80 s once locally), both times counted from the request, not from
        // its answer. One cause fixed since: NSCondition's timed waits took a wall-clock
        // deadline, which a clock stepped back stretches (this ticker, on the monotonic clock,
        // does not see that). Should it happen again, say what ledgerd saw.
        let status = (try? await c.status()).map { "\($0)" } ?? "-"
        let metrics = (try? await c.send(.GET, "/metrics")).map { String(decoding: $0.body, as: UTF8.self) } ?? ""
        let durations = metrics.split(separator: "\n").filter { line in
            ["ledger_projection_duration", "ledger_batch_duration", "ledger_commit_duration"].contains { line.hasPrefix($0) } && !line.contains("_bucket")
        }
        Issue.record("""
            the follower waited \(took) after the write's answer for the 60 s linger (the write was \
            answered after \(answered); longest stall of the machine meanwhile: \(stall))
            status: \(status)
            \(durations.joined(separator: "\n"))
            ledgerd's log:
            \(daemon.log.suffix(4_000))
            """)
    }
}
