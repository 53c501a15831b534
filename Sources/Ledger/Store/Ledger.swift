import CLMDB
#if canImport(Glibc)
import Glibc
#endif

/// How to open a ``Ledger``.
public struct LedgerOptions: Sendable {
    /// Open for reading only, e.g. `ledgerctl replay` beside a running ledgerd.
    public var readOnly = false
    /// The LMDB map size to start with; it grows on demand.
    public var initialMapSize = 1 << 30
    /// LMDB reader slots.
    public var maxReaders: UInt32 = 512
    /// When head state held in memory is written back to the state environment.
    public var writeBack = WriteBackPolicy()

    public init(readOnly: Bool = false, initialMapSize: Int = 1 << 30, writeBack: WriteBackPolicy = WriteBackPolicy()) {
        self.readOnly = readOnly
        self.initialMapSize = initialMapSize
        self.writeBack = writeBack
    }
}

/// A command with the identity of whoever sent it (filled by the server from SO_PEERCRED).
public struct CommandEnvelope: Sendable, Hashable {
    public var command: Command
    public var actor: ActorIdentity?

    public init(_ command: Command, actor: ActorIdentity? = nil) {
        self.command = command
        self.actor = actor
    }
}

/// An event as it was appended: decoded fields, stored bytes and chain hash.
public struct CommittedEvent: Sendable, Hashable {
    public var event: Event
    public var stored: [UInt8]
    public var hash: ChainHash

    public init(event: Event, stored: [UInt8], hash: ChainHash) {
        self.event = event
        self.stored = stored
        self.hash = hash
    }
}

/// What became of one command of a batch.
public enum CommandOutcome: Sendable, Hashable {
    /// Accepted: the events it appended (a slice of ``AppendResult/events``; empty for an
    /// accepted command that changed nothing) and, for transitions, the conversation after it.
    case accepted(events: Range<Int>, conversation: ConversationState?)
    /// Refused, with the conversation's current state for transitions (nil for malformed
    /// commands, which are refused before anything is read).
    case rejected(Rejection, conversation: ConversationState?)
    /// The decided events broke an invariant when folded: a bug in the state machine.
    /// Nothing was appended for this command; the rest of the batch is unaffected.
    case failed(InvariantViolation)
}

/// The result of one ``Ledger/append(_:now:)``: an outcome per command, in order, and every
/// event the batch appended, all committed durably by a single LMDB commit.
public struct AppendResult: Sendable {
    public var outcomes: [CommandOutcome]
    public var events: [CommittedEvent]
    public var head: LedgerHead
    /// Every conversation, session record and owner the batch changed, as the batch left it:
    /// what a projection must write to follow the batch without folding it again.
    public var changed: LedgerState
}

/// The session ledger: an append-only, hash-chained event log in LMDB, and the head state of
/// every conversation, session ID and owner derived from it.
///
/// Appends take whole batches: each command is decided against the state as the commands
/// before it in the batch left it, and the batch commits in one durable LMDB transaction
/// (one fsync however many events). The commit writes only the log; head state changed by the
/// log's tail is held in memory and written back to a second environment in bulk, off the
/// commit path (``HeadStateStore``). Opening folds the log after what was written back.
///
/// Thread safety: any thread may read; writes are serialised (one write transaction at a time,
/// begun and committed on the calling thread). ledgerd calls `append` from one writer thread.
public final class Ledger: Sendable {
    /// The log's LMDB environment directory.
    public let directory: String
    /// The log's LMDB environment.
    public let environment: LMDBEnvironment
    let layout: LedgerLayout
    let state: HeadStateStore
    /// Opened read-only: another process may be the writer, so every read folds the log's tail.
    public let isReadOnly: Bool

    private init(directory: String, environment: LMDBEnvironment, layout: LedgerLayout, state: HeadStateStore, readOnly: Bool) {
        self.directory = directory
        self.environment = environment
        self.layout = layout
        self.state = state
        self.isReadOnly = readOnly
    }

    /// Where the state environment of the ledger in `directory` lives.
    public static func stateDirectory(of directory: String) -> String { directory + "/state" }

    /// Opens the ledger in `directory`, creating the directory (mode 0700) and an empty ledger
    /// when writable and missing. A writable open brings the head state up to the log's head
    /// (folding the log's tail; rebuilding the state environment from the log when it is missing
    /// or does not match the log) and moves a format-2 ledger's head state out of the log.
    ///
    /// - Throws: ``LedgerError`` with ``LedgerError/Code/incompatibleFormat`` when the directory
    ///   holds something else, or ``LMDBError``.
    public static func open(directory: String, options: LedgerOptions = LedgerOptions()) throws -> Ledger {
        if !options.readOnly { mkdir(directory, 0o700) }
        var lmdb = LMDBOptions()
        lmdb.readOnly = options.readOnly
        lmdb.initialMapSize = options.initialMapSize
        lmdb.maxReaders = options.maxReaders
        // A writable ledger is ledgerd's, whose reads are point reads: a conversation's state,
        // its history's events (far apart in the log), the log's last pages at an append. With
        // the kernel's read-around each cold page fault waited for megabytes (read_ahead_kb is
        // 8 MiB on our VM's disk): after a reboot a first history read took 14-55 ms instead of
        // 0.7-2, the first turn up to 6.6 ms instead of 1.5. Its scans pay a little: a cold
        // online rebuild of 6.1M events took 13 % longer (docs/performance.md), a rare case
        // against every restart's point reads. Read-only opens, ledgerctl's replays and
        // verifies that read everything in order, keep it.
        lmdb.readAhead = options.readOnly
        let environment = try LMDBEnvironment.open(directory: directory, options: lmdb)
        let layout: LedgerLayout
        do {
            layout = try LedgerLayout(environment: environment)
        } catch let error as LMDBError where options.readOnly && error.code == MDB_NOTFOUND {
            // Read-only opens cannot create the databases a writer has not created yet.
            throw LedgerError(.incompatibleFormat, "\(directory) holds no ledger yet (start ledgerd once, or check --data-dir)")
        }
        try environment.read { txn in
            if let tag = try txn.get(layout.meta, key: LedgerLayout.formatKey),
               !tag.elementsEqual(LedgerLayout.formatTag), !tag.elementsEqual(LedgerLayout.legacyFormatTag) {
                throw LedgerError(.incompatibleFormat, "\(directory) holds format '\(String(decoding: tag, as: UTF8.self))', this build reads '\(String(decoding: LedgerLayout.formatTag, as: UTF8.self))'")
            }
        }
        let state: HeadStateStore
        if options.readOnly {
            state = try HeadStateStore.openReadOnly(directory: stateDirectory(of: directory), log: environment, logLayout: layout, lmdb: lmdb)
        } else {
            try environment.write { txn in
                let tag = try txn.get(layout.meta, key: LedgerLayout.formatKey).map { Array($0) }
                if tag == LedgerLayout.legacyFormatTag {
                    // Format 2 kept head state beside the log; it is derived, so it is dropped
                    // here and rebuilt from the log in the state environment below.
                    for name in LedgerLayout.legacyStateDatabases {
                        if let legacy = try txn.existingDatabase(named: name) { try txn.drop(legacy, delete: true) }
                    }
                }
                if tag != LedgerLayout.formatTag {
                    try txn.put(layout.meta, key: LedgerLayout.formatKey, value: LedgerLayout.formatTag)
                }
            }
            var stateOptions = lmdb
            stateOptions.initialMapSize = min(lmdb.initialMapSize, 1 << 30)
            state = try HeadStateStore.openWritable(directory: stateDirectory(of: directory), log: environment, logLayout: layout,
                                                    lmdb: stateOptions, policy: options.writeBack)
        }
        return Ledger(directory: directory, environment: environment, layout: layout, state: state, readOnly: options.readOnly)
    }

    /// The end of the log.
    public func head() throws -> LedgerHead {
        if isReadOnly { return try environment.read { txn in try layout.head(in: txn) } }
        return state.head
    }

    /// Lends a consistent read-only view of the ledger to `body`: the log up to a head and the
    /// head state as of that head.
    public func read<R>(_ body: (borrowing LedgerSnapshot) throws -> R) throws -> R {
        if isReadOnly {
            // Another process writes: the state environment first, then the log, whose head is
            // never behind what was written back; the log's tail after it is folded here.
            return try state.withFoldedState(log: environment, logLayout: layout) { logTxn, head, headState in
                try body(LedgerSnapshot(log: logTxn, layout: layout, head: head, state: headState))
            }
        }
        return try state.withPublishedView { view, head in
            // Begun after the overlays were copied, so it holds every event up to `head`.
            try environment.read { logTxn in
                try body(LedgerSnapshot(log: logTxn, layout: layout, head: head, state: SnapshotState(view)))
            }
        }
    }

    /// Visits the log's stored records in seq order from `from` through `through` (inclusive),
    /// handing each one's seq and raw bytes (valid only during the call) to `body` until it
    /// returns false.
    ///
    /// A read of the log alone: unlike ``read(_:)`` it takes no view of the head state, whose
    /// copy of the overlays held in memory would make the writer copy them whole at its next
    /// batch. For the projection, which reads back each batch the writer just committed.
    ///
    /// - Returns: the number of records visited.
    @discardableResult
    public func forEachRecord(from: UInt64, through: UInt64,
                              _ body: (_ seq: UInt64, _ record: UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        try environment.read { txn in try layout.forEachRecord(in: txn, from: from, through: through, body) }
    }

    /// The events from `from` through `through` (inclusive) the log holds, in order, each with
    /// the chain hash the log stores for it, checksums verified. A read of the log alone, as
    /// ``forEachRecord(from:through:_:)``.
    ///
    /// - Throws: ``LedgerError/Code/corruptRecord`` when a record fails its checksum.
    public func loggedEvents(from: UInt64, through: UInt64) throws -> [LoggedEvent] {
        var events: [LoggedEvent] = []
        try forEachRecord(from: from, through: through) { seq, record in
            events.append(try LoggedEvent(seq: seq, record: record))
            return true
        }
        return events
    }

    /// A conversation's current state, as of the last durable commit: the state the next write
    /// to `key` is decided against (version 0, no session, when the key is unknown).
    ///
    /// Cheaper than ``read(_:)`` for one key on a writable ledger: it neither copies the head
    /// state held in memory nor begins a log transaction.
    public func conversation(_ key: String) throws -> ConversationState {
        if isReadOnly { return try read { try $0.conversation(key) } }
        return try state.conversation(key) ?? ConversationState(key: key)
    }

    /// About how many conversations and session records the log has made, for sizing the
    /// tables of a fold over the whole log (a rebuild), never for a decision: read from the
    /// stored head state's entry counts without a scan, so it is as old as the last write-back,
    /// and capped at the log's length, so a state environment that does not belong to this log
    /// cannot make a fold reserve more than the log could fill. Nil when nothing is stored.
    public func sizeHint() -> (conversations: Int, sessions: Int)? {
        guard let stored = state.storedSizeHint(), let events = try? head().seq else { return nil }
        let cap = Int(clamping: events)
        return (min(stored.conversations, cap), min(stored.sessions, cap))
    }

    /// Drops the process's mappings of log and head-state pages read so far (they stay in the
    /// page cache); see ``LMDBEnvironment/releaseMappedPages()``. ledgerd calls it every few
    /// seconds, so random reads do not leave the resident set holding most of the files.
    public func releaseMappedPages() {
        environment.releaseMappedPages()
        state.environment?.releaseMappedPages()
    }

    /// Writes back all head state held in memory to the state environment, durably, after any
    /// write-back in flight: a clean shutdown leaves nothing to fold at the next open.
    public func writeBackHeadState() throws {
        if !isReadOnly { try state.writeBackNow() }
    }

    /// Events whose head state is held in memory only (folded again from the log after a
    /// crash), and the last write-back's error when it failed (it is retried).
    public var headStateStatus: (heldEvents: Int, writeBackError: (any Error)?) { state.status }

    /// Decides and appends a batch of commands in one durable transaction.
    ///
    /// Each command is decided against the state left by the commands before it. Accepted
    /// events get consecutive seqs, the time `max(now, head time)` and the command's actor;
    /// each is folded through ``SessionMachine/apply(_:to:)`` (so a decided event that breaks an
    /// invariant is never written) and sealed into the hash chain.
    ///
    /// - Parameters:
    ///   - commands: the batch, in order.
    ///   - now: the wall clock in microseconds since the Unix epoch.
    /// - Returns: one outcome per command, and the events appended.
    /// - Throws: ``LMDBError`` when the batch could not be committed; then nothing of it was.
    public func append(_ commands: [CommandEnvelope], now: Int64) throws -> AppendResult {
        let result = try state.withPublishedView { view, published in
            try environment.write { txn in
                var head = try layout.head(in: txn)
                guard head == published else {
                    throw LedgerError(.storage, "the log's head is seq \(head.seq) but this ledger last committed seq \(published.seq): another process wrote to the log")
                }
                let time = max(now, head.time)
                var outcomes: [CommandOutcome] = []
                outcomes.reserveCapacity(commands.count)
                var events: [CommittedEvent] = []
                events.reserveCapacity(commands.count)
                var changed = LedgerState()
                // Every entity the batch has read or changed, as the batch left it: each command
                // is decided against it and changes it in place (no slice per command, no copy).
                var working = LedgerState()
                working.reserveCapacity(conversations: commands.count, sessions: commands.count * 2)

                for envelope in commands {
                    if let problem = SessionMachine.validate(envelope.command) {
                        outcomes.append(.rejected(problem, conversation: nil))
                        continue
                    }
                    let key: String?
                    if case .transition(let transitionKey, let request) = envelope.command {
                        key = transitionKey
                        try view.load(transitionOn: transitionKey, request, into: &working)
                    } else {
                        key = nil
                        try view.load(envelope.command.needs, into: &working)
                    }
                    switch SessionMachine.decide(validated: envelope.command, state: working) {
                    case .rejected(let rejection):
                        outcomes.append(.rejected(rejection, conversation: key.map { working.conversation($0) }))
                    case .accepted(let decided):
                        var sealed: [CommittedEvent] = []
                        var chain = head
                        do throws(InvariantViolation) {
                            sealed.reserveCapacity(decided.count)
                            if decided.count == 1 {
                                // One event (every transition): folded in place, which leaves the
                                // state as it was when the event breaks an invariant.
                                let event = stamp(decided[0], after: chain, time: time, actor: envelope.actor)
                                try working.fold(event, recordingChangesIn: &changed)
                                seal(event, after: &chain, into: &sealed)
                            } else {
                                // Several (a boot's invalidations): folded into a copy, so that one
                                // that breaks an invariant undoes the command's earlier ones.
                                var after = working
                                for decidedEvent in decided {
                                    let event = stamp(decidedEvent, after: chain, time: time, actor: envelope.actor)
                                    try SessionMachine.apply(event, to: &after)
                                    seal(event, after: &chain, into: &sealed)
                                }
                                changed.takeChanges(of: after, since: working)
                                working = after
                            }
                        } catch {
                            outcomes.append(.failed(error))
                            continue
                        }
                        for committed in sealed {
                            try txn.put(layout.events, key: LedgerLayout.seqKey(committed.event.seq), value: committed.stored, append: true)
                        }
                        outcomes.append(.accepted(events: events.count..<(events.count + sealed.count),
                                                  conversation: key.map { working.conversation($0) }))
                        events += sealed
                        head = chain
                    }
                }
                if !events.isEmpty {
                    try txn.put(layout.meta, key: LedgerLayout.headKey, value: head.encoded())
                }
                return AppendResult(outcomes: outcomes, events: events, head: head, changed: changed)
            }
        }
        // The log is committed: only now may readers see the batch's state.
        if !result.events.isEmpty { state.committed(result.changed, events: result.events.lazy.map(\.event), head: result.head) }
        return result
    }

    /// A decided event given its place in the log: the seq after `chain`, the batch's time and
    /// the command's actor.
    private func stamp(_ decided: Event, after chain: LedgerHead, time: Int64, actor: ActorIdentity?) -> Event {
        var event = decided
        event.seq = chain.seq + 1
        event.time = time
        event.actor = actor
        return event
    }

    /// Seals a stamped event into the hash chain after `chain`, which moves to it.
    private func seal(_ event: Event, after chain: inout LedgerHead, into sealed: inout [CommittedEvent]) {
        let (bytes, hash) = StoredRecord.seal(event, after: chain.hash)
        sealed.append(CommittedEvent(event: event, stored: bytes, hash: hash))
        chain = LedgerHead(seq: event.seq, hash: hash, time: event.time)
    }

    /// Appends one command; a convenience over ``append(_:now:)``.
    public func append(_ command: Command, actor: ActorIdentity? = nil, now: Int64 = WallClock.microseconds()) throws -> (CommandOutcome, [CommittedEvent]) {
        let result = try append([CommandEnvelope(command, actor: actor)], now: now)
        return (result.outcomes[0], result.events)
    }
}
