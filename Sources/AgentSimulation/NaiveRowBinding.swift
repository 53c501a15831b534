import Foundation
import GRDB
import Ledger

/// The way the incidents' projects kept sessions: one SQLite row per conversation, overwritten
/// with whatever the last turn produced. Its flaws are the incidents; each option reproduces the
/// code path one of the public reports describes.
public final class NaiveRowBinding: SessionBinding, @unchecked Sendable {
    public struct Flaws: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// The error branch saves the session ID the error result carried (Archon #1280, A).
        public static let persistErrorResultId = Flaws(rawValue: 1 << 0)
        /// The error branch clears the binding, then a few lines later saves the ID echoed in
        /// the error result (C).
        public static let clearThenSaveEcho = Flaws(rawValue: 1 << 1)
        /// The "retry without resume" fallback keeps resuming the stored ID (Phantom #25, B).
        public static let fallbackKeepsStaleId = Flaws(rawValue: 1 << 2)
        /// Every boot deletes every row, transcripts on a volume or not (G).
        public static let wipeOnBoot = Flaws(rawValue: 1 << 3)
    }

    public let name = "naive row"
    private let queue: DatabaseQueue
    private let flaws: Flaws

    /// - Parameter path: the SQLite file (it survives restarts: it is on the runtime's volume).
    public init(path: String, flaws: Flaws) throws {
        queue = try DatabaseQueue(path: path)
        self.flaws = flaws
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, sdk_session_id TEXT)")
        }
    }

    public func boot(owner: String, environment: RuntimeEnvironment) async throws {
        if flaws.contains(.wipeOnBoot) {
            try await queue.write { db in try db.execute(sql: "DELETE FROM sessions") }
        }
    }

    public func begin(_ key: String) async throws -> TurnTicket {
        TurnTicket(key: key, resume: try await current(key), version: 0)
    }

    public func succeeded(_ ticket: TurnTicket, sessionId: String) async throws {
        try await set(ticket.key, sessionId)
    }

    public func failed(_ ticket: TurnTicket, resultSessionId: String, reason: String) async throws {
        if flaws.contains(.persistErrorResultId) {
            try await set(ticket.key, resultSessionId)
        } else if flaws.contains(.clearThenSaveEcho) {
            try await set(ticket.key, nil)
            // ... later in the same handler, the ID from the result is saved "to keep continuity".
            try await set(ticket.key, resultSessionId)
        } else if flaws.contains(.fallbackKeepsStaleId) {
            // The fallback means to start fresh but keeps the stored ID: nothing changes.
        } else {
            try await set(ticket.key, nil)
        }
    }

    public func reset(_ key: String) async throws {
        try await set(key, nil)
    }

    public func current(_ key: String) async throws -> String? {
        try await queue.read { db in try String.fetchOne(db, sql: "SELECT sdk_session_id FROM sessions WHERE key = ?", arguments: [key]) }
    }

    private func set(_ key: String, _ id: String?) async throws {
        try await queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO sessions (key, sdk_session_id) VALUES (?, ?)", arguments: [key, id])
        }
    }
}
