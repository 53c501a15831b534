/// The session state machine: `decide` turns a command into events or a rejection, `evolve`
/// folds an event into the state. Both are pure: no I/O, no clock, no randomness. The ledger,
/// the projections and the verifier all run these same functions.
public enum SessionMachine {}

extension SessionMachine {
    /// Decides `command` against `state`.
    ///
    /// - Parameters:
    ///   - command: what a writer asks for.
    ///   - state: at least the slice ``Command/needs`` names.
    /// - Returns: the events to append (unstamped: seq 0, time 0, no actor), or a rejection
    ///   with a stable code.
    public static func decide(_ command: Command, state: LedgerState) -> Decision {
        if let problem = validate(command) { return .rejected(problem) }
        return decide(validated: command, state: state)
    }

    /// ``decide(_:state:)`` for a command ``validate(_:)`` has passed: the writer validates
    /// before it loads any state, and checking every identifier twice cost it a few percent.
    static func decide(validated command: Command, state: LedgerState) -> Decision {
        switch command {
        case .transition(let key, let request):
            return decideTransition(key: key, request, state: state)
        case .boot(let owner, let environment, let policy):
            return decideBoot(owner: owner, environment: environment, policy: policy, state: state)
        case .invalidateAllLive(let reason):
            let events = state.liveConversations(owner: nil).map { conversation in
                Event(key: conversation.key, version: conversation.version + 1, type: .invalidatedOnBoot,
                      sessionId: conversation.sessionId, owner: conversation.owner, reason: reason)
            }
            return .accepted(events)
        }
    }

    /// Checks a command's shape and limits without consulting any state. Stores call this
    /// before loading anything, so malformed identifiers never reach storage.
    ///
    /// - Returns: nil when well formed, else an ``RejectionCode/invalidRequest`` naming the field.
    public static func validate(_ command: Command) -> Rejection? {
        switch command {
        case .transition(let key, let request):
            return InputLimits.checkIdentifier(key, field: "key") ?? checkShape(request)
        case .boot(let owner, let environment, let policy):
            if let problem = InputLimits.checkIdentifier(owner, field: "owner") { return problem }
            if let environment, let problem = InputLimits.checkEnvironment(environment) { return problem }
            if policy == .mismatched && (environment?.isEmpty ?? true) {
                return .invalid("environment", "is required with invalidate=mismatched: there is nothing to compare sessions with")
            }
            return nil
        case .invalidateAllLive(let reason):
            return InputLimits.checkReason(reason)
        }
    }

    // MARK: Conversations

    private static func decideTransition(key: String, _ request: TransitionRequest, state: LedgerState) -> Decision {
        let conversation = state.conversation(key)
        switch request.kind {
        case .created: return decideCreated(conversation, request, state: state)
        case .resumed: return decideResumed(conversation, request, state: state)
        case .errored: return decideErrored(conversation, request, state: state)
        case .cleared: return decideCleared(conversation, request)
        }
    }

    /// Field presence and limits, before any state is consulted.
    private static func checkShape(_ request: TransitionRequest) -> Rejection? {
        let kind = request.kind.rawValue
        switch request.kind {
        case .created, .resumed:
            if request.sessionId == nil { return .invalid("sessionId", "is required for \(kind)") }
            if request.expectedVersion == nil { return .invalid("expectedVersion", "is required for \(kind)") }
        case .errored:
            if request.sessionId == nil { return .invalid("sessionId", "is required for errored") }
        case .cleared:
            break
        }
        if request.environment != nil && request.kind != .created {
            return .invalid("environment", "is only valid for created (got \(kind))")
        }
        if request.reportedSessionId != nil && request.kind != .errored {
            return .invalid("reportedSessionId", "is only valid for errored (got \(kind))")
        }
        if request.epoch != nil && request.owner == nil {
            return .invalid("epoch", "needs an owner")
        }
        if request.epoch != nil && (request.kind == .errored || request.kind == .cleared) {
            // Ending a session is always safe, so nothing would check it: refuse rather than ignore.
            return .invalid("epoch", "is only checked for created and resumed (got \(kind))")
        }
        if let id = request.sessionId, let problem = InputLimits.checkIdentifier(id, field: "sessionId") { return problem }
        if let id = request.reportedSessionId, let problem = InputLimits.checkIdentifier(id, field: "reportedSessionId") { return problem }
        if let owner = request.owner, let problem = InputLimits.checkIdentifier(owner, field: "owner") { return problem }
        if let environment = request.environment, let problem = InputLimits.checkEnvironment(environment) { return problem }
        if let reason = request.reason, let problem = InputLimits.checkReason(reason) { return problem }
        return nil
    }

    /// A write that names an owner epoch must name the owner's current one (I3).
    private static func checkEpoch(_ request: TransitionRequest, state: LedgerState) -> Rejection? {
        guard let owner = request.owner, let epoch = request.epoch else { return nil }
        let current = state.owner(owner).epoch
        if epoch == current { return nil }
        let relation = epoch < current ? "older than" : "ahead of"
        return Rejection(.staleEpoch, "epoch \(epoch) of owner '\(owner)' is \(relation) its current epoch \(current)")
    }

    private static func checkVersion(_ expected: UInt64, _ conversation: ConversationState) -> Rejection? {
        if expected == conversation.version { return nil }
        let current = conversation.sessionId.map { "session \($0)" } ?? "no session"
        return Rejection(.staleVersion, "expected version \(expected) but '\(conversation.key)' is at version \(conversation.version) (\(current))")
    }

    private static func deadSession(_ id: String, _ record: SessionRecord) -> Rejection {
        Rejection(.deadSession, "session \(id) \(record.endDescription) at seq \(record.endedSeq) and can never be current again")
    }

    private static func decideCreated(_ conversation: ConversationState, _ request: TransitionRequest, state: LedgerState) -> Decision {
        let id = request.sessionId!
        if let problem = checkEpoch(request, state: state) { return .rejected(problem) }
        if let problem = checkVersion(request.expectedVersion!, conversation) { return .rejected(problem) }
        if let record = state.session(id) {
            if !record.isLive { return .rejected(deadSession(id, record)) }
            if record.key != conversation.key {
                return .rejected(Rejection(.sessionTaken, "session \(id) belongs to conversation '\(record.key)'"))
            }
        }
        // A session created by a known owner belongs to its current epoch, so the next boot of
        // that owner knows it is from an earlier one.
        let epoch = request.owner.map { request.epoch ?? state.owner($0).epoch }
        let superseded = conversation.sessionId == id ? nil : conversation.sessionId
        // An empty environment object records nothing; store it as none, so every reader
        // (LMDB head state, SQLite columns) agrees on what was recorded.
        let environment = request.environment?.isEmpty == true ? nil : request.environment
        return .accepted([Event(key: conversation.key, version: conversation.version + 1, type: .created, sessionId: id,
                                supersedes: superseded, owner: request.owner, epoch: epoch,
                                environment: environment, reason: request.reason)])
    }

    private static func decideResumed(_ conversation: ConversationState, _ request: TransitionRequest, state: LedgerState) -> Decision {
        let id = request.sessionId!
        if let problem = checkEpoch(request, state: state) { return .rejected(problem) }
        if let problem = checkVersion(request.expectedVersion!, conversation) { return .rejected(problem) }
        if let record = state.session(id) {
            if !record.isLive { return .rejected(deadSession(id, record)) }
            if record.key != conversation.key {
                return .rejected(Rejection(.sessionTaken, "session \(id) belongs to conversation '\(record.key)'"))
            }
        }
        guard conversation.sessionId == id else {
            let current = conversation.sessionId.map { "session \($0)" } ?? "no session"
            return .rejected(Rejection(.notCurrent, "session \(id) is not current for '\(conversation.key)' (it has \(current))"))
        }
        return .accepted([Event(key: conversation.key, version: conversation.version + 1, type: .resumed, sessionId: id,
                                owner: request.owner, epoch: request.epoch, reason: request.reason)])
    }

    /// Killing is always safe, so an error report needs no version; but it never reaches into
    /// another conversation, and never ends a session newer than the one that failed.
    private static func decideErrored(_ conversation: ConversationState, _ request: TransitionRequest, state: LedgerState) -> Decision {
        let id = request.sessionId!
        let record = state.session(id)
        // Live or dead, a session of another conversation is not this one's to report on: its
        // events all stay on its own conversation (history by session relies on that).
        if let record, record.key != conversation.key {
            return .rejected(Rejection(.sessionTaken, "session \(id) belongs to conversation '\(record.key)'; report its error there"))
        }
        let killsSession = record?.isLive ?? true
        // A reported ID dies only if the ledger has never seen it: a known dead one is dead
        // already, and a live one is some conversation's current session (maybe a newer
        // session of this very conversation), which an old turn's error must not end.
        let killsReported = request.reportedSessionId.map { $0 != id && state.session($0) == nil } ?? false
        // A late report about a session that is already dead changes nothing: acknowledge it
        // without an event, so it cannot fence out the turn that is current now (incident D).
        if !killsSession && !killsReported { return .accepted([]) }
        return .accepted([Event(key: conversation.key, version: conversation.version + 1, type: .errored, sessionId: id,
                                reportedSessionId: request.reportedSessionId, owner: request.owner,
                                reason: request.reason)])
    }

    private static func decideCleared(_ conversation: ConversationState, _ request: TransitionRequest) -> Decision {
        if let expected = request.expectedVersion, let problem = checkVersion(expected, conversation) {
            return .rejected(problem)
        }
        if let id = request.sessionId, conversation.sessionId != id {
            let current = conversation.sessionId.map { "session \($0)" } ?? "no session"
            return .rejected(Rejection(.sessionChanged, "'\(conversation.key)' has \(current), not \(id); nothing cleared"))
        }
        return .accepted([Event(key: conversation.key, version: conversation.version + 1, type: .cleared,
                                sessionId: conversation.sessionId, owner: request.owner, reason: request.reason)])
    }

    // MARK: Owners

    private static func decideBoot(owner: String, environment: RuntimeEnvironment?, policy: InvalidationPolicy, state: LedgerState) -> Decision {
        let environment = environment?.isEmpty == true ? nil : environment
        let epoch = state.owner(owner).epoch + 1
        var events = [Event(key: nil, version: epoch, type: .ownerBooted, owner: owner, epoch: epoch,
                            environment: environment, reason: "invalidate=\(policy.rawValue)")]
        for conversation in state.liveConversations(owner: owner) {
            let reason: String
            switch policy {
            case .all:
                reason = "owner \(owner) booted epoch \(epoch) (invalidate=all)"
            case .mismatched:
                let differing = environment!.differences(from: conversation.environment)
                if differing.isEmpty { continue }  // the transcript survived: keep continuity
                reason = "owner \(owner) booted epoch \(epoch) with a different \(differing.joined(separator: ", "))"
            }
            events.append(Event(key: conversation.key, version: conversation.version + 1, type: .invalidatedOnBoot,
                                sessionId: conversation.sessionId, owner: owner, epoch: epoch, reason: reason))
        }
        return .accepted(events)
    }
}
