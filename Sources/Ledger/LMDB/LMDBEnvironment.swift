import CLMDB
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How to open an ``LMDBEnvironment``.
public struct LMDBOptions: Sendable {
    /// Open for reading only (`MDB_RDONLY`): safe beside a running writer in another process.
    public var readOnly: Bool = false
    /// The map size to start with, in bytes. The map grows by ``growthFactor`` whenever a
    /// write finds it full, so this is a starting point, not a limit.
    public var initialMapSize: Int = 1 << 30
    /// Multiplier applied to the map size when a write transaction hits `MDB_MAP_FULL`.
    public var growthFactor: Int = 2
    /// Reader slots in the lock file (LMDB's default is 126).
    public var maxReaders: UInt32 = 512
    /// Named databases the environment may hold.
    public var maxDatabases: UInt32 = 16
    /// File mode of `data.mdb` and `lock.mdb` when they are created.
    public var fileMode: mode_t = 0o600
    /// Whether a page fault on the map may read the file around the faulting page (the kernel's
    /// read-around, up to the device's `read_ahead_kb`). False sets `MDB_NORDAHEAD`
    /// (`MADV_RANDOM` on the map): a fault reads its own page only. For environments read at
    /// random, where the neighbours are seldom wanted and the read-around makes each cold fault
    /// wait for megabytes.
    public var readAhead: Bool = true

    public init() {}
}

/// One LMDB environment (`MDB_env`): a directory holding `data.mdb` and `lock.mdb`.
///
/// LMDB forbids opening the same environment twice in one process (closing either handle drops
/// the POSIX locks of both), so environments are shared through a process-wide registry:
/// ``open(directory:options:)`` hands out the existing instance for a path that is already open.
///
/// Transactions are lent to closures and never escape them: a read transaction is aborted when
/// its closure returns, a write transaction is committed when its closure returns and aborted
/// when it throws. Writes are serialised inside the process (one write transaction at a time,
/// begun and finished on the calling thread, as lmdb.h requires).
///
/// `@unchecked Sendable`: the handle is only used through LMDB calls that are thread-safe for an
/// environment opened with `MDB_NOTLS`; map resizing, the one operation that is not, holds
/// ``transactionLock`` exclusively so no transaction of this process is active meanwhile.
public final class LMDBEnvironment: @unchecked Sendable {
    let handle: OpaquePointer
    /// The directory, as given when first opened.
    public let path: String
    public let isReadOnly: Bool
    private let registryKey: String
    private let growthFactor: Int
    /// Held shared by every transaction, exclusively while the map size changes.
    private let transactionLock = ReadersWriterLock()
    /// Serialises write transactions of this process.
    private let writerLock = PlainLock()
    /// Named databases opened so far, by name.
    private let databases = Mutex<[String: LMDBDatabase]>([:])

    private init(handle: OpaquePointer, path: String, registryKey: String, readOnly: Bool, growthFactor: Int) {
        self.handle = handle
        self.path = path
        self.registryKey = registryKey
        self.isReadOnly = readOnly
        self.growthFactor = max(2, growthFactor)
    }

    deinit {
        // Close under the registry lock so that no new handle for this path can be opened
        // between the moment this one becomes unreachable and the moment it is closed.
        EnvironmentRegistry.shared.withLock { entries in
            mdb_env_close(handle)
            entries[registryKey] = nil
        }
    }

    /// Opens (or shares the already open) environment in `directory`, creating it if needed.
    ///
    /// Runs `mdb_reader_check` to clear reader slots left by dead processes.
    ///
    /// - Parameters:
    ///   - directory: an existing directory for `data.mdb` and `lock.mdb`.
    ///   - options: map size, read-only mode, limits.
    /// - Returns: the environment, shared with any other opener of the same directory.
    /// - Throws: ``LMDBError`` naming the failing call; `EACCES`/`ENOENT` when the directory is
    ///   unusable, `MDB_INVALID` when the files are not an LMDB environment, or
    ///   `MDB_INCOMPATIBLE` when a read-write open finds a read-only handle already open.
    public static func open(directory: String, options: LMDBOptions = LMDBOptions()) throws(LMDBError) -> LMDBEnvironment {
        guard let resolved = realpath(directory, nil) else {
            throw LMDBError(code: errno, operation: "realpath \(directory)")
        }
        let key = String(cString: resolved)
        free(resolved)

        while true {
            let outcome = EnvironmentRegistry.shared.withLock { (entries) -> Result<LMDBEnvironment, LMDBError>? in
                if let entry = entries[key] {
                    guard let live = entry.environment else {
                        return nil  // being closed by its deinit right now: wait and look again
                    }
                    if live.isReadOnly && !options.readOnly {
                        return .failure(LMDBError(code: MDB_INCOMPATIBLE, operation: "open \(directory) read-write: already open read-only in this process"))
                    }
                    return .success(live)
                }
                do throws(LMDBError) {
                    let environment = try openNew(directory: directory, key: key, options: options)
                    entries[key] = WeakEnvironment(environment: environment)
                    return .success(environment)
                } catch {
                    return .failure(error)
                }
            }
            switch outcome {
            case .some(.success(let environment)): return environment
            case .some(.failure(let error)): throw error
            case .none: sched_yield()
            }
        }
    }

    private static func openNew(directory: String, key: String, options: LMDBOptions) throws(LMDBError) -> LMDBEnvironment {
        var raw: OpaquePointer?
        try check(mdb_env_create(&raw), "mdb_env_create")
        guard let env = raw else { throw LMDBError(code: ENOMEM, operation: "mdb_env_create") }
        do {
            try check(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)), "mdb_env_set_maxdbs")
            if !options.readOnly {
                try check(mdb_env_set_mapsize(env, options.initialMapSize), "mdb_env_set_mapsize")
            }
            // NOTLS: read transactions are not tied to threads (async code hops threads).
            // Durable by default: no NOSYNC, no NOMETASYNC, no WRITEMAP.
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if !options.readAhead { flags |= UInt32(MDB_NORDAHEAD) }
            try check(mdb_env_open(env, directory, flags, options.fileMode), "mdb_env_open \(directory)")
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead), "mdb_reader_check \(directory)")
        } catch {
            // lmdb.h: the handle must be closed even when mdb_env_open failed.
            mdb_env_close(env)
            throw error
        }
        return LMDBEnvironment(handle: env, path: directory, registryKey: key, readOnly: options.readOnly, growthFactor: options.growthFactor)
    }

    /// The flags the environment was opened with (`mdb_env_get_flags`): `MDB_RDONLY`,
    /// `MDB_NORDAHEAD`, ... as LMDB defines them.
    public var flags: UInt32 {
        var flags: UInt32 = 0
        mdb_env_get_flags(handle, &flags)
        return flags
    }

    /// The current size of the memory map in bytes.
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// Opens a named database, creating it when the environment is writable.
    ///
    /// - Parameters:
    ///   - name: the database's name inside the environment.
    ///   - flags: `MDB_DUPSORT`, `MDB_DUPFIXED`, ... as LMDB defines them.
    /// - Throws: ``LMDBError`` (`MDB_NOTFOUND` when read-only and the database does not exist).
    public func database(named name: String, flags: LMDBDatabase.Flags = []) throws -> LMDBDatabase {
        if let known = databases.withLock({ $0[name] }) { return known }
        let database: LMDBDatabase
        if isReadOnly {
            database = try read { txn in try txn.openDatabase(name: name, flags: flags, create: false) }
        } else {
            database = try write { txn in try txn.openDatabase(name: name, flags: flags, create: true) }
        }
        databases.withLock { $0[name] = database }
        return database
    }

    /// Runs `body` inside a read-only transaction, ended when `body` returns or throws.
    ///
    /// Everything read through the transaction (pointers into the map) is valid only inside `body`.
    ///
    /// - Throws: whatever `body` throws, or ``LMDBError`` when the transaction cannot begin.
    @available(*, noasync, message: "an LMDB transaction must not span a suspension point")
    public func read<R>(_ body: (borrowing LMDBTransaction) throws -> R) throws -> R {
        while true {
            let attempt: Attempt<R> = try transactionLock.withSharedLock { () throws -> Attempt<R> in
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return .mapResized }
                try check(rc, "mdb_txn_begin read \(path)")
                let value: R
                do {
                    value = try body(LMDBTransaction(handle: txn!, readOnly: true))
                } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                // Commit, not abort: a database handle opened inside a transaction is closed
                // again when that transaction aborts (lmdb.h, mdb_dbi_open).
                try check(mdb_txn_commit(txn), "mdb_txn_commit read \(path)")
                return .done(value)
            }
            switch attempt {
            case .done(let value): return value
            case .mapResized: try adoptResizedMap()
            case .mapFull: preconditionFailure("a read transaction cannot fill the map")
            }
        }
    }

    /// Drops this process's mappings of the pages it has read (`madvise(MADV_DONTNEED)` over
    /// the map of `data.mdb`); the pages stay in the kernel's page cache and the next read maps
    /// them again.
    ///
    /// Why: Linux maps a whole cached neighbourhood on each page fault (fault-around, and
    /// large folios; `MADV_RANDOM` does not stop it here), so random reads of a large
    /// environment fill the resident set with clean file pages: 20k lookups in a 1M-key head
    /// state left 370,552 kB of it mapped. They are reclaimable, but they count as the
    /// process's memory. Safe beside readers and writers: the map is a read-only shared file
    /// mapping, and the shared transaction lock keeps it from being replaced (resized) meanwhile.
    public func releaseMappedPages() {
        // LMDB does not tell where it mapped the file (`mdb_env_info` reports only a fixed
        // address), so the mapping is found by its file in /proc/self/maps.
        guard let resolved = realpath(path + "/data.mdb", nil) else { return }
        let file = String(cString: resolved)
        free(resolved)
        transactionLock.withSharedLock {
            for (start, length) in Self.mappings(of: file) {
                _ = madvise(UnsafeMutableRawPointer(bitPattern: start), length, MADV_DONTNEED)
            }
        }
    }

    /// The address ranges at which `file` is mapped into this process.
    static func mappings(of file: String) -> [(start: UInt, length: Int)] {
        guard let maps = fopen("/proc/self/maps", "r") else { return [] }
        defer { fclose(maps) }
        var ranges: [(start: UInt, length: Int)] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        // "start-end perms offset dev inode   path"
        while getline(&line, &capacity, maps) > 0, let line {
            let text = String(cString: line).dropLast()  // the newline
            // The path is the last field, after a run of spaces.
            guard text.hasSuffix(" " + file), let range = text.split(separator: " ", maxSplits: 1).first else { continue }
            let bounds = range.split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { continue }
            ranges.append((start, Int(end - start)))
        }
        return ranges
    }

    /// Runs `body` inside a write transaction, committed durably when it returns.
    ///
    /// When the map is full (at a put or at commit), the transaction is aborted, the map grows
    /// by the configured factor and `body` runs again from scratch; `body` must therefore keep
    /// all its effects inside the transaction until it returns.
    ///
    /// - Throws: whatever `body` throws (the transaction is then aborted), or ``LMDBError``.
    @available(*, noasync, message: "an LMDB transaction must not span a suspension point")
    public func write<R>(_ body: (borrowing LMDBTransaction) throws -> R) throws -> R {
        if isReadOnly {
            throw LMDBError(code: EACCES, operation: "write transaction on read-only environment \(path)")
        }
        return try writerLock.withLock { () throws -> R in
            while true {
                let attempt: Attempt<R> = try transactionLock.withSharedLock { () throws -> Attempt<R> in
                    var txn: OpaquePointer?
                    let rc = mdb_txn_begin(handle, nil, 0, &txn)
                    if rc == MDB_MAP_RESIZED { return .mapResized }
                    try check(rc, "mdb_txn_begin write \(path)")
                    let value: R
                    do {
                        value = try body(LMDBTransaction(handle: txn!, readOnly: false))
                    } catch let error as LMDBError where error.isMapFull {
                        mdb_txn_abort(txn)
                        return .mapFull
                    } catch {
                        mdb_txn_abort(txn)
                        throw error
                    }
                    // mdb_txn_commit frees the transaction whatever it returns.
                    let committed = mdb_txn_commit(txn)
                    if committed == MDB_MAP_FULL { return .mapFull }
                    try check(committed, "mdb_txn_commit \(path)")
                    return .done(value)
                }
                switch attempt {
                case .done(let value): return value
                case .mapFull: try growMap()
                case .mapResized: try adoptResizedMap()
                }
            }
        }
    }

    /// Another process grew the map beyond our mapping; adopt its size. lmdb.h allows this
    /// only while the process has no active transaction, hence the exclusive lock.
    private func adoptResizedMap() throws {
        try transactionLock.withExclusiveLock { () throws in
            try check(mdb_env_set_mapsize(handle, 0), "mdb_env_set_mapsize adopt \(path)")
        }
    }

    /// Grows the map after `MDB_MAP_FULL`, with no transaction of this process active.
    private func growMap() throws {
        try transactionLock.withExclusiveLock { () throws in
            let target = mapSize * growthFactor
            try check(mdb_env_set_mapsize(handle, target), "mdb_env_set_mapsize \(target) \(path)")
        }
    }

    /// Writes a consistent copy of the environment into `directory` (which must exist and be
    /// empty) while writers go on, using `mdb_env_copy2`.
    ///
    /// - Parameters:
    ///   - directory: destination directory; `data.mdb` is created inside it.
    ///   - compact: omit free pages and renumber them (`MDB_CP_COMPACT`).
    public func copy(to directory: String, compact: Bool = true) throws {
        try transactionLock.withSharedLock { () throws in
            try check(mdb_env_copy2(handle, directory, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2 \(directory)")
        }
    }

    /// Flushes buffers to disk. Commits are already durable; this is for explicit checkpoints.
    public func sync() throws {
        try check(mdb_env_sync(handle, 1), "mdb_env_sync \(path)")
    }
}

/// What one try at a transaction came to.
private enum Attempt<R> {
    case done(R)
    case mapFull
    case mapResized
}

/// The registry of open environments, one per resolved directory.
enum EnvironmentRegistry {
    static let shared = Mutex<[String: WeakEnvironment]>([:])
}

struct WeakEnvironment {
    weak var environment: LMDBEnvironment?
}
