/// Reading and writing the head state (conversations, session records, owners, the live index)
/// inside a transaction: how a ``LedgerState`` slice is loaded before the state machine runs
/// and written back after.
extension LedgerLayout {
    func conversation(_ key: String, in txn: borrowing LMDBTransaction) throws -> ConversationState? {
        guard let bytes = try txn.get(conversations, key: Array(key.utf8)) else { return nil }
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

    /// Keys of conversations with a current session owned by `owner`; with `owner` nil, of all.
    func liveKeys(owner: String?, in txn: borrowing LMDBTransaction) throws -> [String] {
        let indexKey = owner.map { LedgerLayout.liveKey(owner: $0) }
        return try txn.withCursor(live) { cursor in
            var keys: [String] = []
            var entry: LMDBCursor.Entry?
            if let indexKey {
                entry = try cursor.seek(exactly: indexKey)
            } else {
                entry = try cursor.first()
            }
            while let current = entry {
                keys.append(String(decoding: current.value, as: UTF8.self))
                if indexKey == nil {
                    entry = try cursor.next()
                } else {
                    entry = try cursor.nextDuplicate()
                }
            }
            return keys
        }
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
    func saveChanges(from before: LedgerState, to after: LedgerState, in txn: borrowing LMDBTransaction) throws {
        for (key, conversation) in after.conversations where before.conversations[key] != conversation {
            let keyBytes = Array(key.utf8)
            try txn.put(conversations, key: keyBytes, value: StateCodec.encode(conversation))
            let old = before.conversations[key]
            let wasLive = old?.isActive == true ? LedgerLayout.liveKey(owner: old?.owner) : nil
            let isLive = conversation.isActive ? LedgerLayout.liveKey(owner: conversation.owner) : nil
            if wasLive != isLive {
                if let wasLive { try txn.delete(live, key: wasLive, value: keyBytes) }
                if let isLive { try txn.put(live, key: isLive, value: keyBytes) }
            }
        }
        for (id, record) in after.sessions where before.sessions[id] != record {
            try txn.put(sessions, key: Array(id.utf8), value: StateCodec.encode(record))
        }
        for (name, owner) in after.owners where before.owners[name] != owner {
            try txn.put(owners, key: Array(name.utf8), value: StateCodec.encode(owner))
        }
    }
}
