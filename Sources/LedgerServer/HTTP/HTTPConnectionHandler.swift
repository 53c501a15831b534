import Ledger
import LedgerAPI
import Logging
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// One client connection: collects each request (enforcing the body limit), hands it to the
/// ``LedgerHandler`` core, and writes the answer (or runs the event stream). Everything happens
/// on the connection's event loop.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State { case idle, receiving, answering, streaming }

    private let core: LedgerHandler
    private let requestGuard: RequestGuard
    private let registry: ConnectionRegistry
    private let configuration: ServerConfiguration
    private let logger: Logger
    private var state = State.idle
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var peer: ActorIdentity?
    private var forbidden = false
    private var closeWhenIdle = false
    private var streamer: EventStreamer?
    private var started = ContinuousClock.now
    private var route = LedgerHandler.Route.other

    init(core: LedgerHandler, requestGuard: RequestGuard, registry: ConnectionRegistry, configuration: ServerConfiguration, logger: Logger) {
        self.core = core
        self.requestGuard = requestGuard
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        core.metrics.openConnections.increment()
        PeerCredentials.read(context.channel).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let identity):
                peer = identity
                if let allowed = configuration.allowedUIDs, !allowed.contains(identity.uid), identity.uid != getuid() {
                    forbidden = true
                    logger.notice("refusing a peer not in --allow-uid", metadata: ["uid": "\(identity.uid)", "gid": "\(identity.gid)", "pid": "\(identity.pid)"])
                }
            case .failure(let error):
                // Without credentials there is no actor to record and nothing to authorise.
                forbidden = configuration.allowedUIDs != nil
                logger.warning("cannot read the peer's credentials: \(error)")
            }
        }
        if registry.isDraining { closeWhenIdle = true }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.metrics.openConnections.decrement()
        streamer?.stop()
        streamer = nil
        registry.remove(context.channel)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { streamer?.pump() }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            requestGuard.headReceived()
            guard state == .idle else { return }
            state = .receiving
            head = requestHead
            body = nil
            started = ContinuousClock.now
            if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init), length > configuration.maxBodyBytes {
                refuse(.payloadTooLarge(configuration.maxBodyBytes), context: context)
            }
        case .body(var chunk):
            guard state == .receiving else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > configuration.maxBodyBytes {
                refuse(.payloadTooLarge(configuration.maxBodyBytes), context: context)
                return
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            requestGuard.requestReceived()
            guard state == .receiving, let head else { return }
            state = .answering
            dispatch(head, context: context)
        }
    }

    private func dispatch(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        if forbidden {
            respond(APIResponse(.forbidden), closing: true, context: context)
            return
        }
        let request = APIRequest(method: head.method, uri: head.uri, body: body, peer: peer)
        body = nil
        let (reply, route) = core.handleRouted(request, on: context.eventLoop)
        self.route = route
        switch reply {
        case .response(let response):
            respond(response, context: context)
        case .future(let future):
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success(let response): respond(response, context: context)
                case .failure(let error as APIError): respond(APIResponse(error), context: context)
                case .failure(let error): respond(APIResponse(.internal("\(error)")), context: context)
                }
            }
        case .stream(let spec):
            state = .streaming
            let streamer = EventStreamer(spec, ledger: core.ledger, broadcaster: core.broadcaster, context: context) { [self] in
                self.streamer = nil
                finishExchange(keepAlive: head.isKeepAlive && !closeWhenIdle, context: context)
            }
            self.streamer = streamer
            streamer.start(version: head.version)
        }
    }

    /// Answers and closes: the rest of this request will not be read.
    private func refuse(_ error: APIError, context: ChannelHandlerContext) {
        state = .answering
        respond(APIResponse(error), closing: true, context: context)
    }

    private func respond(_ response: APIResponse, closing: Bool = false, context: ChannelHandlerContext) {
        guard context.channel.isActive, let head else { return }
        let keepAlive = head.isKeepAlive && !closing && !closeWhenIdle
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.body.count))
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        core.metrics.requestFinished(route: route, nanoseconds: (ContinuousClock.now - started).nanoseconds)
        finishExchange(keepAlive: keepAlive, context: context)
    }

    private func finishExchange(keepAlive: Bool, context: ChannelHandlerContext) {
        let endWritten: EventLoopFuture<Void>
        if state == .streaming {
            endWritten = context.eventLoop.makeSucceededVoidFuture()  // the streamer wrote .end
        } else {
            endWritten = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        }
        state = .idle
        head = nil
        if !keepAlive {
            endWritten.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            closeWhenIdle = true
            if state == .idle { context.close(promise: nil) }
            if state == .streaming { streamer?.finish() }
            return
        }
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Keep-alive connections that stay silent are closed; a follow stream is silent by design.
            if state == .idle { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            // Malformed HTTP: answer in JSON like everything else, then hang up.
            if state != .streaming {
                if head == nil { head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/") }
                state = .answering
                respond(APIResponse(APIError(status: 400, code: "bad_request", message: "malformed HTTP request: \(error)")),
                        closing: true, context: context)
            } else {
                context.close(promise: nil)
            }
            return
        }
        logger.debug("connection error: \(error)")
        context.close(promise: nil)
    }
}
