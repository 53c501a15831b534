extension SessionMachine {
    /// Folds `event` into `state`, checking that it may follow it.
    ///
    /// - Returns: the state after the event.
    /// - Throws: ``InvariantViolation`` when the event cannot follow `state`: a version gap
    ///   (I2), a dead session made current (I1), an epoch that was not current (I3), or fields
    ///   that contradict the state.
    public static func evolve(_ state: LedgerState, _ event: Event) throws(InvariantViolation) -> LedgerState {
        var next = state
        try apply(event, to: &next)
        return next
    }

    /// ``evolve(_:_:)`` in place. Every check runs before anything changes, so a throwing call
    /// leaves `state` as it was.
    ///
    /// Entities are changed where they live in the dictionaries (one lookup, no copies): folding
    /// whole logs (rebuilds, verification) spends most of its time here.
    public static func apply(_ event: Event, to state: inout LedgerState) throws(InvariantViolation) {
        // Seq 0 would read as "still live" in the records the event ends; only stamped events fold.
        guard event.seq > 0 else {
            throw InvariantViolation(seq: 0, .consistency, "\(event.type.name) event has no seq: it was never stamped by the ledger")
        }
        if event.type == .ownerBooted {
            try applyBoot(event, to: &state)
            return
        }
        guard let key = event.key else {
            throw InvariantViolation(seq: event.seq, .consistency, "\(event.type.name) event without a key")
        }
        let current = state.conversations[key]
        let version = current?.version ?? 0
        let currentSession = current?.sessionId
        guard event.version == version + 1 else {
            throw InvariantViolation(seq: event.seq, .fencedWrites, "'\(key)' moves from version \(version) to \(event.version)")
        }
        // Check, then change the sessions this event ends, then the conversation.
        var newSession: String?? = .none  // .some(x): the conversation's session becomes x
        switch event.type {
        case .created:
            let id = try checkCreated(event, key: key, currentSession: currentSession, state: state)
            if let superseded = event.supersedes { end(superseded, key: key, by: event, in: &state) }
            if state.sessions[id] == nil { state.sessions[id] = SessionRecord(key: key) }
            newSession = .some(id)
        case .resumed:
            guard let id = event.sessionId, id == currentSession, state.sessions[id]?.isLive == true else {
                throw InvariantViolation(seq: event.seq, .noResurrection,
                                         "resumed \(event.sessionId ?? "nothing") but '\(key)' has \(currentSession ?? "no session")")
            }
        case .errored:
            guard let id = event.sessionId else {
                throw InvariantViolation(seq: event.seq, .consistency, "errored without a session ID")
            }
            if let record = state.sessions[id], record.key != key {
                throw InvariantViolation(seq: event.seq, .consistency, "errored on '\(key)' ends session \(id) of '\(record.key)'")
            }
            // The same rule as decide: only an ID never seen before dies by being reported.
            let reportedDies = event.reportedSessionId.map { $0 != id && state.sessions[$0] == nil } ?? false
            end(id, key: key, by: event, in: &state)
            if reportedDies, let reported = event.reportedSessionId { end(reported, key: key, by: event, in: &state) }
            if currentSession == id { newSession = .some(nil) }
        case .cleared, .invalidatedOnBoot:
            guard event.sessionId == currentSession, event.type == .cleared || event.sessionId != nil else {
                throw InvariantViolation(seq: event.seq, .consistency,
                                         "\(event.type.name) \(event.sessionId ?? "nothing") but '\(key)' has \(currentSession ?? "no session")")
            }
            if let id = event.sessionId { end(id, key: key, by: event, in: &state) }
            newSession = .some(nil)
        case .ownerBooted:
            preconditionFailure("handled above")
        }
        update(&state.conversations[key, default: ConversationState(key: key)], with: event, session: newSession)
    }

    /// The checks of a created event; returns its session ID.
    private static func checkCreated(_ event: Event, key: String, currentSession: String?, state: LedgerState) throws(InvariantViolation) -> String {
        guard let id = event.sessionId else {
            throw InvariantViolation(seq: event.seq, .consistency, "created without a session ID")
        }
        if let record = state.sessions[id] {
            guard record.isLive else {
                throw InvariantViolation(seq: event.seq, .noResurrection,
                                         "session \(id) \(record.endDescription) at seq \(record.endedSeq) is made current again")
            }
            guard record.key == key else {
                throw InvariantViolation(seq: event.seq, .consistency, "session \(id) of '\(record.key)' is created on '\(key)'")
            }
        }
        if let epoch = event.epoch {
            guard let owner = event.owner else {
                throw InvariantViolation(seq: event.seq, .consistency, "created with an epoch but no owner")
            }
            let ownerEpoch = state.owners[owner]?.epoch ?? 0
            guard epoch == ownerEpoch else {
                throw InvariantViolation(seq: event.seq, .epochFencing, "created in epoch \(epoch) of '\(owner)' whose epoch is \(ownerEpoch)")
            }
        }
        let superseded = currentSession == id ? nil : currentSession
        guard event.supersedes == superseded else {
            throw InvariantViolation(seq: event.seq, .consistency,
                                     "created says it supersedes \(event.supersedes ?? "nothing") but '\(key)' had \(currentSession ?? "no session")")
        }
        return id
    }

    /// The conversation after a checked event, changed in place.
    private static func update(_ conversation: inout ConversationState, with event: Event, session: String??) {
        if case .some(let id) = session { conversation.sessionId = id }
        if event.type == .created {
            conversation.owner = event.owner
            conversation.epoch = event.epoch
            conversation.environment = event.environment
        }
        conversation.version = event.version
        if conversation.createdAt == 0 { conversation.createdAt = event.time }
        conversation.updatedAt = event.time
        conversation.lastSeq = event.seq
    }

    private static func applyBoot(_ event: Event, to state: inout LedgerState) throws(InvariantViolation) {
        guard event.key == nil, let name = event.owner, let epoch = event.epoch, epoch == event.version else {
            throw InvariantViolation(seq: event.seq, .consistency, "owner_booted needs an owner, an epoch equal to its version and no key")
        }
        let current = state.owners[name]?.epoch ?? 0
        guard epoch == current + 1 else {
            throw InvariantViolation(seq: event.seq, .fencedWrites, "owner '\(name)' moves from epoch \(current) to \(epoch)")
        }
        state.owners[name, default: OwnerState(name: name)].boot(epoch: epoch, environment: event.environment, at: event.time, seq: event.seq)
    }

    /// Marks `id` dead for ever; the first end is the one remembered.
    private static func end(_ id: String, key: String, by event: Event, in state: inout LedgerState) {
        state.sessions[id, default: SessionRecord(key: key)].end(at: event.seq, by: event.type)
    }
}

extension SessionRecord {
    /// Ends a live session; an ended one keeps its first end.
    mutating func end(at seq: UInt64, by type: EventType) {
        guard isLive else { return }
        endedSeq = seq
        endedBy = type
    }
}

extension OwnerState {
    mutating func boot(epoch: UInt64, environment: RuntimeEnvironment?, at time: Int64, seq: UInt64) {
        self.epoch = epoch
        self.environment = environment
        bootedAt = time
        lastSeq = seq
    }
}
