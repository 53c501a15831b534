import Ledger
import LedgerAPI
import NIOCore
import NIOHTTP1

/// Writes `GET /v1/events` as NDJSON: the log from a seq (optionally one conversation's events),
/// and with `follow`, every event committed afterwards, live.
///
/// History comes straight from the LMDB log, in chunks, as fast as the client reads (it waits
/// whenever the channel stops being writable). For a gap-free handover, the follower subscribes
/// *before* taking the log snapshot, then drops live events the snapshot already covered.
/// A follower that stops reading while events keep coming is cut off once its backlog exceeds
/// ``maxBacklog`` events, rather than growing memory without bound.
final class EventStreamer {
    static let chunkSize = 256
    static let maxBacklog = 50_000

    private let request: EventStreamRequest
    private let ledger: Ledger
    private let broadcaster: EventBroadcaster
    private let version: HTTPVersion
    private let context: ChannelHandlerContext
    /// Called once the stream ended properly, with the future of its last write.
    private let onFinish: (EventLoopFuture<Void>) -> Void
    private var subscription: Int?
    /// Seqs still to send from the log snapshot (key-filtered), or a seq range.
    private var historySeqs: [UInt64] = []
    private var historyIndex = 0
    private var nextSeq: UInt64 = 0
    private var historyEnd: UInt64 = 0
    private var inHistory = true
    private var backlog: [LoggedEvent] = []
    private var lastSent: UInt64 = 0
    private var finished = false
    private var writer = JSONWriter(capacity: 64 * 1024)

    init(_ request: EventStreamRequest, ledger: Ledger, broadcaster: EventBroadcaster, version: HTTPVersion,
         context: ChannelHandlerContext, onFinish: @escaping (EventLoopFuture<Void>) -> Void) {
        self.request = request
        self.ledger = ledger
        self.broadcaster = broadcaster
        self.version = version
        self.context = context
        self.onFinish = onFinish
    }

    func start() {
        var head = context.channel.allocator.buffer(capacity: 160)
        ResponseFraming.writeStreamHead(version: version, contentType: "application/x-ndjson", into: &head)
        // Flushed at once: a follow stream of a quiet ledger may have nothing to send for a
        // long time, and its client should not wait that long for the status line.
        context.writeAndFlush(NIOAny(head), promise: nil)
        if request.follow {
            // The writer thread delivers through this loop; the streamer is only touched on it.
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            subscription = broadcaster.subscribe(on: context.eventLoop, key: request.key) { delivered in
                switch delivered {
                case .success(let events): bound.value.receive(events)
                case .failure(let error): bound.value.fail(error)
                }
            }
        }
        do {
            let (head, seqs) = try ledger.read { snapshot -> (UInt64, [UInt64]) in
                let head = try snapshot.head().seq
                let seqs = try request.key.map { try snapshot.seqs(forKey: $0, from: request.from).filter { $0 <= head } } ?? []
                return (head, seqs)
            }
            historyEnd = head
            historySeqs = seqs
            nextSeq = request.from
            lastSent = request.from - 1
        } catch {
            fail(error)
            return
        }
        pump()
    }

    /// The channel became writable (or the stream just started): send what can be sent.
    func pump() {
        guard !finished else { return }
        while context.channel.isWritable && inHistory {
            do {
                if try !sendHistoryChunk() { inHistory = false }
            } catch {
                fail(error)
                return
            }
        }
        if inHistory { return }
        if !request.follow {
            finish()
            return
        }
        drainBacklog()
    }

    /// Sends up to one chunk of the log snapshot; false when the history is done.
    private func sendHistoryChunk() throws -> Bool {
        writer.reset()
        var sent = 0
        try ledger.read { snapshot in
            if request.key != nil {
                while sent < Self.chunkSize, historyIndex < historySeqs.count {
                    let seq = historySeqs[historyIndex]
                    historyIndex += 1
                    if let record = try snapshot.record(seq) { try append(record: record) }
                    sent += 1
                }
            } else if nextSeq <= historyEnd {
                let through = min(historyEnd, nextSeq + UInt64(Self.chunkSize) - 1)
                try snapshot.forEachRecord(from: nextSeq, through: through) { _, record in
                    try append(record: Array(record))
                    sent += 1
                    return true
                }
                nextSeq = through + 1
            }
        }
        if sent > 0 { write(writer.bytes) }
        return request.key != nil ? historyIndex < historySeqs.count : nextSeq <= historyEnd
    }

    private func append(record: [UInt8]) throws {
        let (event, hash) = try record.withUnsafeBytes { try StoredRecord.decode($0) }
        EventJSON.write(LoggedEvent(event: event, hash: hash), into: &writer)
        writer.newline()
        lastSent = event.seq
    }

    /// Live events from the writer (on this event loop).
    private func receive(_ events: [LoggedEvent]) {
        guard !finished else { return }
        backlog += events
        if backlog.count > Self.maxBacklog {
            fail(StreamError.tooSlow)
            return
        }
        if !inHistory { drainBacklog() }
    }

    private func drainBacklog() {
        guard !backlog.isEmpty else { return }
        writer.reset()
        var index = 0
        while index < backlog.count && context.channel.isWritable {
            let logged = backlog[index]
            index += 1
            // Anything the log snapshot covered was sent already.
            if logged.event.seq <= max(lastSent, historyEnd) && logged.event.seq <= historyEnd { continue }
            EventJSON.write(logged, into: &writer)
            writer.newline()
            lastSent = logged.event.seq
            if writer.bytes.count > 60_000 {
                write(writer.bytes)
                writer.reset()
            }
        }
        backlog.removeFirst(index)
        if !writer.bytes.isEmpty { write(writer.bytes) }
    }

    private func write(_ bytes: [UInt8]) {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count + 16)
        ResponseFraming.writeStreamPiece(bytes, version: version, into: &buffer)
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    /// Ends the response properly (history done, or the server is shutting down).
    func finish() {
        guard !finished else { return }
        finished = true
        unsubscribe()
        var end = context.channel.allocator.buffer(capacity: 8)
        ResponseFraming.writeStreamEnd(version: version, into: &end)
        onFinish(context.writeAndFlush(NIOAny(end)))
    }

    /// Gives up: the response cannot be completed, so the connection is closed.
    private func fail(_ error: any Error) {
        guard !finished else { return }
        finished = true
        unsubscribe()
        context.close(promise: nil)
    }

    /// The connection went away.
    func stop() {
        finished = true
        unsubscribe()
    }

    private func unsubscribe() {
        if let subscription { broadcaster.unsubscribe(subscription) }
        subscription = nil
    }

    enum StreamError: Error { case tooSlow }
}
