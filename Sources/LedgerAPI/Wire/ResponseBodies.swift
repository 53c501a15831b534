import Ledger

/// 200 answer to a transition: `{"seq","version","appended","session":{...}}`. `seq` is the
/// event's seq; for an acknowledged no-op (a late error report about a dead session) nothing is
/// appended, `appended` is false and `seq` is the conversation's last.
public struct TransitionResult: Sendable, Hashable {
    public var seq: UInt64
    public var version: UInt64
    public var appended: Bool
    public var session: ConversationState

    public init(seq: UInt64, version: UInt64, appended: Bool, session: ConversationState) {
        self.seq = seq
        self.version = version
        self.appended = appended
        self.session = session
    }

    public func encode() -> [UInt8] {
        var w = JSONWriter(capacity: 320)
        w.beginObject()
        w.key("seq"); w.value(seq)
        w.key("version"); w.value(version)
        w.key("appended"); w.value(appended)
        w.key("session"); SessionJSON.write(session, into: &w)
        w.endObject()
        return w.bytes
    }

    public static func read(_ value: JSONValue) throws(APIError) -> TransitionResult {
        var f = try FieldReader(value, name: "body")
        guard let session = try f.object("session") else { throw .invalid("session", "is required") }
        return TransitionResult(seq: try f.count("seq") ?? 0, version: try f.count("version") ?? 0,
                                appended: try f.bool("appended") ?? true, session: try SessionJSON.read(session))
    }
}

/// 409 answer: `{"error":{"code","message"},"session":{...current state}}`.
public struct RejectionBody: Sendable, Hashable {
    public var error: APIError
    public var session: ConversationState?

    public init(error: APIError, session: ConversationState?) {
        self.error = error
        self.session = session
    }

    public func encode() -> [UInt8] {
        var w = JSONWriter(capacity: 400)
        w.beginObject()
        error.write(into: &w)
        if let session { w.key("session"); SessionJSON.write(session, into: &w) }
        w.endObject()
        return w.bytes
    }
}

/// 200 answer to a boot: `{"owner","epoch","seq","invalidated":[{"key","sessionId"}]}`.
public struct BootResult: Sendable, Hashable {
    public struct Invalidated: Sendable, Hashable {
        public var key: String
        public var sessionId: String
        public init(key: String, sessionId: String) {
            self.key = key
            self.sessionId = sessionId
        }
    }

    public var owner: String
    public var epoch: UInt64
    public var seq: UInt64
    public var invalidated: [Invalidated]

    public init(owner: String, epoch: UInt64, seq: UInt64, invalidated: [Invalidated]) {
        self.owner = owner
        self.epoch = epoch
        self.seq = seq
        self.invalidated = invalidated
    }

    public static func read(_ value: JSONValue) throws(APIError) -> BootResult {
        var f = try FieldReader(value, name: "body")
        var invalidated: [Invalidated] = []
        for entry in try f.array("invalidated") ?? [] {
            var e = try FieldReader(entry, name: "invalidated[]")
            invalidated.append(Invalidated(key: try e.requiredString("key"), sessionId: try e.requiredString("sessionId")))
        }
        return BootResult(owner: try f.requiredString("owner"), epoch: try f.count("epoch") ?? 0, seq: try f.count("seq") ?? 0,
                          invalidated: invalidated)
    }

    public func encode() -> [UInt8] {
        var w = JSONWriter(capacity: 128 + invalidated.count * 64)
        w.beginObject()
        w.key("owner"); w.value(owner)
        w.key("epoch"); w.value(epoch)
        w.key("seq"); w.value(seq)
        w.key("invalidated")
        w.beginArray()
        for entry in invalidated {
            w.beginObject()
            w.key("key"); w.value(entry.key)
            w.key("sessionId"); w.value(entry.sessionId)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }
}
