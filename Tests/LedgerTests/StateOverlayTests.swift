import Testing
@testable import Ledger

/// The overlay's per-conversation event index (links back from each conversation's newest
/// event) gives every conversation's seqs in order, also across a merge of two overlays (a
/// write-back that failed, merged with what came after it).
@Suite struct StateOverlayTests {
    /// Events on keys `k0`...`k(n-1)` in a scrambled order, one per seq, with some unkeyed
    /// (boots) in between.
    func events(seqs: ClosedRange<UInt64>, keys: Int) -> [Event] {
        seqs.map { seq in
            seq % 7 == 3
                ? Event(seq: seq, key: nil, version: 0, type: .ownerBooted, owner: "rt", epoch: seq, time: Int64(seq))
                : Event(seq: seq, key: "k\((seq * 3 + 1) % UInt64(keys))", version: seq, type: .resumed, sessionId: "s", time: Int64(seq))
        }
    }

    /// Each key's seqs, as a plain scan of the events finds them.
    func expected(_ events: [Event]) -> [String: [UInt64]] {
        var byKey: [String: [UInt64]] = [:]
        for event in events { if let key = event.key { byKey[key, default: []].append(event.seq) } }
        return byKey
    }

    @Test func eachConversationsSeqsComeBackInOrder() {
        let appended = events(seqs: 1...500, keys: 13)
        var overlay = StateOverlay(position: .empty)
        // In batches of uneven size, as commits come.
        var start = 0
        while start < appended.count {
            let end = min(appended.count, start + 1 + start % 9)
            overlay.record(LedgerState(), events: appended[start..<end], through: AppliedPosition(seq: UInt64(end), hash: .genesis))
            start = end
        }
        let byKey = expected(appended)
        #expect(byKey.count == 13)
        for (key, seqs) in byKey { #expect(overlay.seqs(forKey: key) == seqs, "\(key)") }
        #expect(overlay.seqs(forKey: "k13").isEmpty)
        #expect(overlay.seqsByKey() == byKey)
        #expect(overlay.events == 500)
    }

    @Test func aMergedOverlayLinksTheNewerEventsAfterTheOlder() {
        let older = events(seqs: 1...120, keys: 5)
        let newer = events(seqs: 121...300, keys: 8)  // keys k5...k7 only in the newer
        var first = StateOverlay(position: .empty)
        first.record(LedgerState(), events: older, through: AppliedPosition(seq: 120, hash: .genesis))
        var second = StateOverlay(position: first.position)
        second.record(LedgerState(), events: newer, through: AppliedPosition(seq: 300, hash: .genesis))
        let merged = first.merging(second)
        let byKey = expected(older + newer)
        #expect(byKey.count == 8 && expected(older).count == 5)
        for (key, seqs) in byKey { #expect(merged.seqs(forKey: key) == seqs, "\(key)") }
        #expect(merged.seqsByKey() == byKey)
        #expect(merged.events == 300 && merged.position.seq == 300)
        // The parts are unchanged: the merge copied, it did not relink them.
        #expect(first.seqs(forKey: "k0") == expected(older)["k0"])
        #expect(second.seqs(forKey: "k0") == expected(newer)["k0"])
    }
}
