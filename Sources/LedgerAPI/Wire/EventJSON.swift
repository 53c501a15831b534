import Ledger

/// An event as the API, `ledgerctl replay --json` and exports show it:
/// `{"seq","key","version","type","sessionId","reportedSessionId","supersedes","owner","epoch",
/// "environment","reason","actor":{"uid","gid","pid"},"time","hash"}`.
public enum EventJSON {
    /// - Parameter record: the stored record, base64-encoded into a `record` member (exports).
    public static func write(_ logged: LoggedEvent, into w: inout JSONWriter, record: String? = nil) {
        let event = logged.event
        w.beginObject()
        w.key("seq"); w.value(event.seq)
        w.key("key"); w.value(event.key)
        w.key("version"); w.value(event.version)
        w.key("type"); w.value(event.type.name)
        w.key("sessionId"); w.value(event.sessionId)
        w.key("reportedSessionId"); w.value(event.reportedSessionId)
        w.key("supersedes"); w.value(event.supersedes)
        w.key("owner"); w.value(event.owner)
        w.key("epoch"); w.value(event.epoch)
        w.key("environment"); EnvironmentJSON.write(event.environment, into: &w)
        w.key("reason"); w.value(event.reason)
        w.key("actor")
        if let actor = event.actor {
            w.beginObject()
            w.key("uid"); w.value(actor.uid)
            w.key("gid"); w.value(actor.gid)
            w.key("pid"); w.value(actor.pid)
            w.endObject()
        } else {
            w.null()
        }
        w.key("time"); w.quotedASCII { Timestamp.write(event.time, into: &$0) }
        w.key("hash"); logged.hash.withBytes { w.hex($0) }
        if let record { w.key("record"); w.value(record) }
        w.endObject()
    }

    /// Reads what ``write(_:into:)`` wrote.
    public static func read(_ value: JSONValue) throws(APIError) -> LoggedEvent {
        var f = try FieldReader(value, name: "event", prefix: "event.")
        let typeName = try f.requiredString("type")
        guard let type = EventType(name: typeName) else { throw .invalid("event.type", "unknown type '\(typeName)'") }
        var event = Event(seq: try f.count("seq") ?? 0, key: try f.string("key"), version: try f.count("version") ?? 0, type: type)
        event.sessionId = try f.string("sessionId")
        event.reportedSessionId = try f.string("reportedSessionId")
        event.supersedes = try f.string("supersedes")
        event.owner = try f.string("owner")
        event.epoch = try f.count("epoch")
        event.environment = try EnvironmentJSON.read(try f.object("environment"), name: "event.environment")
        event.reason = try f.string("reason")
        if let actor = try f.object("actor") {
            var a = try FieldReader(actor, name: "event.actor", prefix: "event.actor.")
            guard let uid = try a.count("uid").flatMap(UInt32.init(exactly:)), let gid = try a.count("gid").flatMap(UInt32.init(exactly:)) else {
                throw .invalid("event.actor", "uid and gid are required")
            }
            let pid = try a.count("pid").flatMap(Int32.init(exactly:)) ?? 0
            event.actor = ActorIdentity(uid: uid, gid: gid, pid: pid)
        }
        let time = try f.requiredString("time")
        guard let micros = Timestamp.parse(time) else { throw .invalid("event.time", "not an RFC 3339 time: \(time)") }
        event.time = micros
        let hex = try f.requiredString("hash")
        guard let hash = ChainHash(hex: hex) else { throw .invalid("event.hash", "not 64 hex digits") }
        return LoggedEvent(event: event, hash: hash)
    }
}
