import Ledger

/// `{"host","volume","cwd","provider"}`, each optional.
public enum EnvironmentJSON {
    public static func write(_ environment: RuntimeEnvironment?, into w: inout JSONWriter) {
        guard let environment, !environment.isEmpty else { w.null(); return }
        w.beginObject()
        if let host = environment.host { w.key("host"); w.value(host) }
        if let volume = environment.volume { w.key("volume"); w.value(volume) }
        if let cwd = environment.cwd { w.key("cwd"); w.value(cwd) }
        if let provider = environment.provider { w.key("provider"); w.value(provider) }
        w.endObject()
    }

    /// Reads an environment; `name` is the field path used in errors.
    public static func read(_ value: JSONValue?, name: String = "environment") throws(APIError) -> RuntimeEnvironment? {
        guard let value, value != .null else { return nil }
        var fields = try FieldReader(value, name: name, prefix: name + ".")
        let environment = RuntimeEnvironment(host: try fields.string("host"), volume: try fields.string("volume"),
                                             cwd: try fields.string("cwd"), provider: try fields.string("provider"))
        try fields.finish()
        return environment
    }
}
