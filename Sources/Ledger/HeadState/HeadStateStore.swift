import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// When the head state held in memory is written back to the state environment.
public struct WriteBackPolicy: Sendable, Hashable {
    /// Write back once this many events are held in memory.
    public var events: Int
    /// Write back at the first commit this long after the last write-back, in nanoseconds.
    public var intervalNanoseconds: UInt64
    /// Write back once the events held in memory changed this many conversations.
    ///
    /// A write-back's LMDB transaction keeps every page it dirties in memory until it commits,
    /// about one page per conversation when writes spread over many more conversations than a
    /// write-back holds: 65,536 events over a million keys took ledgerd's anonymous memory to
    /// about 0.5 GB under load. Few keys never reach this bound; many keys write back sooner,
    /// at about the same cost per event (each conversation is a page of its own either way).
    public var conversations: Int

    public init(events: Int = 65_536, intervalNanoseconds: UInt64 = 5_000_000_000, conversations: Int = 16_384) {
        self.events = events
        self.intervalNanoseconds = intervalNanoseconds
        self.conversations = max(1, conversations)
    }
}

/// The head state of a ledger: conversations, session records, owners, the live index and the
/// per-conversation event index, all derived from the log.
///
/// Why it is kept apart from the log: a durable LMDB commit costs about one page write per
/// B-tree page it dirties. Appending events dirties the log's right edge only, but updating a
/// conversation, a session record and the live index dirties random leaves, four fifths of
/// what a commit wrote. So the writer keeps what the log's tail changed in memory
/// (``StateOverlay``), commits only the log, and a background write-back folds the overlay into
/// a second LMDB environment (`<ledger>/state`) with the log position it reflects. A crash
/// loses nothing: the log is the truth, and opening folds the log's tail after that position.
///
/// Threads: the ledger's single writer (``Ledger/append(_:now:)``) is the only one that
/// changes ``pending``; it does so under ``lock``, which readers take to copy the overlays. The
/// write-back runs on ``queue`` and only ever clears ``flushing`` (under the lock).
final class HeadStateStore: @unchecked Sendable {
    let environment: LMDBEnvironment?
    let layout: StateLayout?
    let policy: WriteBackPolicy
    private let lock = PlainLock()
    private let queue = DispatchQueue(label: "ledger.state-write-back", qos: .utility)

    // Guarded by `lock`. The writer reads `pending` without it (nobody else changes it).
    private var pending: StateOverlay
    /// Handed to the write-back and still read through until it is stored.
    private var flushing: StateOverlay?
    /// What the state environment is known to hold under the overlays.
    private var base: AppliedPosition
    /// The end of the log as far as readers may see it: the overlays reflect it.
    private var published: LedgerHead
    private var writeBackRunning = false
    private var lastWriteBack = DispatchTime.now().uptimeNanoseconds
    private var failure: (any Error)?

    private init(environment: LMDBEnvironment?, layout: StateLayout?, policy: WriteBackPolicy, base: AppliedPosition, head: LedgerHead) {
        self.environment = environment
        self.layout = layout
        self.policy = policy
        self.base = base
        self.pending = StateOverlay(position: base)
        self.published = head
    }

    // MARK: Opening

    /// Opens (creating when missing) the state environment of a writable ledger and brings it up
    /// to the log's head: a state environment of another format, ahead of the log or beside a
    /// different log is emptied and rebuilt; the log's tail after its position is folded into
    /// memory (written back at once when it is long). `lmdb` is the log's options (a smaller
    /// starting map; read-around off, as for every writable open: see `Ledger.open`).
    static func openWritable(directory: String, log: LMDBEnvironment, logLayout: LedgerLayout,
                             lmdb: LMDBOptions, policy: WriteBackPolicy) throws -> HeadStateStore {
        mkdir(directory, 0o700)
        let environment = try LMDBEnvironment.open(directory: directory, options: lmdb)
        let layout = try StateLayout(environment: environment)
        let head = try log.read { txn in try logLayout.head(in: txn) }
        let trusted = try environment.read { txn in
            try trustedPosition(in: txn, layout: layout, log: log, logLayout: logLayout, head: head)
        }
        if trusted == nil {
            try environment.write { txn in
                for database in [layout.conversations, layout.sessions, layout.owners, layout.live, layout.meta] { try txn.drop(database) }
                try txn.put(layout.meta, key: StateLayout.formatKey, value: StateLayout.formatTag)
            }
        }
        let base = try environment.read { txn in try layout.applied(in: txn) }
        let store = HeadStateStore(environment: environment, layout: layout, policy: policy, base: base, head: head)
        try store.catchUp(from: log, layout: logLayout, through: head)
        return store
    }

    /// The position the state environment reflects, when it may be built on for this log: of this
    /// format, not ahead of the log's head, and the log's event at that seq has the chain hash it
    /// recorded (so it is not the state of another log). Nil when it may not.
    private static func trustedPosition(in txn: borrowing LMDBTransaction, layout: StateLayout, log: LMDBEnvironment,
                                        logLayout: LedgerLayout, head: LedgerHead) throws -> AppliedPosition? {
        guard let tag = try txn.get(layout.meta, key: StateLayout.formatKey), tag.elementsEqual(StateLayout.formatTag) else { return nil }
        let applied = try layout.applied(in: txn)
        guard applied.seq <= head.seq,
              try log.read({ logTxn in try logLayout.chainHash(at: applied.seq, in: logTxn) }) == applied.hash else { return nil }
        return applied
    }

    /// A read-only store: the state environment as another process left it (or none), with the
    /// log's tail folded per snapshot.
    static func openReadOnly(directory: String, log: LMDBEnvironment, logLayout: LedgerLayout, lmdb: LMDBOptions) throws -> HeadStateStore {
        var environment: LMDBEnvironment?
        var layout: StateLayout?
        if let opened = try? LMDBEnvironment.open(directory: directory, options: lmdb), let stateLayout = try? StateLayout(environment: opened) {
            environment = opened
            layout = stateLayout
        }
        let head = try log.read { txn in try logLayout.head(in: txn) }
        return HeadStateStore(environment: environment, layout: layout, policy: WriteBackPolicy(), base: .empty, head: head)
    }

    /// Folds the log after the stored position into ``pending``, writing back every
    /// ``WriteBackPolicy/events`` events so a long tail (a first open, a rebuild) stays bounded
    /// in memory.
    private func catchUp(from log: LMDBEnvironment, layout logLayout: LedgerLayout, through head: LedgerHead) throws {
        var next = base.seq + 1
        while next <= head.seq {
            let chunkEnd = min(head.seq, next + UInt64(max(policy.events, 1)) - 1)
            var overlay = StateOverlay(position: base)
            try withPublishedView { view, _ in
                try Self.fold(log: log, layout: logLayout, from: next, through: chunkEnd, over: view, into: &overlay)
            }
            lock.withLock { pending = overlay }
            next = chunkEnd + 1
            if overlay.events >= policy.events { try writeBackNow() }
        }
    }

    /// Folds log records `from...through` into `overlay`, reading what it does not hold through `view`.
    static func fold(log: LMDBEnvironment, layout logLayout: LedgerLayout, from: UInt64, through: UInt64,
                     over view: borrowing HeadStateView, into overlay: inout StateOverlay) throws {
        try log.read { txn in
            try txn.withCursor(logLayout.events) { cursor in
                var entry = try cursor.seek(atLeast: LedgerLayout.seqKey(from))
                var expected = from
                // What the fold has read or changed, as it left it (the overlay's entities and
                // the unchanged ones read beside them): each event folds into it in place.
                var working = overlay.state
                while let (key, record) = entry, let seq = LedgerLayout.seq(fromKey: key), seq <= through {
                    guard seq == expected else { throw LedgerError(.corruptRecord, "the log has no seq \(expected) (next is \(seq)); run ledgerctl verify") }
                    let (event, hash): (Event, ChainHash)
                    do throws(DecodingError) { (event, hash) = try StoredRecord.decode(record) } catch {
                        throw LedgerError(.corruptRecord, "seq \(seq): \(error.message); run ledgerctl verify")
                    }
                    try view.load(event.needs, into: &working)
                    var changes = LedgerState()
                    do throws(InvariantViolation) { try working.fold(event, recordingChangesIn: &changes) } catch {
                        throw LedgerError(.internalInvariant, "seq \(seq) does not fold: \(error.description); run ledgerctl verify")
                    }
                    overlay.record(changes, events: CollectionOfOne(event), through: AppliedPosition(seq: seq, hash: hash))
                    expected += 1
                    entry = try cursor.next()
                }
                guard expected > through else { throw LedgerError(.corruptRecord, "the log ends at seq \(expected - 1), its head says \(through); run ledgerctl verify") }
            }
        }
    }

    // MARK: Reading

    /// Lends a view of the head state as of ``published`` to `body`, and that head.
    ///
    /// The state transaction begins before the overlays are copied, so either it already sees a
    /// write-back or the copied overlays still hold what that write-back stored; a transaction
    /// that began before a write-back whose overlay is already dropped is retried.
    func withPublishedView<R>(_ body: (borrowing HeadStateView, LedgerHead) throws -> R) throws -> R {
        while true {
            let attempt: R? = try withStateTransaction { handle in
                let (pending, flushing, base, head) = lock.withLock { (self.pending, self.flushing, self.base, self.published) }
                if let handle, let layout, try layout.applied(in: LMDBTransaction(handle: handle, readOnly: true)).seq < base.seq { return nil }
                let view = HeadStateView(layers: [pending] + (flushing.map { [$0] } ?? []), handle: handle, layout: layout)
                return try body(view, head)
            }
            if let attempt { return attempt }
        }
    }

    /// The conversation stored under `key` as of ``published``, without copying the overlays.
    ///
    /// The hot read of ledgerd (`GET /v1/sessions/{key}`). ``withPublishedView(_:)`` would hand
    /// the reader a copy of the overlays, and the writer's next batch would then copy their
    /// dictionaries whole before changing them; here the overlays are only looked into under the
    /// lock. A key found there is the newest; a key not found was last changed at or before the
    /// state environment's position, read in a transaction begun before the lookup (the same
    /// order and retry as ``withPublishedView(_:)``).
    func conversation(_ key: String) throws -> ConversationState? {
        // Held in memory: the newest, and no transaction needed.
        if let held = lock.withLock({ heldConversation(key) }) { return held }
        while true {
            let attempt: ConversationState?? = try withStateTransaction { handle in
                let (held, base) = lock.withLock { (heldConversation(key), self.base) }
                if let held { return .some(held) }
                guard let handle, let layout else { return .some(nil) }
                let txn = LMDBTransaction(handle: handle, readOnly: true)
                if try layout.applied(in: txn).seq < base.seq { return nil }
                return .some(try HeadStateView(layers: [], handle: handle, layout: layout).conversation(key))
            }
            if let attempt { return attempt }
        }
    }

    /// `key`'s conversation if the overlays hold it. Called under ``lock``.
    private func heldConversation(_ key: String) -> ConversationState? {
        pending.state.conversations[key] ?? flushing?.state.conversations[key]
    }

    /// Lends the head state as of `head` to `body`, made on first use from the state
    /// environment plus a fold of the log after its position (for read-only ledgers, whose writer
    /// is another process). Call it with the log's read transaction not yet begun: the state
    /// transaction begins first, so the log's head is never behind what it reflects.
    func withFoldedState<R>(log: LMDBEnvironment, logLayout: LedgerLayout,
                            _ body: (borrowing LMDBTransaction, LedgerHead, SnapshotState) throws -> R) throws -> R {
        try withStateTransaction { handle in
            try log.read { logTxn in
                let head = try logLayout.head(in: logTxn)
                let state = SnapshotState { [layout] in
                    var start = AppliedPosition.empty
                    var usable: OpaquePointer?
                    if let handle, let layout, let trusted = try Self.trustedPosition(in: LMDBTransaction(handle: handle, readOnly: true), layout: layout,
                                                                                         log: log, logLayout: logLayout, head: head) {
                        start = trusted
                        usable = handle
                    }
                    var overlay = StateOverlay(position: start)
                    if start.seq < head.seq {
                        let stored = HeadStateView(layers: [], handle: usable, layout: layout)
                        try Self.fold(log: log, layout: logLayout, from: start.seq + 1, through: head.seq, over: stored, into: &overlay)
                    }
                    return HeadStateView(layers: overlay.isEmpty ? [] : [overlay], handle: usable, layout: layout)
                }
                return try body(logTxn, head, state)
            }
        }
    }

    /// At least how many conversations and session records the state environment holds, from
    /// its entry counts (`mdb_stat`: no scan, no fold of the log's tail); nil without one or on
    /// any error. The conversations database also holds one index entry per event that names a
    /// key, so conversations are its entries minus the applied seq, short by the keyless events
    /// (boots); what was not written back yet is left out.
    func storedSizeHint() -> (conversations: Int, sessions: Int)? {
        guard let environment, let layout else { return nil }
        return try? environment.read { txn in
            let applied = Int(clamping: try layout.applied(in: txn).seq)
            return (max(0, try txn.count(layout.conversations) - applied), try txn.count(layout.sessions))
        }
    }

    private func withStateTransaction<R>(_ body: (OpaquePointer?) throws -> R) throws -> R {
        guard let environment else { return try body(nil) }
        return try environment.read { txn in try body(txn.handle) }
    }

    /// The end of the log as readers may see it.
    var head: LedgerHead { lock.withLock { published } }

    /// Events held in memory, not yet written back; and the last write-back's error, if it failed.
    var status: (heldEvents: Int, writeBackError: (any Error)?) {
        lock.withLock { (pending.events + (flushing?.events ?? 0), failure) }
    }

    // MARK: Writing

    /// Takes in a committed batch (called by the writer after the log commit) and starts a
    /// write-back when the policy says so.
    func committed(_ changed: LedgerState, events: some Sequence<Event>, head: LedgerHead) {
        lock.withLock {
            pending.record(changed, events: events, through: AppliedPosition(seq: head.seq, hash: head.hash))
            published = head
            let now = DispatchTime.now().uptimeNanoseconds
            guard !writeBackRunning,
                  pending.events >= policy.events || pending.state.conversations.count >= policy.conversations
                    || now - lastWriteBack >= policy.intervalNanoseconds,
                  let overlay = takeForWriteBack(now: now) else { return }
            queue.async { [self] in
                finish(overlay, result: Result { try store(overlay) })
            }
        }
    }

    /// Moves ``pending`` (over what a failed write-back left in ``flushing``) to ``flushing``
    /// and marks a write-back running; nil when nothing is held. Called under ``lock``.
    private func takeForWriteBack(now: UInt64) -> StateOverlay? {
        guard !pending.isEmpty || flushing != nil else { return nil }
        let overlay = flushing.map { $0.merging(pending) } ?? pending
        flushing = overlay
        pending = StateOverlay(position: overlay.position)
        writeBackRunning = true
        lastWriteBack = now
        return overlay
    }

    private func finish(_ overlay: StateOverlay, result: Result<Void, any Error>) {
        lock.withLock {
            writeBackRunning = false
            switch result {
            case .success:
                flushing = nil
                base = overlay.position
                failure = nil
            case .failure(let error):
                // Keep reading through it; the next write-back merges it with what came after.
                failure = error
            }
        }
    }

    /// Writes back everything held in memory now, on the calling thread, after any write-back
    /// in flight (a clean shutdown; tests).
    func writeBackNow() throws {
        // On the queue: the write-backs started before have finished, and none starts meanwhile
        // (this one is marked running until it finishes).
        try queue.sync {
            guard let overlay = lock.withLock({ takeForWriteBack(now: DispatchTime.now().uptimeNanoseconds) }) else { return }
            let result = Result { try store(overlay) }
            finish(overlay, result: result)
            try result.get()
        }
    }

    /// One durable write transaction of the state environment: every entity of `overlay`, its
    /// index entries, the live index kept in step, and the position it reflects. Skipped when the
    /// environment already reflects that position or a later one.
    private func store(_ overlay: StateOverlay) throws {
        guard let environment, let layout else { return }
        try environment.write { txn in
            guard try layout.applied(in: txn).seq < overlay.position.seq else { return }
            // In key order: each put then lands on or next to the leaf the one before it dirtied,
            // so with many more keys than a write-back holds (1M conversations) the B-tree
            // descents stay in the CPU's caches and each dirty page is shared by neighbours.
            // A conversation's index entries (key ‖ 0x01 ‖ seq) sort just before its state.
            let index = overlay.seqsByKey()
            let keys = Set(overlay.state.conversations.keys).union(index.keys).sorted()
            var written = 0
            for key in keys {
                for seq in index[key] ?? [] { try txn.put(layout.conversations, key: StateLayout.indexKey(key, seq), value: []) }
                guard let conversation = overlay.state.conversations[key] else { continue }
                let stateKey = StateLayout.stateKey(key)
                let old = try txn.get(layout.conversations, key: stateKey).map { try StateCodec.decodeConversation(key: key, $0) }
                try txn.put(layout.conversations, key: stateKey, value: StateCodec.encode(conversation))
                let wasLive = old?.isActive == true ? StateLayout.liveKey(owner: old?.owner, key: key) : nil
                let isLive = conversation.isActive ? StateLayout.liveKey(owner: conversation.owner, key: key) : nil
                if wasLive != isLive {
                    if let wasLive { try txn.delete(layout.live, key: wasLive) }
                    if let isLive { try txn.put(layout.live, key: isLive, value: []) }
                }
                written += 1
                if written == max(1, overlay.state.conversations.count / 2) { Failpoint.midWriteBack.check() }
            }
            for id in overlay.state.sessions.keys.sorted() {
                try txn.put(layout.sessions, key: Array(id.utf8), value: StateCodec.encode(overlay.state.sessions[id]!))
            }
            for name in overlay.state.owners.keys.sorted() {
                try txn.put(layout.owners, key: Array(name.utf8), value: StateCodec.encode(overlay.state.owners[name]!))
            }
            try layout.setApplied(overlay.position, in: txn)
        }
    }
}
