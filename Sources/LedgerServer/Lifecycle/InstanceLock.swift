import Foundation
import Ledger
import LedgerClient
#if canImport(Glibc)
import Glibc
#endif

/// Why ledgerd refused to start.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension InstanceLock {
    /// Takes the lock for ledgerd, or fails with a message naming the holder.
    static func forDaemon(path: String, what: String) throws -> InstanceLock {
        do {
            return try InstanceLock(path: path)
        } catch let busy as InstanceLock.Busy {
            throw StartupError("another ledgerd\(busy.holder.map { " (pid \($0))" } ?? "") is using \(what); refusing to start")
        }
    }
}

/// Makes the socket path usable without ever removing a live socket: after the lock is held, a
/// socket file that no one answers on is a leftover of a crash and is removed; one that answers
/// belongs to some other server and is left alone.
enum SocketPath {
    static func prepare(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw StartupError("\(path) exists and is not a socket; refusing to replace it")
        }
        if UnixSocket.accepts(path) {
            throw StartupError("a server is listening on \(path); refusing to replace it")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw StartupError("cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }
}
