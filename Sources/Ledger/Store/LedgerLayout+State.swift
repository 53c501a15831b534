/// Reading and writing the head state (conversations, their event index, session records,
/// owners, the live index) inside a transaction: how a ``LedgerState`` slice is loaded before the
/// state machine runs and written back after.
extension LedgerLayout {
    func conversation(_ key: String, in txn: borrowing LMDBTransaction) throws -> ConversationState? {
        guard let bytes = try txn.get(conversations, key: LedgerLayout.stateKey(key)) else { return nil }
        return try StateCodec.decodeConversation(key: key, bytes)
    }

    func session(_ id: String, in txn: borrowing LMDBTransaction) throws -> SessionRecord? {
        guard let bytes = try txn.get(sessions, key: Array(id.utf8)) else { return nil }
        return try StateCodec.decodeSession(bytes)
    }

    func owner(_ name: String, in txn: borrowing LMDBTransaction) throws -> OwnerState? {
        guard let bytes = try txn.get(owners, key: Array(name.utf8)) else { return nil }
        return try StateCodec.decodeOwner(name: name, bytes)
    }

    func head(in txn: borrowing LMDBTransaction) throws -> LedgerHead {
        guard let bytes = try txn.get(meta, key: LedgerLayout.headKey) else { return .empty }
        return try LedgerHead.decode(bytes)
    }

    /// Keys of conversations with a current session owned by `owner` (candidates: callers filter
    /// by the loaded conversation's owner); with `owner` nil, of every live conversation.
    func liveKeys(owner: String?, in txn: borrowing LMDBTransaction) throws -> [String] {
        let prefix = owner.map { LedgerLayout.livePrefix(owner: $0) } ?? []
        return try txn.withCursor(live) { cursor in
            var keys: [String] = []
            var entry = prefix.isEmpty ? try cursor.first() : try cursor.seek(atLeast: prefix)
            while let current = entry, current.key.starts(with: prefix) {
                if let key = LedgerLayout.liveEntryKey(current.key) { keys.append(key) }
                entry = try cursor.next()
            }
            return keys
        }
    }

    /// Seqs of a conversation's events from seq `from`, in order.
    func seqs(forKey key: String, from: UInt64, in txn: borrowing LMDBTransaction) throws -> [UInt64] {
        let prefix = LedgerLayout.indexPrefix(key)
        return try txn.withCursor(conversations) { cursor in
            var seqs: [UInt64] = []
            var entry = try cursor.seek(atLeast: prefix + LedgerLayout.seqKey(from))
            while let current = entry, current.key.count == prefix.count + 8, current.key.starts(with: prefix) {
                if let seq = LedgerLayout.seq(fromKey: UnsafeRawBufferPointer(rebasing: current.key[prefix.count...])) { seqs.append(seq) }
                entry = try cursor.next()
            }
            return seqs
        }
    }

    /// Records an appended event in its conversation's index.
    func index(_ event: Event, in txn: borrowing LMDBTransaction) throws {
        guard let key = event.key else { return }
        try txn.put(conversations, key: LedgerLayout.indexKey(key, event.seq), value: [])
    }

    /// Loads everything `needs` names, plus the record of every loaded conversation's session.
    func loadSlice(_ needs: StateNeeds, in txn: borrowing LMDBTransaction) throws -> LedgerState {
        var state = LedgerState()
        var keys = needs.keys
        if let owner = needs.liveOfOwner { keys += try liveKeys(owner: owner, in: txn) }
        if needs.allLive { keys += try liveKeys(owner: nil, in: txn) }
        for key in keys where state.conversations[key] == nil {
            if let conversation = try conversation(key, in: txn) { state.conversations[key] = conversation }
        }
        let ids = needs.sessions + state.conversations.values.compactMap(\.sessionId)
        for id in ids where state.sessions[id] == nil {
            if let record = try session(id, in: txn) { state.sessions[id] = record }
        }
        for name in needs.owners where state.owners[name] == nil {
            if let owner = try owner(name, in: txn) { state.owners[name] = owner }
        }
        return state
    }

    /// Writes back what changed between `before` and `after`, keeping the live index in step.
    func saveChanges(from before: LedgerState, to after: LedgerState, in txn: borrowing LMDBTransaction, recordingInto changed: inout LedgerState) throws {
        for (key, conversation) in after.conversations where before.conversations[key] != conversation {
            changed.conversations[key] = conversation
            try txn.put(conversations, key: LedgerLayout.stateKey(key), value: StateCodec.encode(conversation))
            let old = before.conversations[key]
            let wasLive = old?.isActive == true ? LedgerLayout.liveKey(owner: old?.owner, key: key) : nil
            let isLive = conversation.isActive ? LedgerLayout.liveKey(owner: conversation.owner, key: key) : nil
            if wasLive != isLive {
                if let wasLive { try txn.delete(live, key: wasLive) }
                if let isLive { try txn.put(live, key: isLive, value: []) }
            }
        }
        for (id, record) in after.sessions where before.sessions[id] != record {
            changed.sessions[id] = record
            try txn.put(sessions, key: Array(id.utf8), value: StateCodec.encode(record))
        }
        for (name, owner) in after.owners where before.owners[name] != owner {
            changed.owners[name] = owner
            try txn.put(owners, key: Array(name.utf8), value: StateCodec.encode(owner))
        }
    }
}
