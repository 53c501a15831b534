#if canImport(Glibc)
import Glibc
#endif

/// Refuses writes while the data directory's file system has less than a reserve free.
///
/// A batch is written twice, to the log and then to the projection; if the disk filled up in
/// between, the write would be durable but unprojected. Keeping a reserve means the log refuses
/// first (507, nothing written) while the projection still has room, so the two never diverge
/// and reads go on working. When space is freed, writes resume by themselves.
struct FreeSpaceGuard: Sendable {
    let directory: String
    let reserveBytes: UInt64

    /// Nil when there is room; otherwise why not.
    func shortage() -> String? {
        guard reserveBytes > 0 else { return nil }
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return nil }
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        guard free < reserveBytes else { return nil }
        return "\(free >> 20) MiB free on the data directory's file system, below the \(reserveBytes >> 20) MiB reserve (--min-free-mb)"
    }
}
