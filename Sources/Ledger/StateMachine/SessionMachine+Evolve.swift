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

    /// ``evolve(_:_:)`` in place.
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
        var conversation = state.conversation(key)
        guard event.version == conversation.version + 1 else {
            throw InvariantViolation(seq: event.seq, .fencedWrites,
                                     "'\(key)' moves from version \(conversation.version) to \(event.version)")
        }
        switch event.type {
        case .created:
            try applyCreated(event, &conversation, &state)
        case .resumed:
            guard let id = event.sessionId, id == conversation.sessionId, state.session(id)?.isLive == true else {
                throw InvariantViolation(seq: event.seq, .noResurrection,
                                         "resumed \(event.sessionId ?? "nothing") but '\(key)' has \(conversation.sessionId ?? "no session")")
            }
        case .errored:
            try applyErrored(event, &conversation, &state)
        case .cleared, .invalidatedOnBoot:
            guard event.sessionId == conversation.sessionId, event.type == .cleared || event.sessionId != nil else {
                throw InvariantViolation(seq: event.seq, .consistency,
                                         "\(event.type.name) \(event.sessionId ?? "nothing") but '\(key)' has \(conversation.sessionId ?? "no session")")
            }
            if let id = event.sessionId { end(id, key: key, by: event, in: &state) }
            conversation.sessionId = nil
        case .ownerBooted:
            preconditionFailure("handled above")
        }
        conversation.version = event.version
        if conversation.createdAt == 0 { conversation.createdAt = event.time }
        conversation.updatedAt = event.time
        conversation.lastSeq = event.seq
        state.conversations[key] = conversation
    }

    private static func applyCreated(_ event: Event, _ conversation: inout ConversationState, _ state: inout LedgerState) throws(InvariantViolation) {
        guard let id = event.sessionId else {
            throw InvariantViolation(seq: event.seq, .consistency, "created without a session ID")
        }
        if let record = state.session(id) {
            guard record.isLive else {
                throw InvariantViolation(seq: event.seq, .noResurrection,
                                         "session \(id) \(record.endDescription) at seq \(record.endedSeq) is made current again")
            }
            guard record.key == conversation.key else {
                throw InvariantViolation(seq: event.seq, .consistency, "session \(id) of '\(record.key)' is created on '\(conversation.key)'")
            }
        }
        if let epoch = event.epoch {
            guard let owner = event.owner else {
                throw InvariantViolation(seq: event.seq, .consistency, "created with an epoch but no owner")
            }
            let current = state.owner(owner).epoch
            guard epoch == current else {
                throw InvariantViolation(seq: event.seq, .epochFencing, "created in epoch \(epoch) of '\(owner)' whose epoch is \(current)")
            }
        }
        let superseded = conversation.sessionId == id ? nil : conversation.sessionId
        guard event.supersedes == superseded else {
            throw InvariantViolation(seq: event.seq, .consistency,
                                     "created says it supersedes \(event.supersedes ?? "nothing") but '\(conversation.key)' had \(conversation.sessionId ?? "no session")")
        }
        if let superseded { end(superseded, key: conversation.key, by: event, in: &state) }
        conversation.sessionId = id
        conversation.owner = event.owner
        conversation.epoch = event.epoch
        conversation.environment = event.environment
        if state.sessions[id] == nil { state.sessions[id] = SessionRecord(key: conversation.key) }
    }

    private static func applyErrored(_ event: Event, _ conversation: inout ConversationState, _ state: inout LedgerState) throws(InvariantViolation) {
        guard let id = event.sessionId else {
            throw InvariantViolation(seq: event.seq, .consistency, "errored without a session ID")
        }
        if let record = state.session(id), record.isLive, record.key != conversation.key {
            throw InvariantViolation(seq: event.seq, .consistency, "errored on '\(conversation.key)' ends session \(id) of '\(record.key)'")
        }
        end(id, key: conversation.key, by: event, in: &state)
        if conversation.sessionId == id { conversation.sessionId = nil }
        // The same rule as decide: only an ID never seen before dies by being reported.
        if let reported = event.reportedSessionId, reported != id, state.session(reported) == nil {
            end(reported, key: conversation.key, by: event, in: &state)
        }
    }

    private static func applyBoot(_ event: Event, to state: inout LedgerState) throws(InvariantViolation) {
        guard event.key == nil, let name = event.owner, let epoch = event.epoch, epoch == event.version else {
            throw InvariantViolation(seq: event.seq, .consistency, "owner_booted needs an owner, an epoch equal to its version and no key")
        }
        var owner = state.owner(name)
        guard epoch == owner.epoch + 1 else {
            throw InvariantViolation(seq: event.seq, .fencedWrites, "owner '\(name)' moves from epoch \(owner.epoch) to \(epoch)")
        }
        owner.epoch = epoch
        owner.environment = event.environment
        owner.bootedAt = event.time
        owner.lastSeq = event.seq
        state.owners[name] = owner
    }

    /// Marks `id` dead for ever; the first end is the one remembered.
    private static func end(_ id: String, key: String, by event: Event, in state: inout LedgerState) {
        var record = state.sessions[id] ?? SessionRecord(key: key)
        if record.isLive {
            record.endedSeq = event.seq
            record.endedBy = event.type
        }
        state.sessions[id] = record
    }
}
