import Foundation
import Ledger
import LedgerAPI
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What became of a transition: accepted, or refused with a stable code and the conversation's
/// current state, which the caller adopts instead of retrying blindly.
public enum TransitionOutcome: Sendable, Hashable {
    case accepted(TransitionResult)
    case rejected(code: RejectionCode, message: String, current: ConversationState)

    /// The conversation after the call, either way.
    public var session: ConversationState {
        switch self {
        case .accepted(let result): result.session
        case .rejected(_, _, let current): current
        }
    }

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }

    public var rejectionCode: RejectionCode? {
        if case .rejected(let code, _, _) = self { return code }
        return nil
    }
}

/// A page of `GET /v1/sessions`.
public struct SessionList: Sendable {
    public var sessions: [ConversationState]
    public var next: String?
}

/// A client of ledgerd's HTTP/JSON API over its Unix domain socket.
///
/// Calls may run concurrently: each takes a keep-alive connection from a small pool (opening one
/// when none is free) and gives it back after the answer.
///
/// ```swift
/// let ledger = LedgerClient(socketPath: "./ledgerd.sock")
/// let current = try await ledger.session("slack:C123:thread9")
/// switch try await ledger.transition(current.key, .resumed(current.sessionId!, expectedVersion: current.version)) {
/// case .accepted(let result): ...           // run the turn
/// case .rejected(let code, _, let now): ... // adopt `now` (see docs/integration.md)
/// }
/// ```
public final class LedgerClient: Sendable {
    public let socketPath: String
    private let group: any EventLoopGroup
    private let idle = Mutex<[HTTPConnection]>([])
    private let maxIdle: Int

    /// - Parameters:
    ///   - socketPath: ledgerd's socket.
    ///   - maxIdleConnections: connections kept open between calls.
    public init(socketPath: String, maxIdleConnections: Int = 64, group: (any EventLoopGroup)? = nil) {
        self.socketPath = socketPath
        self.maxIdle = maxIdleConnections
        self.group = group ?? MultiThreadedEventLoopGroup.singleton
    }

    deinit {
        for connection in idle.withLock({ $0 }) { connection.close() }
    }

    /// Closes the idle connections.
    public func close() {
        for connection in idle.withLock({ conns in defer { conns.removeAll() }; return conns }) { connection.close() }
    }

    // MARK: The API

    /// `GET /v1/sessions/{key}`: the conversation's current state (an unknown key is state none, version 0).
    public func session(_ key: String) async throws -> ConversationState {
        try SessionJSON.read(try await json(.GET, "/v1/sessions/\(Self.encode(key))"))
    }

    /// `POST /v1/sessions/{key}/transitions`.
    ///
    /// - Returns: `.accepted`, or `.rejected` with a ``RejectionCode`` and the current state (409).
    /// - Throws: ``LedgerClientError/server(_:)`` for malformed requests (400) and server
    ///   trouble; transport errors.
    public func transition(_ key: String, _ request: TransitionRequest) async throws -> TransitionOutcome {
        let reply = try await send(.POST, "/v1/sessions/\(Self.encode(key))/transitions", body: TransitionBody.encode(request))
        let value = try Self.parse(reply)
        switch reply.status {
        case 200:
            return .accepted(try TransitionResult.read(value))
        case 409:
            let (error, current) = try Self.rejection(value)
            guard let code = RejectionCode(rawValue: error.code), let current else {
                throw LedgerClientError.malformedResponse("409 without a known code and the current state")
            }
            return .rejected(code: code, message: error.message, current: current)
        default:
            throw LedgerClientError.server(try Self.apiError(value, status: reply.status))
        }
    }

    /// `GET /v1/sessions/{key}/history`: the conversation's events in order.
    public func history(_ key: String, after: UInt64 = 0, limit: Int = 1_000) async throws -> [LoggedEvent] {
        var f = try FieldReader(try await json(.GET, "/v1/sessions/\(Self.encode(key))/history?after=\(after)&limit=\(limit)"), name: "body")
        return try (try f.array("events") ?? []).map { (value) throws(APIError) in try EventJSON.read(value) }
    }

    /// `GET /v1/sessions?owner=&state=&limit=&after=`.
    public func sessions(owner: String? = nil, state: String? = nil, limit: Int = 100, after: String? = nil) async throws -> SessionList {
        var query = "limit=\(limit)"
        if let owner { query += "&owner=\(Self.encode(owner))" }
        if let state { query += "&state=\(Self.encode(state))" }
        if let after { query += "&after=\(Self.encode(after))" }
        var f = try FieldReader(try await json(.GET, "/v1/sessions?\(query)"), name: "body")
        let sessions = try (try f.array("sessions") ?? []).map { (value) throws(APIError) in try SessionJSON.read(value) }
        return SessionList(sessions: sessions, next: try f.string("next"))
    }

    /// `POST /v1/owners/{owner}/boot`: announce a boot, get the new epoch and what was invalidated.
    public func boot(owner: String, environment: RuntimeEnvironment? = nil, invalidate: InvalidationPolicy = .all) async throws -> BootResult {
        try BootResult.read(try await json(.POST, "/v1/owners/\(Self.encode(owner))/boot",
                                           body: BootBody.encode(environment: environment, policy: invalidate)))
    }

    /// `GET /v1/status`.
    public func status() async throws -> JSONValue {
        try await json(.GET, "/v1/status")
    }

    /// `POST /v1/admin/rebuild`: rebuild the projection from the log and swap it in.
    public func rebuildProjection() async throws -> JSONValue {
        try await json(.POST, "/v1/admin/rebuild", body: [])
    }

    /// `POST /v1/admin/check`.
    public func checkProjection(full: Bool, repair: Bool = true) async throws -> JSONValue {
        try await json(.POST, "/v1/admin/check", body: Array(#"{"level":"\#(full ? "full" : "quick")","repair":\#(repair)}"#.utf8))
    }

    /// `GET /v1/events?from=&key=&follow=`: events as they are in the log, then (with `follow`)
    /// as they are committed. The stream ends when ledgerd ends it or the task is cancelled.
    public func events(from: UInt64 = 1, key: String? = nil, follow: Bool = false) -> AsyncThrowingStream<LoggedEvent, any Error> {
        var path = "/v1/events?from=\(from)&follow=\(follow)"
        if let key { path += "&key=\(Self.encode(key))" }
        let (stream, continuation) = AsyncThrowingStream<LoggedEvent, any Error>.makeStream()
        let target = path
        let task = Task {
            let connection: HTTPConnection
            do {
                connection = try await HTTPConnection.connect(socketPath: socketPath, group: group)
            } catch {
                continuation.finish(throwing: error)
                return
            }
            let splitter = LineSplitter()
            do {
                let reply = try await withTaskCancellationHandler {
                    try await connection.exchange(method: .GET, path: target, body: nil) { chunk in
                        for line in splitter.feed(chunk) {
                            do {
                                continuation.yield(try EventJSON.read(try JSONParser.parse(line)))
                            } catch {
                                continuation.finish(throwing: LedgerClientError.malformedResponse("event line: \(error)"))
                            }
                        }
                    }
                } onCancel: {
                    connection.close()
                }
                if reply.status != 200 {
                    continuation.finish(throwing: LedgerClientError.server(APIError(status: reply.status, code: "stream_refused", message: "status \(reply.status)")))
                } else {
                    continuation.finish()
                }
            } catch is RequestNotSent {
                continuation.finish(throwing: Task.isCancelled ? CancellationError() : LedgerClientError.connectionLost("closed by ledgerd before the request was sent"))
            } catch {
                continuation.finish(throwing: Task.isCancelled ? CancellationError() : error)
            }
            connection.close()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    // MARK: Transport

    /// Any request; for endpoints without a typed call, and for tests.
    ///
    /// A request whose connection turns out to be closed before any of it was written (a kept
    /// connection ledgerd closed as idle, or one this process opened and then could not use
    /// for longer than `--idle-timeout`) is sent once more on a new connection: nothing of it
    /// reached ledgerd, so even a write cannot be applied twice.
    public func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws -> HTTPReply {
        var connection = idle.withLock { $0.popLast() }
        if let existing = connection, !existing.isUsable { existing.close(); connection = nil }
        var usable: HTTPConnection
        if let connection { usable = connection } else { usable = try await HTTPConnection.connect(socketPath: socketPath, group: group) }
        let reply: HTTPReply
        do {
            reply = try await usable.exchange(method: method, path: path, body: body)
        } catch is RequestNotSent {
            usable.close()
            usable = try await HTTPConnection.connect(socketPath: socketPath, group: group)
            do {
                reply = try await usable.exchange(method: method, path: path, body: body)
            } catch {
                usable.close()
                throw error is RequestNotSent ? LedgerClientError.connectionLost("closed by ledgerd before the request was sent, twice") : error
            }
        } catch {
            usable.close()
            throw error
        }
        let closing = reply.headers.contains { $0.0.lowercased() == "connection" && $0.1.lowercased() == "close" }
        if closing || !usable.isUsable {
            usable.close()
        } else {
            let kept = idle.withLock { conns -> Bool in
                guard conns.count < maxIdle else { return false }
                conns.append(usable)
                return true
            }
            if !kept { usable.close() }
        }
        return reply
    }

    /// Sends and returns the parsed JSON body of a 200 answer; other statuses throw.
    private func json(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws -> JSONValue {
        let reply = try await send(method, path, body: body)
        let value = try Self.parse(reply)
        guard reply.status == 200 else { throw LedgerClientError.server(try Self.apiError(value, status: reply.status)) }
        return value
    }

    static func parse(_ reply: HTTPReply) throws -> JSONValue {
        do {
            return try JSONParser.parse(reply.body)
        } catch {
            throw LedgerClientError.malformedResponse("status \(reply.status), body is not JSON: \(error)")
        }
    }

    static func apiError(_ value: JSONValue, status: Int) throws -> APIError {
        try rejection(value).0.with(status: status)
    }

    static func rejection(_ value: JSONValue) throws -> (APIError, ConversationState?) {
        guard case .object(let object) = value, case .object(let error)? = object["error"],
              case .string(let code)? = error["code"], case .string(let message)? = error["message"] else {
            throw LedgerClientError.malformedResponse("an error answer without error.code and error.message")
        }
        var field: String?
        if case .string(let name)? = error["field"] { field = name }
        let session = try object["session"].map { (value) throws(APIError) in try SessionJSON.read(value) }
        return (APIError(status: 0, code: code, message: message, field: field), session)
    }

    /// Percent-encodes a path segment or query value.
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:@")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension APIError {
    func with(status: Int) -> APIError {
        var copy = self
        copy.status = status
        return copy
    }
}

/// Splits a byte stream into lines (NDJSON records).
final class LineSplitter: @unchecked Sendable {
    private var pending: [UInt8] = []

    func feed(_ chunk: ByteBuffer) -> [[UInt8]] {
        pending.append(contentsOf: chunk.readableBytesView)
        var lines: [[UInt8]] = []
        var start = 0
        for (index, byte) in pending.enumerated() where byte == 0x0A {
            if index > start { lines.append(Array(pending[start..<index])) }
            start = index + 1
        }
        pending.removeFirst(start)
        return lines
    }
}
