/// A consistent view of the head state: overlays of the log's tail (newest first) over a read
/// transaction of the state environment. How a ``LedgerState`` slice is loaded before the state
/// machine runs, and what ``LedgerSnapshot`` reads head state through.
///
/// Only ever lent to closures: it holds a transaction handle that is valid only while the
/// closure that lent it runs, so it must not be kept past that.
struct HeadStateView {
    /// Newest first; each entry wins over everything after it and over the environment.
    let layers: [StateOverlay]
    /// A read transaction of the state environment, or nil when there is none (a read-only open
    /// of a ledger whose state environment was never written: the overlay is the whole fold).
    private let handle: OpaquePointer?
    private let layout: StateLayout?

    init(layers: [StateOverlay], handle: OpaquePointer?, layout: StateLayout?) {
        self.layers = layers
        self.handle = handle
        self.layout = layout
    }

    private func stored<R>(_ body: (borrowing LMDBTransaction, StateLayout) throws -> R?) throws -> R? {
        guard let handle, let layout else { return nil }
        return try body(LMDBTransaction(handle: handle, readOnly: true), layout)
    }

    func conversation(_ key: String) throws -> ConversationState? {
        for layer in layers { if let found = layer.state.conversations[key] { return found } }
        return try stored { txn, layout in
            guard let bytes = try StateLayout.withStateKey(key, { try txn.get(layout.conversations, key: $0) }) else { return nil }
            return try StateCodec.decodeConversation(key: key, bytes)
        }
    }

    func session(_ id: String) throws -> SessionRecord? {
        for layer in layers { if let found = layer.state.sessions[id] { return found } }
        return try stored { txn, layout in
            guard let bytes = try StateLayout.withNameKey(id, { try txn.get(layout.sessions, key: $0) }) else { return nil }
            return try StateCodec.decodeSession(bytes)
        }
    }

    func owner(_ name: String) throws -> OwnerState? {
        for layer in layers { if let found = layer.state.owners[name] { return found } }
        return try stored { txn, layout in
            guard let bytes = try txn.get(layout.owners, key: Array(name.utf8)) else { return nil }
            return try StateCodec.decodeOwner(name: name, bytes)
        }
    }

    /// Candidate keys of conversations with a current session owned by `owner` (nil: of every
    /// live conversation). Callers filter by the conversation they load: the stored live index
    /// may name a conversation an overlay has since ended or moved to another owner.
    func liveCandidates(owner: String?, newest: borrowing LedgerState = LedgerState()) throws -> [String] {
        var keys: [String] = []
        for conversations in [newest.conversations] + layers.map(\.state.conversations) {
            for (key, conversation) in conversations where conversation.isActive && (owner == nil || conversation.owner == owner) {
                keys.append(key)
            }
        }
        let prefix = owner.map { StateLayout.livePrefix(owner: $0) } ?? []
        keys += try stored { txn, layout in
            try txn.withCursor(layout.live) { cursor in
                var found: [String] = []
                var entry = prefix.isEmpty ? try cursor.first() : try cursor.seek(atLeast: prefix)
                while let current = entry, current.key.starts(with: prefix) {
                    if let key = StateLayout.liveEntryKey(current.key) { found.append(key) }
                    entry = try cursor.next()
                }
                return found
            }
        } ?? []
        return keys
    }

    /// Keys of conversations with a current session owned by `owner` (nil: by anyone), sorted.
    func liveKeys(owner: String?) throws -> [String] {
        var live: Set<String> = []
        for key in try liveCandidates(owner: owner) where !live.contains(key) {
            if let conversation = try conversation(key), conversation.isActive, owner == nil || conversation.owner == owner {
                live.insert(key)
            }
        }
        return live.sorted()
    }

    /// Seqs of a conversation's events from seq `from`, in order: the first `limit` of them.
    func seqs(forKey key: String, from: UInt64, limit: Int = .max) throws -> [UInt64] {
        guard limit > 0 else { return [] }
        let prefix = StateLayout.indexPrefix(key)
        var seqs: [UInt64] = try stored { txn, layout -> [UInt64]? in
            try txn.withCursor(layout.conversations) { cursor in
                var seqs: [UInt64] = []
                var entry = try cursor.seek(atLeast: prefix + LedgerLayout.seqKey(from))
                while seqs.count < limit, let current = entry, current.key.count == prefix.count + 8, current.key.starts(with: prefix) {
                    if let seq = LedgerLayout.seq(fromKey: UnsafeRawBufferPointer(rebasing: current.key[prefix.count...])) { seqs.append(seq) }
                    entry = try cursor.next()
                }
                return seqs
            }
        } ?? []
        // Oldest layer first: each layer's seqs follow those beneath it. The environment holds a
        // prefix of the log and the layers what came after (a layer being written back may
        // overlap the environment, hence `seq > last`), so a full page from the environment
        // already is the first `limit`.
        for layer in layers.reversed() where seqs.count < limit {
            let last: UInt64 = seqs.last ?? 0
            seqs += layer.seqs(forKey: key).lazy.filter { (seq: UInt64) in seq >= from && seq > last }.prefix(limit - seqs.count)
        }
        return seqs
    }

    /// Adds to `state` what a command is decided against, where `state` does not hold it yet:
    /// everything `needs` names, plus the record of every loaded conversation's current session
    /// (implied by the conversation, see ``LedgerState/hold(loaded:)``).
    ///
    /// Entities `state` already holds are taken as they are there: the writer's batch state
    /// holds what earlier commands of the batch read or changed, newer than the view.
    func load(_ needs: StateNeeds, into state: inout LedgerState) throws {
        var keys = needs.keys
        // Candidates that are no longer live load as they are: deciding filters by liveness and owner.
        if let owner = needs.liveOfOwner { keys += try liveCandidates(owner: owner, newest: state) }
        if needs.allLive { keys += try liveCandidates(owner: nil, newest: state) }
        for key in keys { try loadConversation(key, into: &state) }
        for id in needs.sessions { try loadSession(id, into: &state) }
        for name in needs.owners { try loadOwner(name, into: &state) }
    }

    /// ``load(_:into:)`` for a transition, without building its ``StateNeeds``: the writer
    /// does this once per command.
    func load(transitionOn key: String, _ request: TransitionRequest, into state: inout LedgerState) throws {
        try loadConversation(key, into: &state)
        if let id = request.sessionId { try loadSession(id, into: &state) }
        if let id = request.reportedSessionId { try loadSession(id, into: &state) }
        if let name = request.owner { try loadOwner(name, into: &state) }
    }

    /// A conversation `state` does not hold yet, with its current session's record
    /// (``LedgerState/hold(loaded:)``). One it holds came with that record, from here or from
    /// the command that changed it.
    private func loadConversation(_ key: String, into state: inout LedgerState) throws {
        if state.conversations[key] == nil, let found = try conversation(key) {
            state.hold(loaded: found)
        }
    }

    private func loadSession(_ id: String, into state: inout LedgerState) throws {
        if state.sessions[id] == nil, let found = try session(id) { state.sessions[id] = found }
    }

    private func loadOwner(_ name: String, into state: inout LedgerState) throws {
        if state.owners[name] == nil, let found = try owner(name) { state.owners[name] = found }
    }

    func forEachConversation(_ body: (ConversationState) throws -> Void) throws {
        // The conversations database also holds index entries; only the states are entities.
        let stateName = { (key: UnsafeRawBufferPointer) -> String? in
            if case .state(let name)? = StateLayout.conversationEntry(key) { name } else { nil }
        }
        try forEachEntity(\.conversations, in: \.conversations, named: stateName, decode: StateCodec.decodeConversation(key:_:)) { _, value in try body(value) }
    }

    /// Visits every session record: the stored ones in ID order, then those only the overlays hold.
    func forEachSession(_ body: (String, SessionRecord) throws -> Void) throws {
        try forEachEntity(\.sessions, in: \.sessions, decode: { _, bytes in try StateCodec.decodeSession(bytes) }, body)
    }

    /// Visits every owner: the stored ones in name order, then those only the overlays hold.
    func forEachOwner(_ body: (OwnerState) throws -> Void) throws {
        try forEachEntity(\.owners, in: \.owners, decode: StateCodec.decodeOwner(name:_:)) { _, value in try body(value) }
    }

    /// Visits one kind of entity: the stored entries of `database` (as the overlays have them),
    /// then those only the overlays hold. What was visited is tracked only when there are
    /// overlays (a verify after a clean shutdown has none).
    private func forEachEntity<Value>(_ table: KeyPath<LedgerState, [String: Value]>, in database: KeyPath<StateLayout, LMDBDatabase>,
                                      named name: (UnsafeRawBufferPointer) -> String? = { String(decoding: $0, as: UTF8.self) },
                                      decode: (String, UnsafeRawBufferPointer) throws -> Value,
                                      _ body: (String, Value) throws -> Void) throws {
        var visited: Set<String> = []
        _ = try stored { txn, layout -> Void? in
            try txn.withCursor(layout[keyPath: database]) { cursor in
                var entry = try cursor.first()
                while let (key, value) = entry {
                    if let name = name(key) {
                        if !layers.isEmpty { visited.insert(name) }
                        try body(name, try overlaid(table, name) ?? decode(name, value))
                    }
                    entry = try cursor.next()
                }
            }
            return nil
        }
        try forEachOnlyInLayers(table, skipping: visited, body)
    }

    private func overlaid<Value>(_ table: KeyPath<LedgerState, [String: Value]>, _ key: String) -> Value? {
        for layer in layers { if let found = layer.state[keyPath: table][key] { return found } }
        return nil
    }

    private func forEachOnlyInLayers<Value>(_ table: KeyPath<LedgerState, [String: Value]>, skipping stored: Set<String>,
                                            _ body: (String, Value) throws -> Void) throws {
        if layers.isEmpty { return }
        var seen = stored
        var entries: [(String, Value)] = []
        for layer in layers {
            for (key, value) in layer.state[keyPath: table] where !seen.contains(key) {
                seen.insert(key)
                entries.append((key, value))
            }
        }
        for (key, value) in entries.sorted(by: { $0.0 < $1.0 }) { try body(key, value) }
    }
}

/// The head state of a snapshot, made on first use: a read-only ledger folds the log's tail for
/// it, which reads of the log alone (replay, verify's chain check) should neither pay for nor
/// fail on.
final class SnapshotState {
    private var made: HeadStateView?
    private let make: () throws -> HeadStateView

    init(_ view: HeadStateView) {
        made = view
        make = { view }
    }

    init(lazy make: @escaping () throws -> HeadStateView) {
        self.make = make
    }

    func view() throws -> HeadStateView {
        if let made { return made }
        let view = try make()
        made = view
        return view
    }
}
