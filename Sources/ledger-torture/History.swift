import Ledger

/// One client operation, as the client saw it: when it was invoked, when the answer came, and
/// what the answer said.
struct Operation: Sendable {
    enum Kind: Sendable {
        case transition(TransitionRequest)
        case read
    }

    enum Answer: Sendable {
        /// 200 to a transition: appended at `seq` (or acknowledged without an event).
        case accepted(seq: UInt64, version: UInt64, session: String?, appended: Bool)
        /// 409, with the conversation's current state.
        case rejected(code: RejectionCode, version: UInt64, session: String?)
        /// 200 to a GET.
        case read(version: UInt64, session: String?)
        /// No answer: the connection died with ledgerd. The operation may or may not have happened.
        case unknown
    }

    var client: Int
    var key: String
    var kind: Kind
    var invoked: UInt64
    var answered: UInt64
    var answer: Answer
}

/// Checks a run's operations against the log that survived it.
///
/// - Every acknowledged transition is in the log at its seq, with the key, version, type and
///   session it was acknowledged with (no lost acknowledged write).
/// - Acknowledged transitions are linearizable in log order: if one was answered before another
///   was invoked, its seq is lower. Two acknowledged writes never share a (key, version) (no two
///   winners).
/// - Every state a client was shown (a GET, or the current state in a 409) was the state of that
///   conversation at that version in the log (no read of a state that was never current), and
///   is not older than a write of that conversation acknowledged before the read began.
struct HistoryCheck {
    var violations: [String] = []
    var writesChecked = 0
    var readsChecked = 0

    /// The session of each conversation after each version, folded from the log.
    struct LogStates {
        var sessionAt: [String: [UInt64: String?]] = [:]
        var events: [UInt64: Event] = [:]
    }

    static func fold(_ ledger: Ledger) throws -> LogStates {
        var states = LogStates()
        var state = LedgerState()
        _ = try ledger.read { snapshot in
            try snapshot.forEachRecord { seq, record in
                let (event, _) = try StoredRecord.decode(record)
                try SessionMachine.apply(event, to: &state)
                states.events[seq] = event
                if let key = event.key {
                    states.sessionAt[key, default: [0: nil]][event.version] = state.conversation(key).sessionId
                }
                return true
            }
        }
        return states
    }

    mutating func check(_ operations: [Operation], against log: LogStates) {
        var acknowledged: [(op: Operation, seq: UInt64, version: UInt64)] = []
        var seenVersions = Set<String>()
        for op in operations {
            guard case .transition(let request) = op.kind, case .accepted(let seq, let version, _, let appended) = op.answer, appended else { continue }
            writesChecked += 1
            guard let event = log.events[seq] else {
                violations.append("acknowledged \(request.kind) on \(op.key) at seq \(seq) is not in the log")
                continue
            }
            if event.key != op.key || event.version != version || event.type != request.kind.eventType
                || (request.kind != .cleared && event.sessionId != request.sessionId) {
                violations.append("seq \(seq) holds \(event.type.name) \(event.key ?? "-") v\(event.version) \(event.sessionId ?? "-"); \(request.kind) \(op.key) v\(version) \(request.sessionId ?? "-") was acknowledged")
            }
            if !seenVersions.insert("\(op.key)#\(version)").inserted {
                violations.append("two acknowledged writes won \(op.key) version \(version)")
            }
            acknowledged.append((op, seq, version))
        }
        // Real-time order: sweep invocations in time order, tracking the highest seq among the
        // writes already answered at that moment.
        let byAnswer = acknowledged.sorted { $0.op.answered < $1.op.answered }
        let byInvocation = acknowledged.sorted { $0.op.invoked < $1.op.invoked }
        var answeredIndex = 0
        var highestAnswered: (seq: UInt64, op: Operation)?
        for write in byInvocation {
            while answeredIndex < byAnswer.count && byAnswer[answeredIndex].op.answered < write.op.invoked {
                if highestAnswered == nil || byAnswer[answeredIndex].seq > highestAnswered!.seq {
                    highestAnswered = (byAnswer[answeredIndex].seq, byAnswer[answeredIndex].op)
                }
                answeredIndex += 1
            }
            if let highest = highestAnswered, highest.seq >= write.seq {
                violations.append("seq \(write.seq) (\(write.op.key)) was invoked after seq \(highest.seq) was answered, yet precedes it")
            }
        }
        // Reads: a state that was current, and no older than what was acknowledged before.
        var acknowledgedVersions: [String: [(answered: UInt64, version: UInt64)]] = [:]
        for write in acknowledged { acknowledgedVersions[write.op.key, default: []].append((write.op.answered, write.version)) }
        for op in operations {
            let shown: (UInt64, String?)
            switch op.answer {
            case .read(let version, let session): shown = (version, session)
            case .rejected(_, let version, let session): shown = (version, session)
            default: continue
            }
            readsChecked += 1
            let states = log.sessionAt[op.key] ?? [0: nil]
            guard let logged = states[shown.0] else {
                violations.append("\(op.key) was shown version \(shown.0), which the log never reached")
                continue
            }
            if logged != shown.1 {
                violations.append("\(op.key) was shown version \(shown.0) with \(shown.1 ?? "no session"); at that version the log has \(logged ?? "no session")")
            }
            let floor = acknowledgedVersions[op.key]?.filter { $0.answered < op.invoked }.map(\.version).max() ?? 0
            if shown.0 < floor {
                violations.append("\(op.key) was shown version \(shown.0) after version \(floor) had been acknowledged")
            }
        }
    }
}
