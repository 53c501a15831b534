import Ledger

/// The committed batches the projection thread has taken while it lingers, and what they
/// changed, merged as they come in (later batches winning). Owned by the projection thread.
///
/// Why merged while lingering rather than when projecting: each commit batch's
/// ``AppendResult/changed`` is a ``LedgerState`` of its own, three dictionaries sized for a
/// batch of ~25 events. Held until the projection applied them, they were the largest single
/// part of ledgerd's heap under load (90 MB of a 343 MB peak with 131k events waiting,
/// `heaptrack`, 10k keys), and merging them all at once took another 53 MB for a copy sized for
/// the sum of their entries. Merged as they arrive (by 2,048 events, while concurrent writers
/// keep the projection lingering), they take one entry per entity changed since the last
/// projection. The merge runs on the projection thread, as it did before: done on the commit
/// thread as each batch arrived, it cost that serial stage 1 µs per event.
struct ProjectionBacklog {
    /// One committed (and answered) batch, without its changes (they are in ``changed``).
    struct Batch {
        var events: [CommittedEvent]
        var head: LedgerHead
        var committedAt: ContinuousClock.Instant
    }

    private(set) var batches: [Batch] = []
    /// Every entity the batches changed, as the last batch to change it left it.
    private(set) var changed = LedgerState()

    /// Takes in a batch, after every batch taken in before it.
    mutating func absorb(events: [CommittedEvent], changed batchChanges: LedgerState, head: LedgerHead,
                         committedAt: ContinuousClock.Instant) {
        batches.append(Batch(events: events, head: head, committedAt: committedAt))
        if batches.count == 1 {
            changed = batchChanges
        } else {
            changed.conversations.merge(batchChanges.conversations) { _, later in later }
            changed.sessions.merge(batchChanges.sessions) { _, later in later }
            changed.owners.merge(batchChanges.owners) { _, later in later }
        }
    }

    /// Hands over everything taken in and starts empty again.
    mutating func takeAll() -> ProjectionBacklog {
        defer { self = ProjectionBacklog() }
        return self
    }
}
