#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` held for as long as the value lives, so that only one process at a time
/// writes a data directory (ledgerd, or an offline `ledgerctl rebuild`), and a second ledgerd
/// exits with a clear message instead of stealing the directory or its socket. The lock file
/// holds the owner's pid, for that message. The kernel drops the lock when the process dies, so
/// a kill -9 never leaves it stale.
public final class InstanceLock: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Why the lock could not be taken.
    public struct Busy: Error, CustomStringConvertible, Sendable {
        public var path: String
        /// The pid written by the holder, if it could be read.
        public var holder: Int32?
        public var description: String { "\(path) is locked by \(holder.map { "pid \($0)" } ?? "another process")" }
    }

    /// Takes the lock without waiting.
    ///
    /// - Throws: ``Busy`` when another process holds it; ``LedgerError`` when the file cannot be opened.
    public init(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw LedgerError(.storage, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(fd, &buffer, buffer.count)
            close(fd)
            let text = count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
            throw Busy(path: path, holder: Int32(text.split(separator: "\n").first.map(String.init) ?? ""))
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.path = path
        descriptor = fd
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
