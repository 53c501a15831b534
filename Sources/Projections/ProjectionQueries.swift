import Foundation
import GRDB
import Ledger

/// Which conversations to list.
public enum SessionStateFilter: String, Sendable, CaseIterable {
    case active, none
}

/// One page of conversations, and the cursor for the next page (nil on the last).
public struct SessionPage: Sendable {
    public var sessions: [ConversationState]
    public var next: String?
}

/// The read queries of the projection, lent to a closure by ``Projection/read(_:)`` over one
/// consistent SQLite read transaction. Every row read is checked against its digest.
/// Do not keep it past the closure (it is copyable only to avoid a Swift 6.3.1 optimizer crash
/// on borrowed non-copyable closure parameters).
public struct ProjectionQueries {
    let db: Database

    /// The current state of a conversation; an unknown key is state none at version 0.
    public func session(_ key: String) throws -> ConversationState {
        try ConversationRows.find(key, in: db) ?? ConversationState(key: key)
    }

    public func owner(_ name: String) throws -> OwnerState {
        try OwnerRows.find(name, in: db) ?? OwnerState(name: name)
    }

    public func sessionRecord(_ id: String) throws -> SessionRecord? {
        try SessionIdRows.find(id, in: db)
    }

    public func checkpoint() throws -> Checkpoint {
        try CheckpointRow.read(db)
    }

    /// Events of an owner's sessions and boots, in seq order.
    public func history(owner: String, after: UInt64 = 0, limit: Int = 1_000) throws -> [LoggedEvent] {
        try events(where: "owner = ?", bind: { $0.bind(1, owner); return 2 }, after: after, limit: limit)
    }

    /// Events with `since <= time < until` (microseconds since the Unix epoch), in order.
    ///
    /// Seq order is time order (the projector refuses an event earlier than its predecessor),
    /// so the range is a seq range, found by binary search over the rowid.
    public func events(since: Int64, until: Int64 = .max, after: UInt64 = 0, limit: Int = 1_000) throws -> [LoggedEvent] {
        let first = try firstSeq(atOrAfter: since)
        let end = until == .max ? UInt64.max >> 1 : try firstSeq(atOrAfter: until)
        return try events(where: "seq >= ? AND seq < ?", bind: { $0.bind(1, first); $0.bind(2, end); return 3 },
                          after: after, limit: limit)
    }

    /// The smallest seq whose event happened at or after `time` (one past the last seq if none).
    func firstSeq(atOrAfter time: Int64) throws -> UInt64 {
        let timeAt = try SQLiteAccess(db, "SELECT time FROM transitions WHERE seq = ?")
        var low: UInt64 = 1
        var high = try checkpoint().seq + 1
        while low < high {
            let middle = low + (high - low) / 2
            timeAt.begin()
            timeAt.bind(1, middle)
            guard try timeAt.step(), let found = timeAt.int64(0) else {
                throw ProjectionError(.damaged, "transitions row \(middle) is missing")
            }
            timeAt.reset()
            if found < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func events(where condition: String, bind: (SQLiteAccess) -> Int32, after: UInt64, limit: Int) throws -> [LoggedEvent] {
        let sql = "SELECT \(TransitionRows.columns) FROM transitions WHERE \(condition) AND seq > ? ORDER BY seq LIMIT ?"
        let access = try SQLiteAccess(db, sql)
        defer { access.reset() }
        let next = bind(access)
        access.bind(next, after)
        access.bind(next + 1, Int64(max(0, limit)))
        var result: [LoggedEvent] = []
        while try access.step() { result.append(try TransitionRows.decode(access)) }
        return result
    }

    /// Conversations in key order, optionally of one owner and/or in one state.
    ///
    /// - Parameters:
    ///   - after: the cursor from the previous page (nil for the first page).
    ///   - limit: page size, 1...1000.
    public func sessions(owner: String? = nil, state: SessionStateFilter? = nil, after: String? = nil, limit: Int = 100) throws -> SessionPage {
        var conditions: [String] = []
        if owner != nil { conditions.append("owner = ?") }
        if state != nil { conditions.append("state = ?") }
        conditions.append("key > ?")
        let sql = "SELECT \(ConversationRows.columns) FROM sessions WHERE \(conditions.joined(separator: " AND ")) ORDER BY key LIMIT ?"
        let access = try SQLiteAccess(db, sql)
        defer { access.reset() }
        var index: Int32 = 1
        if let owner { access.bind(index, owner); index += 1 }
        if let state { access.bind(index, state.rawValue); index += 1 }
        access.bind(index, after.flatMap(Self.decodeCursor) ?? "")
        let pageSize = min(max(limit, 1), 1_000)
        access.bind(index + 1, Int64(pageSize + 1))
        var rows: [ConversationState] = []
        while try access.step() { rows.append(try ConversationRows.decode(access)) }
        var next: String?
        if rows.count > pageSize {
            rows.removeLast()
            next = Self.encodeCursor(rows.last!.key)
        }
        return SessionPage(sessions: rows, next: next)
    }

    /// Cursors are the last key of a page, base64url-encoded so they pass through URLs untouched.
    static func encodeCursor(_ key: String) -> String {
        Data(key.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decodeCursor(_ cursor: String) -> String? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).flatMap { String(data: $0, encoding: .utf8) }
    }

    /// Checks a cursor supplied by a client; nil when it is not one this projection issued.
    public static func isValidCursor(_ cursor: String) -> Bool {
        decodeCursor(cursor) != nil
    }

    /// Number of conversations, events, session IDs and owners in the projection.
    public func counts() throws -> (conversations: Int, events: Int, sessionIds: Int, owners: Int) {
        (try Int.fetchOne(db, sql: "SELECT count(*) FROM sessions") ?? 0,
         try Int.fetchOne(db, sql: "SELECT count(*) FROM transitions") ?? 0,
         try Int.fetchOne(db, sql: "SELECT count(*) FROM session_ids") ?? 0,
         try Int.fetchOne(db, sql: "SELECT count(*) FROM owners") ?? 0)
    }
}
