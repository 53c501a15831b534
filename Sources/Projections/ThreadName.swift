#if canImport(Glibc)
import Glibc
#endif

/// Names the calling thread, for `perf`, `top -H` and `/proc/<pid>/task/*/comm`.
///
/// Written straight to `/proc/thread-self/comm`: a thread started from a dispatch worker
/// inherits that worker's name, and Foundation's `Thread.current.name` did not always replace
/// it (a test caught the projection thread still named `oot.default-qos`). Swift's Glibc module
/// does not export `pthread_setname_np`.
public enum ThreadName {
    /// - Parameter name: at most 15 bytes, all Linux keeps.
    public static func setCurrent(_ name: String) {
        precondition(name.utf8.count <= 15, "thread names are at most 15 bytes on Linux")
        #if os(Linux)
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = name.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, name.utf8.count) }
        close(fd)
        #endif
    }
}
