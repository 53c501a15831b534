/// The entities one event names, as they were before it was folded: enough to tell what
/// ``SessionMachine/apply(_:to:)`` changed without comparing whole states.
///
/// Folding an event changes only entities it names: its conversation (`key`), the session
/// records of `sessionId`, `supersedes` and `reportedSessionId`, and its owner. A keyed event
/// always moves its conversation's version, so the conversation is taken as changed without a
/// comparison; the session records and the owner are compared with what they were, since most
/// events name records they leave alone (a resume names its live session, a created event its
/// owner).
///
/// The writer decides a batch over one state that every command changes in place, and hands
/// the changes on (``AppendResult/changed``); this is how it knows them. So do an import and
/// the fold of the log's tail at an open (``LedgerState/fold(_:recordingChangesIn:)``).
struct EventFootprint {
    private let sessionId: SessionRecord?
    private let supersedes: SessionRecord?
    private let reportedSessionId: SessionRecord?
    private let owner: OwnerState?

    /// Takes the footprint of `event` in `state` before the event is folded into it.
    init(of event: Event, before state: LedgerState) {
        sessionId = event.sessionId.flatMap { state.sessions[$0] }
        supersedes = event.supersedes.flatMap { state.sessions[$0] }
        reportedSessionId = event.reportedSessionId.flatMap { state.sessions[$0] }
        owner = event.owner.flatMap { state.owners[$0] }
    }

    /// Copies into `changed` every entity `event` named that differs in `state` (the state after
    /// the event) from what it was.
    func recordChanges(of event: Event, in state: LedgerState, into changed: inout LedgerState) {
        if let key = event.key, let conversation = state.conversations[key] {
            changed.conversations[key] = conversation
        }
        Self.recordChange(of: event.sessionId, was: sessionId, in: state, into: &changed)
        Self.recordChange(of: event.supersedes, was: supersedes, in: state, into: &changed)
        Self.recordChange(of: event.reportedSessionId, was: reportedSessionId, in: state, into: &changed)
        if let name = event.owner, let after = state.owners[name], after != owner {
            changed.owners[name] = after
        }
    }

    private static func recordChange(of id: String?, was before: SessionRecord?, in state: LedgerState, into changed: inout LedgerState) {
        if let id, let after = state.sessions[id], after != before {
            changed.sessions[id] = after
        }
    }
}

extension LedgerState {
    /// Folds `event` into this state in place (``SessionMachine/apply(_:to:)``: nothing changes
    /// when it throws) and copies into `changed` what it changed.
    mutating func fold(_ event: Event, recordingChangesIn changed: inout LedgerState) throws(InvariantViolation) {
        let footprint = EventFootprint(of: event, before: self)
        try SessionMachine.apply(event, to: &self)
        footprint.recordChanges(of: event, in: self, into: &changed)
    }
}
