/// Head state that changed after the state environment's applied position: the newest value of
/// every conversation, session record and owner the log's tail changed, and the tail's seqs per
/// conversation. Looked up before the state environment; written back to it in bulk.
///
/// A value type that is only ever replaced whole or mutated by its single owner (the ledger's
/// writer), so readers can hold a copy without locks.
struct StateOverlay: Sendable {
    /// The newest value of every entity the tail changed.
    var state = LedgerState()
    /// Every keyed event in the overlay, in log order: its conversation, its seq, and the index
    /// in this list of the same conversation's event before it (-1 for its first here).
    /// Appended per event on the writer's commit path, where a dictionary of arrays cost a hash
    /// and often an allocation per event; the links cost neither.
    var keyedSeqs: [(key: String, seq: UInt64, previous: Int)] = []
    /// Where each conversation's newest event is in ``keyedSeqs``: a history read follows the
    /// links back from there, in time proportional to the conversation's events held here,
    /// instead of scanning every held event (up to 65,536 by default) on an event loop.
    private(set) var lastIndexByKey: [String: Int] = [:]
    /// The log position this overlay (over the state it sits on) reflects.
    var position: AppliedPosition
    /// Events folded into the overlay.
    var events = 0

    init(position: AppliedPosition) {
        self.position = position
    }

    var isEmpty: Bool { events == 0 }

    /// Takes in the changes of appended events: `changed` holds each entity as the events left it.
    mutating func record(_ changed: LedgerState, events appended: some Sequence<Event>, through position: AppliedPosition) {
        state.take(changed)
        for event in appended {
            events += 1
            if let key = event.key { appendKeyed(key, event.seq) }
        }
        self.position = position
    }

    private mutating func appendKeyed(_ key: String, _ seq: UInt64) {
        let previous = lastIndexByKey.updateValue(keyedSeqs.count, forKey: key) ?? -1
        keyedSeqs.append((key, seq, previous))
    }

    /// Seqs of the events of conversation `key` in the overlay, in order.
    func seqs(forKey key: String) -> [UInt64] {
        guard var index = lastIndexByKey[key] else { return [] }
        var seqs: [UInt64] = []
        while index >= 0 {
            seqs.append(keyedSeqs[index].seq)
            index = keyedSeqs[index].previous
        }
        return seqs.reversed()
    }

    /// The seqs of ``keyedSeqs`` by conversation, each in order.
    func seqsByKey() -> [String: [UInt64]] {
        var byKey: [String: [UInt64]] = [:]
        for entry in keyedSeqs { byKey[entry.key, default: []].append(entry.seq) }
        return byKey
    }

    /// This overlay with `newer` laid over it (for a write-back that retries after a failure).
    func merging(_ newer: StateOverlay) -> StateOverlay {
        var merged = self
        merged.state.take(newer.state)
        for entry in newer.keyedSeqs { merged.appendKeyed(entry.key, entry.seq) }
        merged.position = newer.position
        merged.events += newer.events
        return merged
    }
}

extension LedgerState {
    /// Lays over `self` every entity of `after` that differs from `before`: what a command of
    /// several events (a boot's invalidations), folded into a copy of the batch's state, changed.
    mutating func takeChanges(of after: LedgerState, since before: LedgerState) {
        for (key, conversation) in after.conversations where before.conversations[key] != conversation { conversations[key] = conversation }
        for (id, record) in after.sessions where before.sessions[id] != record { sessions[id] = record }
        for (name, owner) in after.owners where before.owners[name] != owner { owners[name] = owner }
    }
}
