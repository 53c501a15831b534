import Ledger
import LedgerAPI
import Logging
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// One client connection: turns its bytes into requests (``RequestParser``), hands each to the
/// ``LedgerHandler`` core, and writes the answer (or runs the event stream). Everything happens
/// on the connection's event loop.
///
/// Requests are parsed here rather than by a decoder in front: a request reaches the core as one
/// value, with no pipeline hop per head, body part and end, and the parser's buffer doubles as
/// the queue of pipelined requests. Requests sent back to back (HTTP pipelining) are answered
/// in order: while one is being answered the bytes behind it wait unparsed, and beyond
/// ``maxUnansweredBytes`` the connection stops reading until the answers catch up. Input the
/// parser refuses is answered in turn too, after the requests before it, and closes the
/// connection.
///
/// A request must arrive completely within the request timeout of its first byte (a slow
/// client, slowloris, cannot hold a connection by trickling bytes): the clock runs only while
/// the connection waits for the client, not while it is answering. Answers are written as bytes
/// (``ResponseFraming``).
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Unparsed input held while a request is being answered before the connection stops
    /// reading: room for a few pipelined requests, while a client that pipelines a huge body
    /// behind a slow request is made to wait instead of being buffered.
    static let maxUnansweredBytes = 16 * 1024

    private enum State { case idle, answering, streaming }

    private let core: LedgerHandler
    private let registry: ConnectionRegistry
    private let configuration: ServerConfiguration
    private let logger: Logger
    private var parser: RequestParser
    private var state = State.idle
    /// The request being answered: its answer's version, and whether the client keeps the
    /// connection.
    private var version = HTTPVersion.http1_1
    private var keepAlive = false
    private var peer: ActorIdentity?
    private var forbidden = false
    private var closeWhenIdle = false
    private var streamer: EventStreamer?
    private var started = ContinuousClock.now
    private var route = LedgerHandler.Route.other
    /// Set while ``serveBuffered(context:)`` runs: an answer given at once re-enters it.
    private var serving = false
    private var readingPaused = false
    /// The answer being written ends the connection: nothing more is read or answered.
    private var ending = false
    /// When the first byte of the request being received arrived (or the connection became
    /// ready for it, if it arrived during an earlier answer); nil when none is under way.
    private var requestStarted: NIODeadline?
    /// The armed request-timeout check, if any. One check serves many requests: it is not
    /// cancelled when a request completes in time (scheduling and cancelling a timer per request
    /// cost a measurable share of an event loop), and when it fires it re-arms for the request
    /// under way, if there is one.
    private var timeoutCheck: Scheduled<Void>?

    init(core: LedgerHandler, registry: ConnectionRegistry, configuration: ServerConfiguration, logger: Logger) {
        self.core = core
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.parser = RequestParser(maxHeadBytes: configuration.maxHeadBytes, maxBodyBytes: configuration.maxBodyBytes)
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
        timeoutCheck?.cancel()
        timeoutCheck = nil
        streamer?.stop()
        streamer = nil
        registry.remove(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeoutCheck?.cancel()
        timeoutCheck = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { streamer?.pump() }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ending else { return }
        parser.append(unwrapInboundIn(data))
        if state == .idle {
            serveBuffered(context: context)
        } else if !readingPaused, parser.bufferedBytes > Self.maxUnansweredBytes {
            pauseReading(context: context)
        }
    }

    /// Answers the complete requests the parser holds, in order, while each is answered at once;
    /// stops at one answered later (its answer comes back here) or when more input is needed.
    private func serveBuffered(context: ChannelHandlerContext) {
        guard !serving else { return }
        serving = true
        while !ending, state == .idle {
            let request: ParsedRequest
            do {
                guard let next = try parser.nextRequest() else { break }
                request = next
            } catch {
                refuse(error, context: context)
                break
            }
            requestStarted = nil
            serve(request, context: context)
        }
        serving = false
        guard !ending else { return }
        if state == .idle {
            // Waiting for the client: for the rest of a request, or for the next one.
            if parser.isMidRequest { startRequestClock(context: context) }
            if readingPaused { resumeReading(context: context) }
        } else if !readingPaused, parser.bufferedBytes > Self.maxUnansweredBytes {
            pauseReading(context: context)
        }
    }

    private func serve(_ request: ParsedRequest, context: ChannelHandlerContext) {
        state = .answering
        version = request.version
        keepAlive = request.keepAlive
        started = ContinuousClock.now
        route = .other
        if forbidden {
            respond(APIResponse(.forbidden), closing: true, context: context)
            return
        }
        let (reply, route) = core.handleRouted(APIRequest(method: request.method, uri: request.uri, body: request.body, peer: peer),
                                               on: context.eventLoop)
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
            let keepAlive = request.keepAlive && ResponseFraming.isChunked(request.version)
            let streamer = EventStreamer(spec, ledger: core.ledger, broadcaster: core.broadcaster, version: request.version,
                                         context: context) { [self] lastWrite in
                self.streamer = nil
                finishExchange(keepAlive: keepAlive && !closeWhenIdle, written: lastWrite, context: context)
            }
            self.streamer = streamer
            streamer.start()
        }
    }

    /// Answers input that is no acceptable request (or not one in time), then closes: where a
    /// next request would start is unknown.
    private func refuse(_ error: APIError, context: ChannelHandlerContext) {
        state = .answering
        version = .http1_1
        keepAlive = false
        started = ContinuousClock.now
        route = .other
        respond(APIResponse(error), closing: true, context: context)
    }

    private func respond(_ response: APIResponse, closing: Bool = false, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let keepAlive = self.keepAlive && !closing && !closeWhenIdle
        var buffer = context.channel.allocator.buffer(capacity: response.body.count + 160)
        ResponseFraming.writeResponse(status: response.status, version: version, contentType: response.contentType,
                                      body: response.body, headers: response.headers, keepAlive: keepAlive, into: &buffer)
        // Only a connection that closes after the answer waits for it to reach the socket; a
        // kept one asks for no promise (a future per answer otherwise).
        var written: EventLoopFuture<Void>?
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            written = context.writeAndFlush(wrapOutboundOut(buffer))
        }
        core.metrics.requestFinished(route: route, nanoseconds: (ContinuousClock.now - started).nanoseconds)
        finishExchange(keepAlive: keepAlive, written: written, context: context)
    }

    /// Ends the current exchange once its answer is queued (`written` completes when it is on
    /// the socket; the connection closes then when it is not kept), then serves the requests
    /// that arrived behind it.
    private func finishExchange(keepAlive: Bool, written: EventLoopFuture<Void>?, context: ChannelHandlerContext) {
        state = .idle
        if !keepAlive {
            ending = true
            timeoutCheck?.cancel()
            timeoutCheck = nil
            if let written {
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
            return
        }
        serveBuffered(context: context)
    }

    private func pauseReading(context: ChannelHandlerContext) {
        readingPaused = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        readingPaused = false
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }

    // MARK: The request timeout

    private func startRequestClock(context: ChannelHandlerContext) {
        guard requestStarted == nil else { return }
        let now = NIODeadline.now()
        requestStarted = now
        if timeoutCheck == nil { armTimeoutCheck(at: now + configuration.requestTimeout, context: context) }
    }

    private func armTimeoutCheck(at time: NIODeadline, context: ChannelHandlerContext) {
        timeoutCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: time) { [weak self] in
            self?.timeoutCheckDue(context: context)
        }
    }

    private func timeoutCheckDue(context: ChannelHandlerContext) {
        timeoutCheck = nil
        guard let requestStarted, state == .idle, !ending else { return }
        let due = requestStarted + configuration.requestTimeout
        if NIODeadline.now() >= due {
            refuse(.requestTimeout, context: context)
        } else {
            armTimeoutCheck(at: due, context: context)
        }
    }

    // MARK: Shutdown and idle connections

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            closeWhenIdle = true
            // A request partly received is still answered (and the connection then closed).
            if state == .idle && !parser.isMidRequest { context.close(promise: nil) }
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
        logger.debug("connection error: \(error)")
        context.close(promise: nil)
    }
}
