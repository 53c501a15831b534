import GRDB
import Ledger

/// How far the projection has folded the log: the last applied seq and the chain hash there.
public struct Checkpoint: Sendable, Hashable, CustomStringConvertible {
    public var seq: UInt64
    public var hash: ChainHash

    public static let empty = Checkpoint(seq: 0, hash: .genesis)

    public init(seq: UInt64, hash: ChainHash) {
        self.seq = seq
        self.hash = hash
    }

    public var description: String { "seq \(seq) (\(hash.hex.prefix(12)))" }
}

/// The single row of the `checkpoint` table.
enum CheckpointRow {
    static func read(_ db: Database) throws -> Checkpoint {
        let access = SQLiteAccess(try db.cachedStatement(sql: "SELECT seq, hash FROM checkpoint WHERE id = 1"))
        defer { access.reset() }
        guard try access.step(), let seq = access.uint64(0), let bytes = access.blob(1), let hash = ChainHash(bytes: bytes) else {
            throw ProjectionError(.damaged, "the checkpoint row is missing or malformed")
        }
        return Checkpoint(seq: seq, hash: hash)
    }

    static func write(_ checkpoint: Checkpoint, in db: Database) throws {
        let access = SQLiteAccess(try db.cachedStatement(sql: "UPDATE checkpoint SET seq = ?, hash = ? WHERE id = 1"))
        access.bind(1, checkpoint.seq)
        checkpoint.hash.withBytes { access.bind(2, blob: $0) }
        try access.run()
        guard db.changesCount == 1 else { throw ProjectionError(.damaged, "the checkpoint row is missing") }
    }
}
