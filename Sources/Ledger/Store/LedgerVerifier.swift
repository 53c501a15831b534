/// The first thing found wrong with a log.
public struct VerifyProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// A seq is missing from the log.
        case gap
        /// The record stored under a seq says it is another seq (records moved or swapped).
        case misplaced
        /// The body does not match its CRC32C.
        case checksum
        /// The record cannot be decoded although its checksum matches.
        case undecodable
        /// The stored chain hash is not SHA-256(previous hash, stored bytes).
        case chain
        /// The event's time is earlier than the event before it.
        case time
        /// Folding the event breaks I1, I2 or I3 (or contradicts the state).
        case invariant
        /// The head record disagrees with the log's end.
        case head
        /// The head state kept beside the log disagrees with the fold of the log.
        case headState = "head_state"
    }

    public var seq: UInt64
    public var kind: Kind
    public var message: String

    public init(seq: UInt64, kind: Kind, message: String) {
        self.seq = seq
        self.kind = kind
        self.message = message
    }

    public var description: String { "seq \(seq): \(kind.rawValue): \(message)" }
}

/// What ``LedgerVerifier/verify(_:progress:)`` found.
public struct VerifyReport: Sendable {
    /// Events checked before stopping (all of them when there is no problem).
    public var eventsChecked: UInt64
    /// The last seq and chain hash the log itself ends with.
    public var lastSeq: UInt64
    public var chainHead: ChainHash
    /// The head record kept beside the log.
    public var recordedHead: LedgerHead
    /// The first problem, or nil when the log verifies.
    public var problem: VerifyProblem?
    /// The state folded from the log (complete only when there is no problem).
    public var state: LedgerState

    public var isValid: Bool { problem == nil }
}

/// Checks a whole log: gapless seqs from 1, each record's checksum, the hash chain over the
/// stored bytes, non-decreasing time, and I1-I3 by folding every event with the state machine
/// the ledger appends with. Then the head record and the head state kept beside the log are
/// compared with what the fold produced.
public enum LedgerVerifier {
    /// Verifies `ledger` in one read transaction (a consistent snapshot; writers go on).
    ///
    /// - Parameter progress: called now and then with (events done, events total).
    /// - Returns: the report; the first problem found stops the check.
    public static func verify(_ ledger: Ledger, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> VerifyReport {
        // Sized before the read: the hint opens a read transaction of its own.
        var checker = ChainChecker(foldingAllOf: ledger)
        return try ledger.read { snapshot in
            let recorded = try snapshot.head()
            try snapshot.forEachRecord { seq, bytes in
                if let problem = checker.check(seq: seq, record: bytes) {
                    checker.problem = problem
                    return false
                }
                if seq % 65_536 == 0 { progress?(seq, recorded.seq) }
                return true
            }
            progress?(checker.expected - 1, recorded.seq)
            var report = VerifyReport(eventsChecked: checker.expected - 1, lastSeq: checker.expected - 1, chainHead: checker.previous,
                                      recordedHead: recorded, problem: checker.problem, state: checker.state)
            if report.problem != nil { return report }
            if recorded.seq != report.lastSeq || recorded.hash != report.chainHead {
                report.problem = VerifyProblem(seq: min(recorded.seq, report.lastSeq) + 1, kind: .head,
                                               message: "the head record says seq \(recorded.seq) (\(recorded.hash.hex.prefix(12))) but the log ends at seq \(report.lastSeq) (\(report.chainHead.hex.prefix(12)))")
                return report
            }
            report.problem = try compareHeadState(snapshot, with: checker.state)
            return report
        }
    }

    /// Compares the conversations, session records and owners stored beside the log with the fold.
    static func compareHeadState(_ snapshot: borrowing LedgerSnapshot, with state: LedgerState) throws -> VerifyProblem? {
        var problem: VerifyProblem?
        var seen = 0
        try snapshot.forEachConversation { stored in
            seen += 1
            if problem == nil, state.conversations[stored.key] != stored {
                problem = VerifyProblem(seq: stored.lastSeq, kind: .headState, message: "conversation '\(stored.key)' is stored as version \(stored.version) with \(stored.sessionId ?? "no session"); the log folds to \(describe(state.conversations[stored.key]))")
            }
        }
        if problem == nil && seen != state.conversations.count {
            problem = VerifyProblem(seq: 0, kind: .headState, message: "\(seen) conversations are stored but the log has \(state.conversations.count)")
        }
        seen = 0
        try snapshot.forEachSession { id, stored in
            seen += 1
            if problem == nil, state.sessions[id] != stored {
                problem = VerifyProblem(seq: stored.endedSeq, kind: .headState, message: "session \(id) is stored as \(stored.endDescription) but the log says \(state.sessions[id]?.endDescription ?? "unknown")")
            }
        }
        if problem == nil && seen != state.sessions.count {
            problem = VerifyProblem(seq: 0, kind: .headState, message: "\(seen) session records are stored but the log has \(state.sessions.count)")
        }
        seen = 0
        try snapshot.forEachOwner { stored in
            seen += 1
            if problem == nil, state.owners[stored.name] != stored {
                problem = VerifyProblem(seq: stored.lastSeq, kind: .headState, message: "owner '\(stored.name)' is stored at epoch \(stored.epoch); the log says \(state.owners[stored.name]?.epoch ?? 0)")
            }
        }
        if problem == nil && seen != state.owners.count {
            problem = VerifyProblem(seq: 0, kind: .headState, message: "\(seen) owners are stored but the log has \(state.owners.count)")
        }
        return problem
    }

    private static func describe(_ conversation: ConversationState?) -> String {
        guard let conversation else { return "nothing" }
        return "version \(conversation.version) with \(conversation.sessionId ?? "no session")"
    }
}

/// The streaming part of verification, one record at a time. Also used by import and by
/// `ledgerctl replay --verify`.
public struct ChainChecker: Sendable {
    /// The seq the next record must have.
    public private(set) var expected: UInt64 = 1
    /// The chain hash of the last record checked.
    public private(set) var previous: ChainHash = .genesis
    /// The fold of the records checked so far.
    public private(set) var state = LedgerState()
    public var problem: VerifyProblem?
    private var lastTime = Int64.min
    /// Whether to fold into ``state`` (and so check the invariants).
    public var folds: Bool

    public init(folds: Bool = true) {
        self.folds = folds
    }

    /// A checker that folds a whole log, its state sized from the start by
    /// ``Ledger/sizeHint()``: a dictionary that grows holds its old and new storage at once.
    /// Make it outside ``Ledger/read(_:)``: the hint begins a read transaction of its own.
    public init(foldingAllOf ledger: Ledger) {
        self.folds = true
        if let hint = ledger.sizeHint() { state.reserveCapacity(conversations: hint.conversations, sessions: hint.sessions) }
    }

    /// Checks the record stored under `seq`; on success it becomes the chain's new end.
    ///
    /// - Returns: the problem, or nil.
    public mutating func check(seq: UInt64, record: UnsafeRawBufferPointer) -> VerifyProblem? {
        switch inspect(seq: seq, record: record) {
        case .success: return nil
        case .failure(let problem): return problem
        }
    }

    /// Like ``check(seq:record:)``, returning the decoded event on success.
    public mutating func inspect(seq: UInt64, record: UnsafeRawBufferPointer) -> Result<Event, VerifyProblem> {
        if seq != expected {
            return .failure(VerifyProblem(seq: expected, kind: seq > expected ? .gap : .misplaced,
                                          message: seq > expected ? "seq \(expected) is missing (the next record is seq \(seq))" : "seq \(seq) appears after seq \(expected - 1)"))
        }
        let parts: StoredRecord.Parts
        do { parts = try StoredRecord.parts(record) } catch {
            return .failure(VerifyProblem(seq: seq, kind: .undecodable, message: error.message))
        }
        guard parts.checksumMatches else {
            return .failure(VerifyProblem(seq: seq, kind: .checksum, message: "the record's bytes do not match its CRC32C"))
        }
        let event: Event
        do { event = try EventCodec.decode(parts.body) } catch {
            return .failure(VerifyProblem(seq: seq, kind: .undecodable, message: error.message))
        }
        if event.seq != seq {
            return .failure(VerifyProblem(seq: seq, kind: .misplaced, message: "the record stored as seq \(seq) is seq \(event.seq)"))
        }
        let hash = ChainHash.link(after: previous, stored: parts.hashed)
        if hash != parts.storedHash {
            return .failure(VerifyProblem(seq: seq, kind: .chain, message: "the chain hash does not follow from seq \(seq - 1)'s"))
        }
        if event.time < lastTime {
            return .failure(VerifyProblem(seq: seq, kind: .time, message: "time goes back from \(lastTime) to \(event.time)"))
        }
        if folds {
            do throws(InvariantViolation) {
                try SessionMachine.apply(event, to: &state)
            } catch {
                return .failure(VerifyProblem(seq: seq, kind: .invariant, message: error.description))
            }
        }
        previous = hash
        lastTime = event.time
        expected += 1
        return .success(event)
    }
}
