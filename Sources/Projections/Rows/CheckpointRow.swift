import GRDB
import Ledger

/// How far the projection has folded the log: the last applied seq, the chain hash there, and
/// that event's time (the next may not be earlier).
public struct Checkpoint: Sendable, Hashable, CustomStringConvertible {
    public var seq: UInt64
    public var hash: ChainHash
    public var time: Int64

    public static let empty = Checkpoint(seq: 0, hash: .genesis, time: .min)

    public init(seq: UInt64, hash: ChainHash, time: Int64 = .min) {
        self.seq = seq
        self.hash = hash
        self.time = time
    }

    public var description: String { "seq \(seq) (\(hash.hex.prefix(12)))" }
}

/// The single row of the `checkpoint` table.
enum CheckpointRow {
    static func read(_ db: Database) throws -> Checkpoint {
        let access = try SQLiteAccess(db, "SELECT seq, hash, time FROM checkpoint WHERE id = 1")
        defer { access.reset() }
        guard try access.step(), let seq = access.uint64(0), let bytes = access.blob(1), let hash = ChainHash(bytes: bytes),
              let time = access.int64(2) else {
            throw ProjectionError(.damaged, "the checkpoint row is missing or malformed")
        }
        return Checkpoint(seq: seq, hash: hash, time: time)
    }

    static func write(_ checkpoint: Checkpoint, in db: Database) throws {
        let access = try SQLiteAccess(db, "UPDATE checkpoint SET seq = ?, hash = ?, time = ? WHERE id = 1")
        access.bind(1, checkpoint.seq)
        checkpoint.hash.withBytes { access.bind(2, blob: $0) }
        access.bind(3, checkpoint.time)
        try access.run()
        guard db.changesCount == 1 else { throw ProjectionError(.damaged, "the checkpoint row is missing") }
    }
}
