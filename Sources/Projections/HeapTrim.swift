#if canImport(Glibc)
import Glibc
#endif

/// Hands memory the process freed back to the kernel.
///
/// glibc keeps what `free` returns in its arenas (each thread that allocated much, such as a
/// rebuild's fold thread, gets an arena of its own) and gives little of it back by itself. After
/// an online rebuild or a repair over a million keys, ledgerd stayed at ~310 MB resident,
/// nearly all of it free heap, against ~35 MB before; `malloc_trim(0)` took it to ~64 MB.
/// Called once per rebuild, at its end, and by ledgerd once writes stop after a burst, never on
/// a request's path: it walks every arena (0.9 s after the fold of 10M events).
///
/// Swift's Glibc module does not declare `malloc_trim` (it lives in `malloc.h`), so it is looked
/// up by name; on a C library without it (musl) this does nothing.
public enum HeapTrim {
    private typealias MallocTrim = @convention(c) (Int) -> Int32

    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
        return nil
        #endif
    }()

    /// Whether this C library has `malloc_trim` (glibc does).
    public static var isAvailable: Bool { mallocTrim != nil }

    public static func releaseFreedMemory() {
        _ = mallocTrim?(0)
    }
}
