import Foundation
import Ledger
import LedgerAPI
import Logging
import NIOCore
import NIOHTTP1
import Projections

/// The HTTP/JSON API of ledgerd, as a function from a complete request to a reply: no socket,
/// so it is tested directly. JSON is parsed and written here, on the caller's event loop; only
/// decided commands reach the writer.
public final class LedgerHandler: Sendable {
    let ledger: Ledger
    let projection: Projection
    let committer: GroupCommitter
    let broadcaster: EventBroadcaster
    let metrics: LedgerMetrics
    let configuration: ServerConfiguration
    let logger: Logger
    let startupCheck: StartupCheckStatus
    let startedAt = ContinuousClock.now

    static let version = "0.1.0"

    init(ledger: Ledger, projection: Projection, committer: GroupCommitter, broadcaster: EventBroadcaster,
         metrics: LedgerMetrics, configuration: ServerConfiguration, startupCheck: StartupCheckStatus, logger: Logger) {
        self.startupCheck = startupCheck
        self.ledger = ledger
        self.projection = projection
        self.committer = committer
        self.broadcaster = broadcaster
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
    }

    /// The routes, as labels of the request latency metric. Unknown paths share one label, so
    /// clients cannot create metric series at will.
    enum Route: String, CaseIterable, Sendable {
        case healthz = "/healthz", metrics = "/metrics", status = "/v1/status", sessions = "/v1/sessions", events = "/v1/events"
        case session = "/v1/sessions/{key}", history = "/v1/sessions/{key}/history", transitions = "/v1/sessions/{key}/transitions"
        case boot = "/v1/owners/{owner}/boot", rebuild = "/v1/admin/rebuild", check = "/v1/admin/check", other = "other"

        init(_ segments: [String]) {
            switch segments.count {
            case 1 where segments[0] == "healthz": self = .healthz
            case 1 where segments[0] == "metrics": self = .metrics
            case 2 where segments[0] == "v1": self = Route(rawValue: "/v1/" + segments[1]) ?? .other
            case 3 where segments[0] == "v1" && segments[1] == "sessions": self = .session
            case 3 where segments[0] == "v1" && segments[1] == "admin": self = Route(rawValue: "/v1/admin/" + segments[2]) ?? .other
            case 4 where segments[0] == "v1" && segments[1] == "sessions" && segments[3] == "history": self = .history
            case 4 where segments[0] == "v1" && segments[1] == "sessions" && segments[3] == "transitions": self = .transitions
            case 4 where segments[0] == "v1" && segments[1] == "owners" && segments[3] == "boot": self = .boot
            default: self = .other
            }
        }
    }

    /// Routes and answers one request.
    public func handle(_ request: APIRequest, on eventLoop: any EventLoop) -> APIReply {
        handleRouted(request, on: eventLoop).reply
    }

    /// Routes and answers one request, and says which route it took (for the latency metric).
    func handleRouted(_ request: APIRequest, on eventLoop: any EventLoop) -> (reply: APIReply, route: Route) {
        let target: RequestTarget
        do {
            target = try RequestTarget(request.uri)
        } catch {
            return (.response(APIResponse(error)), .other)
        }
        let route = Route(target.segments)
        do {
            return (try self.route(request, target, on: eventLoop), route)
        } catch let error as APIError {
            return (.response(APIResponse(error)), route)
        } catch {
            logger.error("request failed", metadata: ["method": "\(request.method)", "uri": "\(request.uri)", "error": "\(error)"])
            return (.response(APIResponse(.internal("\(error)"))), route)
        }
    }

    private func route(_ request: APIRequest, _ target: RequestTarget, on eventLoop: any EventLoop) throws -> APIReply {
        let s = target.segments
        func allow(_ methods: HTTPMethod...) throws {
            guard methods.contains(request.method) else {
                let names = methods.map(\.rawValue)
                throw RouteError.methodNotAllowed(APIError.methodNotAllowed(request.method.rawValue, names), names.joined(separator: ", "))
            }
        }
        do {
            switch s.count {
            case 1 where s[0] == "healthz":
                try allow(.GET)
                return .response(json(Array(#"{"status":"ok"}"#.utf8)))
            case 1 where s[0] == "metrics":
                try allow(.GET)
                return .response(APIResponse(contentType: "text/plain; version=0.0.4", body: metrics.exposition(ledger: ledger)))
            case 2 where s[0] == "v1" && s[1] == "status":
                try allow(.GET)
                return .response(try status())
            case 2 where s[0] == "v1" && s[1] == "sessions":
                try allow(.GET)
                return try readReply(on: eventLoop) { try self.listSessions(target) }
            case 2 where s[0] == "v1" && s[1] == "events":
                try allow(.GET)
                return .stream(try eventStream(target))
            case 3 where s[0] == "v1" && s[1] == "sessions" && !s[2].isEmpty:
                try allow(.GET)
                return .response(currentSession(try checkedKey(s[2])))
            case 4 where s[0] == "v1" && s[1] == "sessions" && s[3] == "history" && !s[2].isEmpty:
                try allow(.GET)
                return .response(try history(key: try checkedKey(s[2]), target))
            case 4 where s[0] == "v1" && s[1] == "sessions" && s[3] == "transitions" && !s[2].isEmpty:
                try allow(.POST)
                return .future(try transition(key: try checkedKey(s[2]), request, on: eventLoop))
            case 4 where s[0] == "v1" && s[1] == "owners" && s[3] == "boot" && !s[2].isEmpty:
                try allow(.POST)
                return .future(try boot(owner: s[2], request, on: eventLoop))
            case 3 where s[0] == "v1" && s[1] == "admin" && s[2] == "rebuild":
                try allow(.POST)
                if let body = request.body, body.readableBytes > 0 {
                    try FieldReader(try parseBody(request), name: "body").finish()  // takes no fields
                }
                return .future(rebuild(on: eventLoop))
            case 3 where s[0] == "v1" && s[1] == "admin" && s[2] == "check":
                try allow(.POST)
                return .future(try check(request, on: eventLoop))
            default:
                throw APIError.notFound(String(request.uri.split(separator: "?").first ?? ""))
            }
        } catch RouteError.methodNotAllowed(let error, let allowed) {
            return .response(APIResponse(error, headers: [("allow", allowed)]))
        }
    }

    private enum RouteError: Error {
        case methodNotAllowed(APIError, String)
    }

    private func json(_ body: [UInt8], status: HTTPResponseStatus = .ok) -> APIResponse {
        APIResponse(status: status, body: body)
    }

    private func checkedKey(_ key: String) throws(APIError) -> String {
        if let problem = InputLimits.checkIdentifier(key, field: "key") { throw APIError(problem) }
        return key
    }

    private func parseBody(_ request: APIRequest) throws(APIError) -> JSONValue {
        guard let body = request.body, body.readableBytes > 0 else { throw .invalid("body", "a JSON object is required") }
        do {
            return try body.withUnsafeReadableBytes { bytes in Result { () throws(JSONParseError) in try JSONParser.parse(bytes) } }.get()
        } catch {
            throw .invalid("body", "is not valid JSON: \(error)")
        }
    }

    // MARK: Reads

    /// A conversation's current state, from the ledger's head state rather than the projection:
    /// the very state the next write to `key` is fenced against, as of the last durable commit.
    /// So it never waits for the projection to catch up (which may linger over a second of
    /// writes under load) and a hand-edited projection row cannot be served as current.
    private func currentSession(_ key: String) -> APIResponse {
        do {
            return APIResponse(body: SessionJSON.encode(try ledger.conversation(key)))
        } catch {
            logger.error("read of head state failed", metadata: ["key": "\(key)", "error": "\(error)"])
            return APIResponse(.internal("\(error)"))
        }
    }

    /// Runs a projection read; if the projection turns out damaged, repairs it on the writer and
    /// reads again, so the client gets an answer rather than an error.
    ///
    /// Writes are answered once durable, before the projection has them; so a read first waits
    /// (briefly, and only when it must) until the projection covers every write answered before
    /// it began.
    private func readReply(on eventLoop: any EventLoop, _ read: @escaping @Sendable () throws -> APIResponse) throws -> APIReply {
        guard let covered = committer.projectionCoversCommits(on: eventLoop) else {
            return readRepairing(on: eventLoop, read)
        }
        return .future(covered.flatMap {
            switch self.readRepairing(on: eventLoop, read) {
            case .response(let response): return eventLoop.makeSucceededFuture(response)
            case .future(let future): return future
            case .stream: preconditionFailure("a read answers with a response")
            }
        })
    }

    private func readRepairing(on eventLoop: any EventLoop, _ read: @escaping @Sendable () throws -> APIResponse) -> APIReply {
        do {
            return .response(try read())
        } catch let error as ProjectionError where error.code == .damaged {
            logger.error("projection read failed: \(error.message); repairing before answering")
            let repaired = committer.perform(on: eventLoop) { [projection] in
                try projection.repair(ProjectionDamage(.damaged, error.message))
            }
            return .future(repaired.flatMapThrowing { _ in try read() })
        } catch let error as APIError {
            return .response(APIResponse(error))
        } catch {
            logger.error("read failed", metadata: ["error": "\(error)"])
            return .response(APIResponse(.internal("\(error)")))
        }
    }

    /// A conversation's history, read from the log through the head state's per-conversation
    /// index (not the projection): it holds every write answered before the request arrived.
    private func history(key: String, _ target: RequestTarget) throws -> APIResponse {
        let limit = Int(try target.count("limit") ?? 1_000)
        guard (1...10_000).contains(limit) else { throw APIError.invalid("limit", "must be between 1 and 10000") }
        let after = try target.count("after") ?? 0
        let events: [LoggedEvent]
        do {
            events = try ledger.read { try $0.history(key: key, after: after, limit: limit + 1) }
        } catch {
            logger.error("history read failed", metadata: ["key": "\(key)", "error": "\(error)"])
            return APIResponse(.internal("\(error)"))
        }
        var w = JSONWriter(capacity: 64 + events.count * 400)
        w.beginObject()
        w.key("key"); w.value(key)
        w.key("events")
        w.beginArray()
        for event in events.prefix(limit) { EventJSON.write(event, into: &w) }
        w.endArray()
        w.key("next"); w.value(events.count > limit ? events[limit - 1].event.seq : nil)
        w.endObject()
        return json(w.bytes)
    }

    private func listSessions(_ target: RequestTarget) throws -> APIResponse {
        var state: SessionStateFilter?
        if let name = target.query["state"], !name.isEmpty {
            guard let filter = SessionStateFilter(rawValue: name) else { throw APIError.invalid("state", "must be active or none, got '\(name)'") }
            state = filter
        }
        let owner = target.query["owner"].flatMap { $0.isEmpty ? nil : $0 }
        let after = target.query["after"].flatMap { $0.isEmpty ? nil : $0 }
        if let after, !ProjectionQueries.isValidCursor(after) { throw APIError.invalid("after", "is not a valid cursor (use the \"next\" value of the previous page)") }
        let limit = Int(try target.count("limit") ?? 100)
        guard (1...1_000).contains(limit) else { throw APIError.invalid("limit", "must be between 1 and 1000") }
        let page = try projection.read { try $0.sessions(owner: owner, state: state, after: after, limit: limit) }
        var w = JSONWriter(capacity: 64 + page.sessions.count * 300)
        w.beginObject()
        w.key("sessions")
        w.beginArray()
        for session in page.sessions { SessionJSON.write(session, into: &w) }
        w.endArray()
        w.key("next"); w.value(page.next)
        w.endObject()
        return json(w.bytes)
    }

    private func status() throws -> APIResponse {
        let head = try ledger.head()
        let checkpoint = try projection.checkpoint()
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.key("version"); w.value(Self.version)
        w.key("headSeq"); w.value(head.seq)
        w.key("projectionSeq"); w.value(checkpoint.seq)
        w.key("chainHead"); w.value(head.hash.hex)
        w.key("projectionGeneration"); w.value(projection.generation)
        w.key("dataDir"); w.value(configuration.dataDirectory)
        w.key("socket"); w.value(configuration.socketPath)
        w.key("pid"); w.value(Int64(getpid()))
        w.key("uptimeSeconds"); w.value(Double((ContinuousClock.now - startedAt).nanoseconds) / 1e9)
        w.key("followers"); w.value(broadcaster.count)
        w.key("projectionCheck"); w.value(startupCheck.current.rawValue)
        w.endObject()
        return json(w.bytes)
    }

    private func eventStream(_ target: RequestTarget) throws -> EventStreamRequest {
        let key = target.query["key"].flatMap { $0.isEmpty ? nil : $0 }
        if let key { _ = try checkedKey(key) }
        return EventStreamRequest(from: max(1, try target.count("from") ?? 1), key: key, follow: try target.flag("follow") ?? false)
    }

    // MARK: Writes

    private func transition(key: String, _ request: APIRequest, on eventLoop: any EventLoop) throws -> EventLoopFuture<APIResponse> {
        // The common shape is read in one pass; anything else (and every refusal) the full way.
        let common = request.body.flatMap { $0.withUnsafeReadableBytes(TransitionBody.readCommonShape) }
        let body = try common ?? TransitionBody.read(try parseBody(request))
        let command = Command.transition(key: key, body)
        if let problem = SessionMachine.validate(command) { throw APIError(problem) }
        let promise = eventLoop.makePromise(of: APIResponse.self)
        committer.submit(CommandEnvelope(command, actor: request.peer), on: eventLoop) { result in
            switch result {
            case .success(let receipt): promise.succeed(Self.transitionResponse(receipt))
            case .failure(let error): promise.succeed(APIResponse(error))
            }
        }
        return promise.futureResult
    }

    static func transitionResponse(_ receipt: CommitReceipt) -> APIResponse {
        switch receipt.outcome {
        case .accepted(_, let conversation?):
            let seq = receipt.events.last?.event.seq ?? conversation.lastSeq
            let result = TransitionResult(seq: seq, version: conversation.version, appended: !receipt.events.isEmpty, session: conversation)
            return APIResponse(body: result.encode())
        case .rejected(let rejection, let conversation):
            let error = APIError(rejection)
            if error.status == 409 {
                return APIResponse(status: .conflict, body: RejectionBody(error: error, session: conversation).encode())
            }
            return APIResponse(error)
        case .failed(let violation):
            return APIResponse(.internal("refused by the state machine's own check: \(violation)"))
        case .accepted(_, nil):
            return APIResponse(.internal("a transition was accepted without a conversation state"))
        }
    }

    private func boot(owner: String, _ request: APIRequest, on eventLoop: any EventLoop) throws -> EventLoopFuture<APIResponse> {
        let (environment, policy) = try BootBody.read(try parseBody(request))
        let command = Command.boot(owner: owner, environment: environment, policy: policy)
        if let problem = SessionMachine.validate(command) { throw APIError(problem) }
        let promise = eventLoop.makePromise(of: CommitReceipt.self)
        committer.submit(CommandEnvelope(command, actor: request.peer), on: eventLoop) { promise.completeWith($0.mapError { $0 }) }
        return promise.futureResult.map { receipt in
            switch receipt.outcome {
            case .accepted:
                guard let booted = receipt.events.first?.event else { return APIResponse(.internal("a boot appended nothing")) }
                let invalidated = receipt.events.dropFirst().compactMap { committed -> BootResult.Invalidated? in
                    guard let key = committed.event.key, let id = committed.event.sessionId else { return nil }
                    return BootResult.Invalidated(key: key, sessionId: id)
                }
                let result = BootResult(owner: owner, epoch: booted.epoch ?? 0, seq: receipt.events.last!.event.seq, invalidated: invalidated)
                return APIResponse(body: result.encode())
            case .rejected(let rejection, _):
                return APIResponse(APIError(rejection))
            case .failed(let violation):
                return APIResponse(.internal("refused by the state machine's own check: \(violation)"))
            }
        }.flatMapErrorThrowing { error in APIResponse(error as? APIError ?? .internal("\(error)")) }
    }

    // MARK: Admin

    /// Builds the next projection generation off the writer (from a snapshot of the log), then
    /// has the writer catch it up and swap it in.
    private func rebuild(on eventLoop: any EventLoop) -> EventLoopFuture<APIResponse> {
        let promise = eventLoop.makePromise(of: PreparedGeneration.self)
        let projection = self.projection
        Thread {
            do { promise.succeed(try projection.prepareRebuild()) } catch { promise.fail(error) }
        }.start()
        return promise.futureResult.flatMap { prepared in
            self.committer.perform(on: eventLoop) { try projection.install(prepared) }
        }.map { report in
            self.logger.notice("projection rebuilt online: \(report.events) events in \(Projection.format(report.seconds)) s, generation \(report.generation)\(report.sortNote)")
            var w = JSONWriter()
            w.beginObject()
            w.key("generation"); w.value(report.generation)
            w.key("events"); w.value(report.events)
            w.key("seconds"); w.value(report.seconds)
            w.key("eventsPerSecond"); w.value(report.eventsPerSecond)
            w.key("checkpointSeq"); w.value(report.checkpoint.seq)
            w.key("sortedIn"); w.value(report.sortedIn)
            w.endObject()
            return APIResponse(body: w.bytes)
        }.flatMapErrorThrowing { error in APIResponse(error as? APIError ?? .internal("rebuild failed: \(error)")) }
    }

    /// Checks the projection (quick or full) on the writer and repairs it if asked to.
    private func check(_ request: APIRequest, on eventLoop: any EventLoop) throws -> EventLoopFuture<APIResponse> {
        var full = false
        var repair = true
        if let body = request.body, body.readableBytes > 0 {
            var f = try FieldReader(try parseBody(request), name: "body")
            let level = try f.string("level") ?? "quick"
            guard level == "quick" || level == "full" else { throw APIError.invalid("level", "must be quick or full") }
            full = level == "full"
            repair = try f.bool("repair") ?? true
            try f.finish()
        }
        let projection = self.projection
        let level: ProjectionCheckLevel = full ? .full : .quick
        let repairs = repair
        return committer.perform(on: eventLoop) { () -> APIResponse in
            let damage = projection.check(level)
            var report: RebuildReport?
            if let damage, repairs { report = try projection.repair(damage) }
            var w = JSONWriter()
            w.beginObject()
            w.key("ok"); w.value(damage == nil)
            w.key("damage"); w.value(damage?.description)
            w.key("repaired"); w.value(report != nil)
            if let report { w.key("generation"); w.value(report.generation) }
            w.endObject()
            return APIResponse(body: w.bytes)
        }.flatMapErrorThrowing { error in APIResponse(error as? APIError ?? .internal("check failed: \(error)")) }
    }
}
