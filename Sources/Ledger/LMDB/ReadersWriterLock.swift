#if canImport(Glibc)
import Glibc
#endif

/// A pthread readers-writer lock. Every LMDB transaction of this process holds it shared;
/// changing the map size holds it exclusively, because `mdb_env_set_mapsize` may only be
/// called while this process has no active transaction.
///
/// glibc's default kind prefers readers, so a thread that already holds it shared may take it
/// shared again without deadlocking behind a waiting writer.
final class ReadersWriterLock: @unchecked Sendable {
    // The lock lives at a stable heap address for its whole life: pthread objects must not move.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        let rc = pthread_rwlock_init(lock, nil)
        precondition(rc == 0, "pthread_rwlock_init failed: \(rc)")
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func withSharedLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func withExclusiveLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
