import Ledger

/// A conversation's current state as the API shows it:
/// `{"key","state","sessionId","version","owner","epoch","environment","createdAt","updatedAt","seq"}`.
/// An unknown key is state "none" at version 0, with nulls and seq 0.
public enum SessionJSON {
    private static func writeTime(_ micros: Int64?, into w: inout JSONWriter) {
        if let micros { w.quotedASCII { Timestamp.write(micros, into: &$0) } } else { w.null() }
    }

    public static func write(_ state: ConversationState, into w: inout JSONWriter) {
        w.beginObject()
        w.key("key"); w.value(state.key)
        w.key("state"); w.value(state.isActive ? "active" : "none")
        w.key("sessionId"); w.value(state.sessionId)
        w.key("version"); w.value(state.version)
        w.key("owner"); w.value(state.owner)
        w.key("epoch"); w.value(state.epoch)
        w.key("environment"); EnvironmentJSON.write(state.environment, into: &w)
        w.key("createdAt"); Self.writeTime(state.version == 0 ? nil : state.createdAt, into: &w)
        w.key("updatedAt"); Self.writeTime(state.version == 0 ? nil : state.updatedAt, into: &w)
        w.key("seq"); w.value(state.lastSeq)
        w.endObject()
    }

    public static func encode(_ state: ConversationState) -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        write(state, into: &w)
        return w.bytes
    }

    /// Reads what ``write(_:into:)`` wrote (the client's side).
    public static func read(_ value: JSONValue) throws(APIError) -> ConversationState {
        var f = try FieldReader(value, name: "session", prefix: "session.")
        var state = ConversationState(key: try f.requiredString("key"))
        _ = try f.string("state")
        state.sessionId = try f.string("sessionId")
        state.version = try f.count("version") ?? 0
        state.owner = try f.string("owner")
        state.epoch = try f.count("epoch")
        state.environment = try EnvironmentJSON.read(try f.object("environment"), name: "session.environment")
        state.createdAt = try f.string("createdAt").flatMap(Timestamp.parse) ?? 0
        state.updatedAt = try f.string("updatedAt").flatMap(Timestamp.parse) ?? 0
        state.lastSeq = try f.count("seq") ?? 0
        return state
    }
}
