#if canImport(Glibc)
import Glibc
#endif

/// A plain blocking connection to a Unix domain socket, below HTTP: readiness probes (is
/// ledgerd listening yet?), ledgerd's own check that a socket file it would replace is stale,
/// and tests that write raw bytes.
public enum UnixSocket {
    /// Connects a new stream socket to `path`.
    ///
    /// - Returns: the connected descriptor, which the caller closes; nil when nothing accepts
    ///   connections there or `path` does not fit in `sun_path`.
    public static func connect(to path: String) -> Int32? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let fits = withUnsafeMutableBytes(of: &address.sun_path) { buffer -> Bool in
            guard path.utf8.count < buffer.count else { return false }
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
            return true
        }
        guard fits else { return nil }
        // Close-on-exec: a process that connects and then spawns children must not hand them
        // its connection.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
        guard connected else {
            close(fd)
            return nil
        }
        return fd
    }

    /// True when something accepts connections on `path`.
    public static func accepts(_ path: String) -> Bool {
        guard let fd = connect(to: path) else { return false }
        close(fd)
        return true
    }
}
