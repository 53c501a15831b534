import Logging
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1.1 listener on the Unix domain socket.
final class HTTPServer: Sendable {
    let registry = ConnectionRegistry()
    private let group: MultiThreadedEventLoopGroup
    private let listener: Mutex<(any Channel)?> = Mutex(nil)
    private let configuration: ServerConfiguration
    private let logger: Logger

    init(group: MultiThreadedEventLoopGroup, configuration: ServerConfiguration, logger: Logger) {
        self.group = group
        self.configuration = configuration
        self.logger = logger
    }

    /// Binds the socket, created with its final mode, and starts accepting.
    func start(core: LedgerHandler) async throws {
        let registry = self.registry
        let configuration = self.configuration
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4_096)
            .childChannelInitializer { channel in
                guard registry.add(channel, limit: configuration.maxConnections) else {
                    // Answer once the channel is active (writing from the initializer is too
                    // early), then close it: the descriptor is released at once.
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler())
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    // Bytes in, answers out: HTTPConnectionHandler parses requests itself
                    // (RequestParser), enforces the request timeout and the size limits, keeps
                    // pipelined requests in order and frames answers as bytes (ResponseFraming).
                    try pipeline.addHandler(HTTPConnectionHandler(core: core, registry: registry, configuration: configuration, logger: logger))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 16)

        // bind() creates the socket file with 0777 minus the umask, and it accepts connections
        // from that moment: so the umask gives it the configured mode from the start (a mode
        // set afterwards left a window where a ready socket had the wrong mode). Nothing else
        // creates files during startup's bind; the umask is restored right after.
        let previous = umask(~configuration.socketMode & 0o777)
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: configuration.socketPath).get()
        } catch {
            umask(previous)
            throw StartupError("cannot listen on \(configuration.socketPath): \(error)")
        }
        umask(previous)
        guard chmod(configuration.socketPath, configuration.socketMode) == 0 else {
            let message = String(cString: strerror(errno))
            try? await channel.close()
            throw StartupError("cannot set the mode of \(configuration.socketPath): \(message)")
        }
        listener.withLock { $0 = channel }
    }

    /// Stops accepting, lets requests in flight be answered (closing each connection after its
    /// answer), ends follow streams, and after `grace` closes whatever is left.
    func shutdown(grace: TimeAmount) async {
        if let channel = listener.withLock({ $0 }) {
            try? await channel.close()
        }
        registry.drain()
        let deadline = ContinuousClock.now + .nanoseconds(grace.nanoseconds)
        while registry.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if registry.count > 0 {
            logger.warning("closing \(registry.count) connections still open after the grace period")
            registry.closeAll()
        }
    }
}

/// Answers 503 too_many_connections and closes: the connection limit is reached.
///
/// The answer goes out once the client's request arrives (or after a short wait): written
/// earlier, many clients would still be sending when the connection closes and would see a
/// broken pipe instead of the answer.
final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var answered = false

    func channelActive(context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { [self] in answer(context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answer(context)
    }

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered, context.channel.isActive else { return }
        answered = true
        let body = #"{"error":{"code":"too_many_connections","message":"ledgerd holds its maximum number of connections; retry shortly"}}"#
        var buffer = context.channel.allocator.buffer(capacity: 200)
        buffer.writeString("HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)")
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
