import Ledger
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Everything ledgerd can be told. The defaults are the embedded default: a data directory and a
/// socket in the working directory.
public struct ServerConfiguration: Sendable {
    /// Where the log (`log/`), the projection and the lock file live.
    public var dataDirectory = "./ledger-data"
    /// The Unix domain socket clients connect to.
    public var socketPath = "./ledgerd.sock"
    /// The socket file's mode, applied right after bind.
    public var socketMode: mode_t = 0o660
    /// Peers allowed to connect (by uid, from SO_PEERCRED); nil lets in anyone the socket's mode
    /// lets in. ledgerd's own uid is always allowed.
    public var allowedUIDs: Set<UInt32>?
    /// Invalidate every live session at startup, as audited invalidated_on_boot events.
    public var invalidateOnStart = false
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes = 64 * 1024
    /// Largest request head (request line and headers) accepted (431 beyond).
    public var maxHeadBytes = 16 * 1024
    /// Commands per LMDB transaction at most.
    public var maxBatch = 1_024
    /// How long committed writes may wait to be projected when no read is waiting for them
    /// (see ``ProjectionLinger``). Writes are answered once durable either way, and a read never
    /// sees the projection behind a write answered before it.
    public var projectionLinger = ProjectionLinger()
    /// Keep-alive connections idle this long are closed.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// A request must arrive completely within this time of its first byte (408 beyond): slow
    /// clients cannot hold connections open byte by byte.
    public var requestTimeout: TimeAmount = .seconds(10)
    /// How long a graceful shutdown waits for requests in flight.
    public var shutdownGrace: TimeAmount = .seconds(10)
    /// Event loop threads (default: one per core).
    public var eventLoopThreads = System.coreCount
    /// Connections held at once at most; more are accepted and closed at once.
    public var maxConnections = 4_096
    /// SQLite reader connections.
    public var readers = 8
    /// Writes are refused (507) while the data directory's file system has less than this free.
    public var minimumFreeBytes: UInt64 = 64 << 20
    /// Starting LMDB map size in bytes (it grows as needed).
    public var initialMapSize = 1 << 30
    /// When head state held in memory is written back to the state environment.
    public var writeBack = WriteBackPolicy()
    /// How often the pages of the LMDB maps read so far are unmapped (``Ledger/releaseMappedPages()``).
    public var mappedPagesReleaseInterval: TimeAmount = .seconds(5)

    public init() {}

    /// The LMDB environment directory inside the data directory.
    public var logDirectory: String { dataDirectory + "/log" }
}
