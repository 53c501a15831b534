import Dispatch
import Histogram
import NIOCore
import NIOPosix
import Synchronization

/// Makes the requests of one client connection and learns from the answers.
protocol RequestSource: AnyObject {
    /// The next request, as raw HTTP/1.1 bytes.
    func next() -> [UInt8]
    /// The answer's status and body for the request last made.
    func answered(status: Int, body: ByteBuffer)
}

/// What a run measured.
struct LoadResult: Sendable {
    var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var completed: UInt64 = 0
    var statuses: [Int: UInt64] = [:]
    var seconds: Double = 0

    var throughput: Double { Double(completed) / max(seconds, 1e-9) }

    mutating func merge(_ other: LoadResult) {
        latencies.add(other.latencies)
        completed += other.completed
        for (status, count) in other.statuses { statuses[status, default: 0] += count }
    }

    /// Latency at a percentile, in milliseconds.
    func milliseconds(_ percentile: Double) -> Double {
        Double(latencies.valueAtPercentile(percentile)) / 1e6
    }
}

/// The run's phase and the connections' results, shared by all handlers.
final class LoadState: Sendable {
    enum Phase: Int { case warmup = 0, measuring = 1, stopping = 2 }
    private let phaseValue = Atomic<Int>(Phase.warmup.rawValue)
    private let results = Mutex<[LoadResult]>([])

    var phase: Phase { Phase(rawValue: phaseValue.load(ordering: .relaxed))! }
    func set(_ phase: Phase) { phaseValue.store(phase.rawValue, ordering: .sequentiallyConsistent) }
    func add(_ result: LoadResult) { results.withLock { $0.append(result) } }
    var collected: [LoadResult] { results.withLock { $0 } }
}

/// Closed-loop load over ledgerd's Unix socket: each connection sends a request, waits for the
/// complete answer, records its latency, and sends the next, for a fixed time. Requests are
/// prebuilt bytes and answers are parsed only as far as the status line and content-length, so
/// the driver leaves the machine's CPU to the server it measures.
enum LoadDriver {
    static func run(socketPath: String, connections: Int, warmup: Double, duration: Double, threads: Int,
                    source: (Int) -> any RequestSource) async throws -> LoadResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let state = LoadState()
        var channels: [any Channel] = []
        for index in 0..<connections {
            let handler = ClosedLoopHandler(source: source(index), state: state)
            let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            channels.append(try await bootstrap.connect(unixDomainSocketPath: socketPath).get())
        }
        try await Task.sleep(for: .milliseconds(Int(warmup * 1000)))
        state.set(.measuring)
        let started = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(Int(duration * 1000)))
        state.set(.stopping)
        let elapsed = ContinuousClock.now - started
        for channel in channels { try? await channel.close() }
        try await group.shutdownGracefully()
        var total = LoadResult()
        for result in state.collected { total.merge(result) }
        total.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return total
    }
}

/// One closed-loop connection; all its state lives on its event loop.
final class ClosedLoopHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let source: any RequestSource
    private let state: LoadState
    private var result = LoadResult()
    private var pending = ByteBuffer()
    private var sentAt: UInt64 = 0
    private var headLength = -1
    private var bodyLength = 0
    private var status = 0

    init(source: any RequestSource, state: LoadState) {
        self.source = source
        self.state = state
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
    }

    private func send(context: ChannelHandlerContext) {
        let bytes = source.next()
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        sentAt = DispatchTime.now().uptimeNanoseconds
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        pending.writeBuffer(&chunk)
        while let body = takeResponse() {
            let latency = DispatchTime.now().uptimeNanoseconds - sentAt
            source.answered(status: status, body: body)
            switch state.phase {
            case .warmup:
                break
            case .measuring:
                _ = result.latencies.record(latency)
                result.completed += 1
                result.statuses[status, default: 0] += 1
            case .stopping:
                return
            }
            send(context: context)
        }
    }

    /// Takes one complete response off `pending`, if it has fully arrived.
    ///
    /// Parsed on bytes, not Strings: at tens of thousands of answers a second the driver shares
    /// the machine's two cores with ledgerd, and every microsecond spent here is lost to it.
    private func takeResponse() -> ByteBuffer? {
        if headLength < 0 {
            guard let head = pending.readableBytesView.withContiguousStorageIfAvailable({ Self.parseHead(UnsafeRawBufferPointer($0)) }) ?? nil
            else { return nil }
            (headLength, status, bodyLength) = head
        }
        guard pending.readableBytes >= headLength + bodyLength else { return nil }
        pending.moveReaderIndex(forwardBy: headLength)
        let body = pending.readSlice(length: bodyLength)!
        headLength = -1
        pending.discardReadBytes()
        return body
    }

    /// The head's length, status and Content-Length, once the whole head is in `bytes`.
    static func parseHead(_ bytes: UnsafeRawBufferPointer) -> (length: Int, status: Int, bodyLength: Int)? {
        let count = bytes.count
        guard count >= 16 else { return nil }
        var end = -1
        var index = 3
        while index < count {
            if bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 {
                end = index + 1
                break
            }
            index += 1
        }
        guard end > 0 else { return nil }
        // "HTTP/1.1 200 ..."
        let status = (Int(bytes[9]) - 48) * 100 + (Int(bytes[10]) - 48) * 10 + (Int(bytes[11]) - 48)
        let name = Array("content-length:".utf8)
        var bodyLength = 0
        var line = 0
        while line < end {
            var next = line
            while next < end && bytes[next] != 10 { next += 1 }
            if next - line > name.count {
                var matches = true
                for offset in 0..<name.count where bytes[line + offset] | 0x20 != name[offset] | 0x20 {
                    matches = false
                    break
                }
                if matches {
                    var position = line + name.count
                    while bytes[position] == 32 { position += 1 }
                    while position < next, bytes[position] >= 48, bytes[position] <= 57 {
                        bodyLength = bodyLength * 10 + Int(bytes[position]) - 48
                        position += 1
                    }
                }
            }
            line = next + 1
        }
        return (end, status, bodyLength)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.add(result)
    }
}

/// An HTTP/1.1 request as bytes.
enum RawRequest {
    static func make(_ method: String, _ path: String, body: [UInt8]? = nil) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nhost: localhost\r\n"
        if let body { head += "content-type: application/json\r\ncontent-length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }
}
