import GRDB
import Ledger

/// The `owners` table: each owner's current epoch and latest boot.
enum OwnerRows {
    static let columns = "owner, epoch, env_host, env_volume, env_cwd, env_provider, booted_at, last_seq, digest"
    static let upsertSQL = "INSERT OR REPLACE INTO owners (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    static let selectSQL = "SELECT \(columns) FROM owners WHERE owner = ?"

    static func upsert(_ owner: OwnerState, in db: Database) throws {
        try upsert(owner, with: SQLiteAccess(db, upsertSQL))
    }

    static func upsert(_ owner: OwnerState, with access: SQLiteAccess) throws {
        access.begin()
        access.bind(1, owner.name)
        access.bind(2, owner.epoch)
        access.bind(3, environment: owner.environment)
        access.bind(7, owner.bootedAt)
        access.bind(8, owner.lastSeq)
        access.bind(9, RowDigest.of(owner))
        try access.run()
    }

    static func find(_ name: String, in db: Database) throws -> OwnerState? {
        try find(name, with: SQLiteAccess(db, selectSQL))
    }

    static func find(_ name: String, with access: SQLiteAccess) throws -> OwnerState? {
        access.begin()
        defer { access.reset() }
        access.bind(1, name)
        guard try access.step() else { return nil }
        return try decode(access)
    }

    static func decode(_ access: SQLiteAccess) throws -> OwnerState {
        let owner = OwnerState(name: access.string(0) ?? "", epoch: access.uint64(1) ?? 0, environment: access.environment(2),
                               bootedAt: access.int64(6) ?? 0, lastSeq: access.uint64(7) ?? 0)
        guard access.int64(8) == RowDigest.of(owner) else {
            throw ProjectionError(.damaged, "owners row '\(owner.name)' does not match its digest (edited outside ledgerd?)")
        }
        return owner
    }
}
