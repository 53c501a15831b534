#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a rebuild's index sorts keep their runs: in temporary files when SQLite can create
/// them and their directory has room, in memory otherwise.
///
/// Sorting through temporary files is faster (SQLite's sorter uses its worker threads only then)
/// and keeps the runs out of the process's memory, but needs a writable directory with room.
/// SQLite takes the first writable one of `$SQLITE_TMPDIR`, `$TMPDIR`, `/var/tmp`, `/usr/tmp`,
/// `/tmp` and the working directory, whatever room it has; in a container with a read-only root
/// file system there may be none, and a small `/tmp` fills up. Then the sort stays in memory
/// rather than fail the rebuild.
public enum SortSpace: Sendable, Equatable, CustomStringConvertible {
    case temporaryFiles(directory: String)
    /// In memory, and why.
    case memory(reason: String)

    /// Room to ask of the temporary directory per event of the log: the runs peaked at 24 MB
    /// for 1M events, 31 MB for 1.2M events on 1M keys and 204 MB for 10M events (measured on a
    /// tmpfs), so this leaves a margin for longer keys and owners.
    static let bytesPerEvent: UInt64 = 64

    /// The `PRAGMA temp_store` value for this choice.
    var tempStore: String {
        switch self {
        case .temporaryFiles: "FILE"
        case .memory: "MEMORY"
        }
    }

    public var isMemory: Bool {
        if case .memory = self { return true }
        return false
    }

    /// What a rebuild report says about it.
    public var description: String {
        switch self {
        case .temporaryFiles(let directory): "temporary files in \(directory)"
        case .memory(let reason): "memory (\(reason))"
        }
    }

    /// SQLite's own candidates for temporary files on Unix, in its order (os_unix.c).
    static var sqliteCandidates: [String] {
        let environment = ["SQLITE_TMPDIR", "TMPDIR"].compactMap { (name: String) -> String? in
            getenv(name).map { String(cString: $0) }
        }
        return environment + ["/var/tmp", "/usr/tmp", "/tmp", "."]
    }

    /// Temporary files in the directory SQLite will use, the first of `candidates` that is a
    /// directory this process may write and search (SQLite's own test, `access(W_OK|X_OK)`,
    /// which refuses read-only file systems even to root), if it has `bytes` free; otherwise
    /// ``memory(reason:)``.
    static func choose(from candidates: [String] = sqliteCandidates, needing bytes: UInt64) -> SortSpace {
        let usable = candidates.first { directory in
            var status = stat()
            return !directory.isEmpty && stat(directory, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
                && access(directory, W_OK | X_OK) == 0
        }
        guard let directory = usable else {
            return .memory(reason: "no writable temporary directory among \(candidates.joined(separator: ", "))")
        }
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return .memory(reason: "cannot read the free space of \(directory)") }
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        guard free >= bytes else {
            return .memory(reason: "\(directory) has \(free / 1_048_576) MiB free, the sort asks for \(bytes / 1_048_576) MiB")
        }
        return .temporaryFiles(directory: directory)
    }
}
