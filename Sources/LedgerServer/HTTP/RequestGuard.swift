import LedgerAPI
import NIOCore

/// Guards a connection's raw bytes, before the HTTP decoder sees them:
///
/// - a request must arrive completely within `requestTimeout` of its first byte, so a slow
///   client (slowloris) cannot hold a connection open by trickling bytes;
/// - the request head (request line and headers) may not exceed `maxHeadBytes`.
///
/// Either breach is answered with a JSON error written straight to the socket, then the
/// connection is closed. ``HTTPConnectionHandler`` tells the guard when a head is complete and
/// when a request has been fully received.
final class RequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let requestTimeout: TimeAmount
    private let maxHeadBytes: Int
    /// The armed timeout check, if any. One check serves many requests: it is not cancelled
    /// when a request completes in time (scheduling and cancelling a timer per request cost a
    /// measurable share of an event loop), and when it fires it re-arms for the request in
    /// progress, if there is one.
    private var deadline: Scheduled<Void>?
    private var requestStarted = NIODeadline.distantPast
    private var inRequest = false
    private var headComplete = false
    private var headBytes = 0
    private var context: ChannelHandlerContext?

    init(requestTimeout: TimeAmount, maxHeadBytes: Int) {
        self.requestTimeout = requestTimeout
        self.maxHeadBytes = maxHeadBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if !inRequest {
            inRequest = true
            headComplete = false
            headBytes = 0
            requestStarted = .now()
            if deadline == nil { armDeadline(context: context, at: requestStarted + requestTimeout) }
        }
        if !headComplete {
            headBytes += buffer.readableBytes
            if headBytes > maxHeadBytes {
                refuse(APIError(status: 431, code: "headers_too_large", message: "the request head exceeds \(maxHeadBytes) bytes"),
                       status: "431 Request Header Fields Too Large")
                return
            }
        }
        context.fireChannelRead(data)
    }

    /// The HTTP decoder produced the head: from here on the body limit applies instead.
    func headReceived() {
        headComplete = true
    }

    /// The whole request (head, body, end) arrived in time.
    func requestReceived() {
        inRequest = false
    }

    private func armDeadline(context: ChannelHandlerContext, at time: NIODeadline) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(deadline: time) { [weak self] in
            self?.deadlineReached()
        }
    }

    private func deadlineReached() {
        deadline = nil
        guard inRequest, let context else { return }
        let due = requestStarted + requestTimeout
        if NIODeadline.now() >= due {
            refuse(.requestTimeout, status: "408 Request Timeout")
        } else {
            armDeadline(context: context, at: due)
        }
    }

    private func refuse(_ error: APIError, status: String) {
        guard let context, context.channel.isActive else { return }
        deadline?.cancel()
        let body = error.body
        var buffer = context.channel.allocator.buffer(capacity: 160 + body.count)
        buffer.writeString("HTTP/1.1 \(status)\r\ncontent-type: application/json\r\ncontent-length: \(body.count)\r\nconnection: close\r\n\r\n")
        buffer.writeBytes(body)
        // Written below the HTTP encoder: the decoder may be mid-request.
        context.writeAndFlush(wrapInboundOut(buffer) as NIOAny).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
