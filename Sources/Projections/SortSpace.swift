#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a rebuild's index sorts keep their runs: in temporary files when SQLite can create
/// them, in memory otherwise.
///
/// Sorting through temporary files is faster (SQLite's sorter uses its worker threads only then)
/// and keeps the runs out of the process's memory, but needs a writable directory. SQLite takes
/// the first writable one of `$SQLITE_TMPDIR`, `$TMPDIR`, `/var/tmp`, `/usr/tmp`, `/tmp` and the
/// working directory; in a container with a read-only root file system there may be none, and
/// then the sort must stay in memory rather than fail the rebuild.
enum SortSpace: Equatable {
    case temporaryFiles(directory: String)
    case memory

    /// The `PRAGMA temp_store` value for this choice.
    var tempStore: String {
        switch self {
        case .temporaryFiles: "FILE"
        case .memory: "MEMORY"
        }
    }

    /// SQLite's own candidates for temporary files on Unix, in its order (os_unix.c).
    static var sqliteCandidates: [String] {
        let environment = ["SQLITE_TMPDIR", "TMPDIR"].compactMap { (name: String) -> String? in
            getenv(name).map { String(cString: $0) }
        }
        return environment + ["/var/tmp", "/usr/tmp", "/tmp", "."]
    }

    /// The first of `candidates` that is a directory this process may write and search (the
    /// test SQLite makes, `access(W_OK|X_OK)`, which also refuses read-only file systems to
    /// root), or ``memory``.
    static func choose(from candidates: [String] = sqliteCandidates) -> SortSpace {
        for directory in candidates where !directory.isEmpty {
            var status = stat()
            if stat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR, access(directory, W_OK | X_OK) == 0 {
                return .temporaryFiles(directory: directory)
            }
        }
        return .memory
    }
}
