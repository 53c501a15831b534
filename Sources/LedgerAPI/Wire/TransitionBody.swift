import Ledger

/// `POST /v1/sessions/{key}/transitions` body:
/// `{"type","sessionId","expectedVersion","owner","epoch","environment","reason","reportedSessionId"}`.
public enum TransitionBody {
    /// Reads a request body. Shape only: which fields each type needs, and the limits, are the
    /// state machine's (``SessionMachine/validate(_:)``).
    public static func read(_ value: JSONValue) throws(APIError) -> TransitionRequest {
        var f = try FieldReader(value, name: "body")
        let typeName = try f.requiredString("type")
        guard let kind = TransitionKind(rawValue: typeName) else {
            throw .invalid("type", "must be one of created, resumed, errored, cleared; got '\(typeName)'")
        }
        let request = TransitionRequest(
            kind: kind, sessionId: try f.string("sessionId"), expectedVersion: try f.count("expectedVersion"),
            owner: try f.string("owner"), epoch: try f.count("epoch"),
            environment: try EnvironmentJSON.read(try f.object("environment")),
            reason: try f.string("reason"), reportedSessionId: try f.string("reportedSessionId"))
        try f.finish()
        return request
    }

    /// Writes a request body (the client's side); absent fields are left out.
    public static func encode(_ request: TransitionRequest) -> [UInt8] {
        var w = JSONWriter(capacity: 200)
        w.beginObject()
        w.key("type"); w.value(request.kind.rawValue)
        if let id = request.sessionId { w.key("sessionId"); w.value(id) }
        if let version = request.expectedVersion { w.key("expectedVersion"); w.value(version) }
        if let owner = request.owner { w.key("owner"); w.value(owner) }
        if let epoch = request.epoch { w.key("epoch"); w.value(epoch) }
        if let environment = request.environment { w.key("environment"); EnvironmentJSON.write(environment, into: &w) }
        if let reason = request.reason { w.key("reason"); w.value(reason) }
        if let reported = request.reportedSessionId { w.key("reportedSessionId"); w.value(reported) }
        w.endObject()
        return w.bytes
    }
}

/// `POST /v1/owners/{owner}/boot` body: `{"environment":{...},"invalidate":"all"|"mismatched"}`.
public enum BootBody {
    public static func read(_ value: JSONValue) throws(APIError) -> (RuntimeEnvironment?, InvalidationPolicy) {
        var f = try FieldReader(value, name: "body")
        let environment = try EnvironmentJSON.read(try f.object("environment"))
        let policyName = try f.string("invalidate") ?? InvalidationPolicy.all.rawValue
        guard let policy = InvalidationPolicy(rawValue: policyName) else {
            throw .invalid("invalidate", "must be 'all' or 'mismatched'; got '\(policyName)'")
        }
        try f.finish()
        return (environment, policy)
    }

    public static func encode(environment: RuntimeEnvironment?, policy: InvalidationPolicy) -> [UInt8] {
        var w = JSONWriter(capacity: 120)
        w.beginObject()
        if let environment { w.key("environment"); EnvironmentJSON.write(environment, into: &w) }
        w.key("invalidate"); w.value(policy.rawValue)
        w.endObject()
        return w.bytes
    }
}
