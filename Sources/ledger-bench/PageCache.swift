import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's page cache over a data directory: how much of it is resident, and dropping it,
/// so that a start can be timed as after a reboot without root (`drop_caches` needs root and
/// empties the cache of the whole machine).
enum PageCache {
    /// What a directory's regular files hold in the page cache.
    struct Residency {
        var files = 0
        var bytes = 0
        var residentBytes = 0
    }

    /// Writes each regular file under `directory` to the disk and asks the kernel to drop its
    /// cached pages (`fdatasync`, then `posix_fadvise(POSIX_FADV_DONTNEED)`).
    ///
    /// The kernel keeps pages that a process still maps or that are dirty again, so the caller
    /// checks the result with ``residency(of:)``; no ledgerd may run on the directory meanwhile.
    ///
    /// - Parameter directory: a data directory (searched recursively).
    /// - Throws: ``BenchError`` naming the file a call failed on.
    static func drop(_ directory: String) throws {
        for path in try regularFiles(under: directory) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BenchError("open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            guard fdatasync(fd) == 0 else { throw BenchError("fdatasync \(path): \(String(cString: strerror(errno)))") }
            let status = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            guard status == 0 else { throw BenchError("posix_fadvise \(path): \(String(cString: strerror(status)))") }
        }
    }

    /// How many bytes of the regular files under `directory` the page cache holds (`mincore`).
    static func residency(of directory: String) throws -> Residency {
        var residency = Residency()
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        for path in try regularFiles(under: directory) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BenchError("open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw BenchError("fstat \(path): \(String(cString: strerror(errno)))") }
            let size = Int(info.st_size)
            residency.files += 1
            residency.bytes += size
            guard size > 0 else { continue }
            // Mapping a file faults nothing in; mincore only reads the cache's state.
            guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
                throw BenchError("mmap \(path): \(String(cString: strerror(errno)))")
            }
            defer { munmap(map, size) }
            var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
            guard mincore(map, size, &vector) == 0 else { throw BenchError("mincore \(path): \(String(cString: strerror(errno)))") }
            residency.residentBytes += vector.reduce(0) { $0 + Int($1 & 1) } * page
        }
        return residency
    }

    private static func regularFiles(under directory: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else {
            throw BenchError("cannot list \(directory)")
        }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            let path = (directory as NSString).appendingPathComponent(relative)
            var info = stat()
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { files.append(path) }
        }
        return files
    }
}
