/// Where a runtime keeps its SDK transcripts: what decides whether a session can survive a
/// restart. An owner's boot with the `mismatched` policy keeps exactly the sessions whose
/// recorded environment matches the booting one (incident G).
public struct RuntimeEnvironment: Sendable, Hashable {
    public var host: String?
    public var volume: String?
    public var cwd: String?
    public var provider: String?

    public init(host: String? = nil, volume: String? = nil, cwd: String? = nil, provider: String? = nil) {
        self.host = host
        self.volume = volume
        self.cwd = cwd
        self.provider = provider
    }

    /// True when no field is set.
    public var isEmpty: Bool { host == nil && volume == nil && cwd == nil && provider == nil }

    /// The fields as (name, value) pairs, in a fixed order.
    public var fields: [(name: String, value: String?)] {
        [("host", host), ("volume", volume), ("cwd", cwd), ("provider", provider)]
    }

    /// The fields set in `self` (a booting runtime's environment) that `recorded` (a session's)
    /// does not match. A field the boot leaves out is not compared; a field the boot sets but the
    /// session never recorded counts as a difference, since continuity cannot be shown.
    ///
    /// - Returns: the names of the differing fields, empty when the session may survive.
    public func differences(from recorded: RuntimeEnvironment?) -> [String] {
        let recordedFields = recorded?.fields ?? RuntimeEnvironment().fields
        var names: [String] = []
        for (mine, theirs) in zip(fields, recordedFields) where mine.value != nil && mine.value != theirs.value {
            names.append(mine.name)
        }
        return names
    }
}
