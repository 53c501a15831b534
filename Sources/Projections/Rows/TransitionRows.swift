import GRDB
import Ledger

/// The `transitions` table: one row per event. Its `checksum` column is the CRC32C the log
/// stores for the record, so re-encoding a row's fields must give back that same checksum.
enum TransitionRows {
    static let columns = """
        seq, key, version, type, session_id, reported_session_id, supersedes, owner, epoch, \
        env_host, env_volume, env_cwd, env_provider, reason, actor_uid, actor_gid, actor_pid, time, hash, checksum
        """
    static let insertSQL = "INSERT INTO transitions (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    static func insert(_ event: Event, hash: ChainHash, checksum: UInt32, with access: SQLiteAccess) throws {
        access.begin()
        access.bind(1, event.seq)
        access.bind(2, event.key)
        access.bind(3, event.version)
        access.bind(4, event.type.name)
        access.bind(5, event.sessionId)
        access.bind(6, event.reportedSessionId)
        access.bind(7, event.supersedes)
        access.bind(8, event.owner)
        access.bind(9, event.epoch)
        access.bind(10, environment: event.environment)
        access.bind(14, event.reason)
        access.bind(15, event.actor.map { Int64($0.uid) })
        access.bind(16, event.actor.map { Int64($0.gid) })
        access.bind(17, event.actor.map { Int64($0.pid) })
        access.bind(18, event.time)
        hash.withBytes { access.bind(19, blob: $0) }
        access.bind(20, Int64(checksum))
        try access.run()
    }

    /// Decodes the row under the cursor (columns in ``columns`` order) and checks that its
    /// fields still encode to the record the log holds.
    static func decode(_ access: SQLiteAccess) throws -> LoggedEvent {
        let seq = access.uint64(0) ?? 0
        guard let typeName = access.string(3), let type = EventType(name: typeName),
              let hashBytes = access.blob(18), let hash = ChainHash(bytes: hashBytes) else {
            throw ProjectionError(.damaged, "transitions row \(seq) has an unknown type or a malformed hash")
        }
        var actor: ActorIdentity?
        if let uid = access.int64(14), let gid = access.int64(15), let pid = access.int64(16),
           let uid = UInt32(exactly: uid), let gid = UInt32(exactly: gid), let pid = Int32(exactly: pid) {
            actor = ActorIdentity(uid: uid, gid: gid, pid: pid)
        }
        let event = Event(seq: seq, key: access.string(1), version: access.uint64(2) ?? 0, type: type,
                          sessionId: access.string(4), reportedSessionId: access.string(5), supersedes: access.string(6),
                          owner: access.string(7), epoch: access.uint64(8), environment: access.environment(9),
                          reason: access.string(13), actor: actor, time: access.int64(17) ?? 0)
        guard access.int64(19) == Int64(CRC32C.checksum(EventCodec.encode(event))) else {
            throw ProjectionError(.damaged, "transitions row \(seq) does not match the log's checksum for that event (edited outside ledgerd?)")
        }
        return LoggedEvent(event: event, hash: hash)
    }
}
