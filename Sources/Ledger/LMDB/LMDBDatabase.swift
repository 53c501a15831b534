import CLMDB

/// A named database inside an ``LMDBEnvironment``. The handle stays valid for the life of the
/// environment, so it is opened once and then used from any transaction.
public struct LMDBDatabase: Sendable, Hashable {
    /// LMDB's database flags, as lmdb.h defines them.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Several sorted values per key.
        public static let duplicateSort = Flags(rawValue: UInt32(MDB_DUPSORT))
        /// With ``duplicateSort``: all values of a key have the same size.
        public static let duplicateFixed = Flags(rawValue: UInt32(MDB_DUPFIXED))
    }

    let dbi: MDB_dbi
    /// The name it was opened with.
    public let name: String
    public let flags: Flags
}
