import Ledger

/// The committed batches the projection thread has taken while it lingers: the seqs they
/// cover and what they changed, merged as they come in (later batches winning). Owned by the
/// projection thread.
///
/// Only changes are held, one entry per entity changed since the last projection, not the
/// events: the projection reads those back from the log, where they are anyway (and, just
/// written, in the page cache). Held in memory, a waiting event and its stored record took
/// about 0.8 KB of heap until projected (60 + 45 MB of a 251 MB peak with 131k events waiting,
/// `heaptrack`, 10k keys), which is what made larger projection transactions cost memory.
///
/// Why changes are merged while lingering rather than when projecting: each commit batch's
/// ``AppendResult/changed`` is a ``LedgerState`` of its own, three dictionaries sized for a
/// batch of ~25 events. Held until the projection applied them, they were the largest single
/// part of ledgerd's heap under load (90 MB of a 343 MB peak with 131k events waiting, 10k
/// keys), and merging them all at once took another 53 MB for a copy sized for the sum of
/// their entries. Merged as they arrive (by 2,048 events, while concurrent writers keep the
/// projection lingering), they take one entry per entity. The merge runs on the projection
/// thread: done on the commit thread as each batch arrived, it cost that serial stage 1 µs
/// per event.
struct ProjectionBacklog {
    /// One committed (and answered) batch, without its events and changes.
    struct Batch {
        var head: LedgerHead
        var committedAt: ContinuousClock.Instant
    }

    private(set) var batches: [Batch] = []
    /// The seqs of every event the batches appended; nil while they appended none.
    private(set) var seqs: ClosedRange<UInt64>?
    /// Every entity the batches changed, as the last batch to change it left it.
    private(set) var changed = LedgerState()

    /// Takes in a batch, after every batch taken in before it.
    ///
    /// - Parameter batchSeqs: the seqs of the events the batch appended (nil: none).
    mutating func absorb(seqs batchSeqs: ClosedRange<UInt64>?, changed batchChanges: LedgerState, head: LedgerHead,
                         committedAt: ContinuousClock.Instant) {
        batches.append(Batch(head: head, committedAt: committedAt))
        if let batchSeqs {
            seqs = (seqs?.lowerBound ?? batchSeqs.lowerBound)...batchSeqs.upperBound
        }
        if batches.count == 1 {
            changed = batchChanges
        } else {
            changed.take(batchChanges)
        }
    }

    /// Hands over everything taken in and starts empty again.
    mutating func takeAll() -> ProjectionBacklog {
        defer { self = ProjectionBacklog() }
        return self
    }
}
