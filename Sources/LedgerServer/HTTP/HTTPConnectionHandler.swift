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
///
/// Answers are written as bytes (``ResponseFraming``), in request order: a request that
/// arrives while the previous one is still being answered (HTTP pipelining) waits in
/// `pipelined`, and the connection stops reading until the queue is worked off.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

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
    /// What arrived while an earlier request was being answered, in order.
    private enum Arrival {
        case part(HTTPServerRequestPart)
        /// The decoder refused what followed the requests before it.
        case malformed(any Error)
    }
    private var pipelined = CircularBuffer<Arrival>()
    private var drainingPipelined = false
    private var readingPaused = false
    /// The answer being written ends the connection: nothing more is read or answered.
    private var ending = false

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
        let part = unwrapInboundIn(data)
        guard !ending else { return }
        if state == .answering || state == .streaming || !pipelined.isEmpty {
            pipelined.append(.part(part))
            // Stop reading at once: what is queued is bounded by what was already read, even
            // for a client that pipelines a huge body behind a request still in flight.
            if !readingPaused {
                readingPaused = true
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
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
            // An HTTP/1.0 stream has no chunked encoding: its end is the connection's end.
            let keepAlive = head.isKeepAlive && ResponseFraming.isChunked(head.version)
            let streamer = EventStreamer(spec, ledger: core.ledger, broadcaster: core.broadcaster, version: head.version,
                                         context: context) { [self] lastWrite in
                self.streamer = nil
                finishExchange(keepAlive: keepAlive && !closeWhenIdle, written: lastWrite, context: context)
            }
            self.streamer = streamer
            streamer.start()
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
        var buffer = context.channel.allocator.buffer(capacity: response.body.count + 160)
        ResponseFraming.writeResponse(status: response.status, version: head.version, contentType: response.contentType,
                                      body: response.body, headers: response.headers, keepAlive: keepAlive, into: &buffer)
        let written = context.writeAndFlush(wrapOutboundOut(buffer))
        core.metrics.requestFinished(route: route, nanoseconds: (ContinuousClock.now - started).nanoseconds)
        finishExchange(keepAlive: keepAlive, written: written, context: context)
    }

    /// Ends the current exchange once its answer is queued (`written` completes when it is on
    /// the socket), then serves any pipelined request.
    private func finishExchange(keepAlive: Bool, written: EventLoopFuture<Void>, context: ChannelHandlerContext) {
        state = .idle
        head = nil
        if !keepAlive {
            ending = true
            pipelined.removeAll()
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        servePipelined(context: context)
    }

    private func servePipelined(context: ChannelHandlerContext) {
        // An answer given at once re-enters here through respond(); the outer loop goes on.
        guard !drainingPipelined else { return }
        drainingPipelined = true
        while !ending, state == .idle || state == .receiving, let arrival = pipelined.popFirst() {
            switch arrival {
            case .part(let part): handle(part, context: context)
            case .malformed(let error): answerMalformed(error, context: context)
            }
        }
        drainingPipelined = false
        if pipelined.isEmpty, readingPaused, !ending {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
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
            // Answered in turn: requests decoded before the malformed bytes are answered first.
            if state == .answering || !pipelined.isEmpty {
                pipelined.append(.malformed(error))
            } else {
                answerMalformed(error, context: context)
            }
            return
        }
        logger.debug("connection error: \(error)")
        context.close(promise: nil)
    }

    /// Malformed HTTP: answered in JSON like everything else, then the connection is closed.
    private func answerMalformed(_ error: any Error, context: ChannelHandlerContext) {
        guard state != .streaming else {
            context.close(promise: nil)
            return
        }
        if head == nil { head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/") }
        state = .answering
        respond(APIResponse(APIError(status: 400, code: "bad_request", message: "malformed HTTP request: \(error)")),
                closing: true, context: context)
    }
}
