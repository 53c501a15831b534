import Foundation
import Ledger
import Logging
import NIOCore
import NIOPosix
import Projections
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// ledgerd as a service: start everything, serve until a graceful shutdown is requested
/// (SIGTERM/SIGINT through the ServiceGroup), then stop accepting, answer what is in flight,
/// commit what is queued, and close the log and the projection.
public final class LedgerDaemon: Service, Sendable {
    public let configuration: ServerConfiguration
    private let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let started = ContinuousClock.now
        let c = configuration
        raiseDescriptorLimit()

        // Locks first: a second instance must fail before it touches the socket path.
        mkdir(c.dataDirectory, 0o700)
        let dataLock = try InstanceLock.forDaemon(path: c.dataDirectory + "/ledgerd.lock", what: "the data directory \(c.dataDirectory)")
        let socketLock = try InstanceLock.forDaemon(path: c.socketPath + ".lock", what: "the socket \(c.socketPath)")
        try SocketPath.prepare(c.socketPath)

        let ledger = try Ledger.open(directory: c.logDirectory, options: LedgerOptions(initialMapSize: c.initialMapSize, writeBack: c.writeBack))
        // The fast check keeps startup independent of the log's size; the quick check follows
        // in the background (BackgroundProjectionCheck).
        let projection = try Projection.open(directory: c.dataDirectory, ledger: ledger, logger: logger, check: .fast, readers: c.readers)
        if c.invalidateOnStart { try invalidateLiveSessions(ledger: ledger, projection: projection) }

        let metrics = LedgerMetrics()
        let broadcaster = EventBroadcaster()
        let committer = GroupCommitter(ledger: ledger, projection: projection, broadcaster: broadcaster, metrics: metrics,
                                       logger: logger, maxBatch: c.maxBatch, projectionLinger: c.projectionLinger,
                                       freeSpace: FreeSpaceGuard(directory: c.dataDirectory, reserveBytes: c.minimumFreeBytes))
        committer.start()
        let checkStatus = StartupCheckStatus()
        let core = LedgerHandler(ledger: ledger, projection: projection, committer: committer, broadcaster: broadcaster,
                                 metrics: metrics, configuration: c, startupCheck: checkStatus, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, c.eventLoopThreads))
        let server = HTTPServer(group: group, configuration: c, logger: logger)
        do {
            try await server.start(core: core)
        } catch {
            committer.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        let head = try ledger.head()
        let elapsed = Double((ContinuousClock.now - started).nanoseconds) / 1e6
        logger.notice("ledgerd ready", metadata: [
            "socket": "\(c.socketPath)", "data_dir": "\(c.dataDirectory)", "head_seq": "\(head.seq)",
            "projection_generation": "\(projection.generation)", "startup_ms": "\(Int(elapsed.rounded()))", "pid": "\(getpid())",
        ])

        let check = BackgroundProjectionCheck(projection: projection, committer: committer, eventLoop: group.next(), status: checkStatus, logger: logger)
        // Random reads of the LMDB maps leave their pages mapped (and counted as ledgerd's
        // memory) until dropped; off the event loop, since it walks the page tables.
        // Likewise the heap a burst of writes freed, once the writes stop (see IdleHeapTrim).
        let idleHeapTrim = IdleHeapTrim()
        let releaseMappedPages = group.next().scheduleRepeatedTask(initialDelay: c.mappedPagesReleaseInterval,
                                                                   delay: c.mappedPagesReleaseInterval) { _ in
            DispatchQueue.global(qos: .utility).async {
                ledger.releaseMappedPages()
                if idleHeapTrim.tick(batches: committer.batchesCommitted) { metrics.heapTrims.increment() }
            }
        }

        // Serve until asked to stop.
        try? await gracefulShutdown()

        logger.notice("ledgerd shutting down: no new connections; answering requests in flight", metadata: ["open_connections": "\(server.registry.count)"])
        await server.shutdown(grace: c.shutdownGrace)
        releaseMappedPages.cancel()
        committer.stop()
        check.stop(interrupting: projection)
        try? await group.shutdownGracefully()
        projection.close()
        do {
            // The next start then has no log tail to fold.
            try ledger.writeBackHeadState()
        } catch {
            logger.error("head state not written back (the next start folds it from the log)", metadata: ["error": "\(error)"])
        }
        unlink(c.socketPath)
        withExtendedLifetime((dataLock, socketLock)) {}
        logger.notice("ledgerd stopped cleanly", metadata: ["head_seq": "\((try? ledger.head().seq) ?? 0)"])
    }

    /// `--invalidate-on-start`: every live session ends, as audited invalidated_on_boot events
    /// written by this process.
    private func invalidateLiveSessions(ledger: Ledger, projection: Projection) throws {
        let actor = ActorIdentity(uid: getuid(), gid: getgid(), pid: getpid())
        let (outcome, events) = try ledger.append(.invalidateAllLive(reason: "ledgerd started with --invalidate-on-start"), actor: actor)
        if case .rejected(let rejection, _) = outcome { throw StartupError("invalidate-on-start refused: \(rejection)") }
        try projection.apply(events)
        logger.notice("invalidate-on-start: \(events.count) live sessions invalidated", metadata: ["invalidated": "\(events.count)"])
    }

    /// Many concurrent clients need many descriptors: raise the soft limit to the hard one.
    private func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
