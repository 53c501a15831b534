import Foundation
import Ledger
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
        if isAnswering(path) {
            throw StartupError("a server is listening on \(path); refusing to replace it")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw StartupError("cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// True when something accepts connections on the socket.
    static func isAnswering(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }
}
