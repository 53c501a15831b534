import NIOCore
import NIOHTTP1
import NIOPosix

/// A response as received.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
}

/// The connection was closed before any byte of the request was written: sending it again on
/// another connection cannot apply it twice.
struct RequestNotSent: Error {}

/// One keep-alive HTTP/1.1 connection to ledgerd, one exchange at a time.
final class HTTPConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func connect(socketPath: String, group: any EventLoopGroup) async throws -> HTTPConnection {
        let bootstrap = ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
        do {
            return HTTPConnection(channel: try await bootstrap.connect(unixDomainSocketPath: socketPath).get())
        } catch {
            throw LedgerClientError.unreachable(socketPath: socketPath, underlying: "\(error)")
        }
    }

    var isUsable: Bool { channel.isActive }

    /// Sends a request and collects the whole answer; `onBody`, when given, receives the body
    /// chunk by chunk instead (streams) and the returned body is empty.
    func exchange(method: HTTPMethod, path: String, body: [UInt8]?,
                  onBody: (@Sendable (ByteBuffer) -> Void)? = nil) async throws -> HTTPReply {
        let promise = channel.eventLoop.makePromise(of: HTTPReply.self)
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "localhost")
        if let body {
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.count))
        }
        var buffer: ByteBuffer?
        if let body {
            var b = channel.allocator.buffer(capacity: body.count)
            b.writeBytes(body)
            buffer = b
        }
        let exchange = Exchange(head: HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers),
                                body: buffer, promise: promise, onBody: onBody)
        // If the connection is already gone the handler never sees the exchange: fail it here.
        channel.writeAndFlush(exchange).whenFailure { error in
            if let error = error as? ChannelError, error == .ioOnClosedChannel {
                // Closed before the request was written (ledgerd closed it as idle, or is
                // restarting): nothing was sent, so the caller may send it again.
                promise.fail(RequestNotSent())
            } else {
                promise.fail(LedgerClientError.connectionLost("write failed: \(error)"))
            }
        }
        do {
            return try await promise.futureResult.get()
        } catch let error as LedgerClientError {
            throw error
        } catch let error as RequestNotSent {
            throw error
        } catch {
            throw LedgerClientError.connectionLost("\(error)")
        }
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// A request in flight and where its answer goes.
struct Exchange: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var promise: EventLoopPromise<HTTPReply>
    var onBody: (@Sendable (ByteBuffer) -> Void)?
}

/// Writes exchanges and matches answers to them, in order.
final class ExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private var waiting: [Exchange] = []
    private var status = 0
    private var headers: [(String, String)] = []
    private var body: [UInt8] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        waiting.append(exchange)
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            headers = head.headers.map { ($0.name, $0.value) }
            body.removeAll(keepingCapacity: true)
        case .body(let chunk):
            if let onBody = waiting.first?.onBody { onBody(chunk) } else { body.append(contentsOf: chunk.readableBytesView) }
        case .end:
            guard !waiting.isEmpty else { return }
            let exchange = waiting.removeFirst()
            exchange.promise.succeed(HTTPReply(status: status, headers: headers, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let pending = waiting
        waiting.removeAll()
        for exchange in pending { exchange.promise.fail(LedgerClientError.connectionLost("closed by ledgerd")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let pending = waiting
        waiting.removeAll()
        for exchange in pending { exchange.promise.fail(LedgerClientError.connectionLost("\(error)")) }
        context.close(promise: nil)
    }
}
