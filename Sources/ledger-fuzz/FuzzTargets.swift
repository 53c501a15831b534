import Ledger
import LedgerAPI
import LedgerServer
import NIOCore

/// The decoders that face bytes we did not write: HTTP requests, request bodies and the JSON
/// under them, request times, stored records and state rows read back from disk.
///
/// The first byte of an input picks the target, the rest is its input, so one corpus and one
/// libFuzzer run cover them all. Each target checks a property that holds for every input, not
/// only for well-formed ones: a decoder either refuses with its typed error or returns a value
/// that survives a write and a read unchanged. A violation stops the process (`fatalError`), which
/// is what libFuzzer reports and keeps as a crashing input.
enum FuzzTarget: UInt8, CaseIterable {
    case json = 0
    case transitionBody
    case bootBody
    case storedRecord
    case eventBody
    case conversationState
    case sessionRecord
    case ownerState
    case timestamp
    // New targets go last: a corpus input's first byte keeps naming the target it was made for.
    case httpRequest

    /// Runs the target the first byte names (modulo the number of targets) on the rest.
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let target = FuzzTarget(rawValue: first % UInt8(allCases.count))!
        target.run(UnsafeRawBufferPointer(rebasing: input.dropFirst()))
    }

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .json: Self.json(bytes)
        case .transitionBody: Self.transitionBody(bytes)
        case .bootBody: Self.bootBody(bytes)
        case .storedRecord: Self.storedRecord(bytes)
        case .eventBody: Self.eventBody(bytes)
        case .conversationState: Self.roundTrip(bytes, StateCodec.encode) { try StateCodec.decodeConversation(key: "k", $0) }
        case .sessionRecord: Self.roundTrip(bytes, StateCodec.encode) { try StateCodec.decodeSession($0) }
        case .ownerState: Self.roundTrip(bytes, StateCodec.encode) { try StateCodec.decodeOwner(name: "o", $0) }
        case .timestamp: Self.timestamp(bytes)
        case .httpRequest: Self.httpRequest(bytes)
        }
    }

    /// A parsed document writes back to bytes that parse to the same value; a refusal points
    /// inside the input.
    private static func json(_ bytes: UnsafeRawBufferPointer) {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch {
            require(error.offset >= 0 && error.offset <= bytes.count, "JSON error offset \(error.offset) outside \(bytes.count) bytes")
            return
        }
        var writer = JSONWriter()
        writer.value(value)
        require((try? JSONParser.parse(writer.bytes)) == value, "JSON value changed by a write and a parse")
    }

    /// A body either is refused with `invalid_request` naming a field, or reads to a request
    /// that the state machine validates without crashing and whose canonical encoding is a
    /// fixed point of read-then-write.
    private static func transitionBody(_ bytes: UnsafeRawBufferPointer) {
        // The one-pass reader of the common shape answers only what the full way answers too.
        let common = TransitionBody.readCommonShape(bytes)
        guard let value = try? JSONParser.parse(bytes) else {
            require(common == nil, "the common-shape reader took a body that is not JSON: \(String(decoding: bytes, as: UTF8.self))")
            return
        }
        let request: TransitionRequest
        do { request = try TransitionBody.read(value) } catch {
            require(common == nil, "the common-shape reader took a body the full way refuses (\(error.message)): \(String(decoding: bytes, as: UTF8.self))")
            require(error.status == 400 && error.code == "invalid_request" && error.field != nil,
                    "a bad body answered \(error.status) \(error.code) (field \(error.field ?? "none")), not 400 invalid_request naming the field")
            return
        }
        if let common { require(common == request, "the common-shape reader read \(common), the full way \(request)") }
        _ = SessionMachine.validate(.transition(key: "k", request))
        let once = reread(TransitionBody.encode(request), TransitionBody.read)
        let twice = reread(TransitionBody.encode(once), TransitionBody.read)
        require(once == twice, "transition body not stable under write and read: \(once) vs \(twice)")
    }

    private static func bootBody(_ bytes: UnsafeRawBufferPointer) {
        guard let value = try? JSONParser.parse(bytes) else { return }
        let boot: (RuntimeEnvironment?, InvalidationPolicy)
        do { boot = try BootBody.read(value) } catch {
            require(error.status == 400 && error.code == "invalid_request", "a bad boot body answered \(error.status) \(error.code), not 400 invalid_request")
            return
        }
        _ = SessionMachine.validate(.boot(owner: "o", environment: boot.0, policy: boot.1))
        let once = reread(BootBody.encode(environment: boot.0, policy: boot.1), BootBody.read)
        let twice = reread(BootBody.encode(environment: once.0, policy: once.1), BootBody.read)
        require(once.0 == twice.0 && once.1 == twice.1, "boot body not stable under write and read")
    }

    /// A record either fails its checks (checksum, format, lengths) or decodes to an event, and
    /// the three ways of reading its stored hash agree.
    private static func storedRecord(_ bytes: UnsafeRawBufferPointer) {
        guard let (event, hash) = try? StoredRecord.decode(bytes), let parts = try? StoredRecord.parts(bytes) else { return }
        require(parts.storedHash == hash, "decode and parts disagree on the stored hash")
        require(StoredRecord.storedHash(bytes) == hash, "storedHash disagrees with decode")
        let body = EventCodec.encode(event)
        require(body.withUnsafeBytes { try? EventCodec.decode($0) } == event, "a decoded record's event changed by an encode and a decode")
    }

    /// The event encoding is canonical: whatever decodes re-encodes to exactly the same bytes.
    private static func eventBody(_ bytes: UnsafeRawBufferPointer) {
        guard let event = try? EventCodec.decode(bytes) else { return }
        require(EventCodec.encode(event).elementsEqual(bytes), "an event body that is not the canonical encoding of \(event) was accepted")
    }

    /// `decode(encode(decode(bytes)))` equals `decode(bytes)` whenever the latter succeeds.
    private static func roundTrip<Value: Equatable>(_ bytes: UnsafeRawBufferPointer, _ encode: (Value) -> [UInt8],
                                                    _ decode: (UnsafeRawBufferPointer) throws -> Value) {
        guard let value = try? decode(bytes) else { return }
        let again = encode(value).withUnsafeBytes { try? decode($0) }
        require(again == value, "\(Value.self) changed by an encode and a decode")
    }

    /// A time a client may pass (`since`, `until`) parses to microseconds that format and parse
    /// back to the same instant.
    private static func timestamp(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let micros = Timestamp.parse(text) else { return }
        require(Timestamp.parse(Timestamp.format(micros)) == micros, "'\(text)' -> \(micros) does not survive format and parse")
    }

    /// Received bytes frame the same requests, or meet the same refusal, however the socket
    /// splits them; a refusal is 400, 413 or 431, and no request carries a body over the limit.
    private static func httpRequest(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes)
        let whole = frame([input])
        // Pieces of 1 to 8 bytes, their lengths taken from the input itself (deterministic).
        var pieces: [[UInt8]] = []
        var start = 0
        while start < input.count {
            let end = min(input.count, start + 1 + Int(input[start] % 8))
            pieces.append(Array(input[start..<end]))
            start = end
        }
        let split = frame(pieces)
        require(split.requests == whole.requests && split.refusal == whole.refusal,
                "the framing of \(input.count) bytes depends on how they arrive: \(whole) vs \(split)")
        if let refusal = whole.refusal {
            require([400, 413, 431].contains(refusal.status), "an HTTP refusal answered \(refusal.status) \(refusal.code)")
        }
        for request in whole.requests {
            require((request.body?.readableBytes ?? 0) <= httpBodyLimit, "a body of \(request.body?.readableBytes ?? 0) bytes passed the limit")
        }
    }

    /// Small limits, so that short inputs reach them.
    private static let httpHeadLimit = 256
    private static let httpBodyLimit = 64

    private static func frame(_ pieces: [[UInt8]]) -> (requests: [ParsedRequest], refusal: APIError?) {
        var parser = RequestParser(maxHeadBytes: httpHeadLimit, maxBodyBytes: httpBodyLimit)
        var requests: [ParsedRequest] = []
        for piece in pieces {
            parser.append(ByteBuffer(bytes: piece))
            do {
                while let request = try parser.nextRequest() { requests.append(request) }
            } catch {
                return (requests, error)
            }
        }
        return (requests, nil)
    }

    private static func reread<Value>(_ bytes: [UInt8], _ read: (JSONValue) throws(APIError) -> Value) -> Value {
        do { return try read(try JSONParser.parse(bytes)) } catch {
            fatalError("our own encoding was refused: \(String(decoding: bytes, as: UTF8.self)): \(error)")
        }
    }

    private static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz property violated: \(message())") }
    }
}
