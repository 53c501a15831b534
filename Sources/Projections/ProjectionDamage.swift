/// Why a projection file cannot be trusted, found by ``ProjectionHealth``.
public struct ProjectionDamage: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The live file is gone (or the link points nowhere).
        case missing
        /// SQLite cannot open it or `PRAGMA quick_check` fails.
        case damaged
        /// It was written by a newer build (unknown schema migrations).
        case incompatible
        /// Its checkpoint is past the log's head.
        case ahead
        /// Its checkpoint's chain hash is not the log's hash at that seq (another log's projection).
        case diverged
        /// Its rows differ from a fresh fold of the log (a row edited, added or removed).
        case mismatch
    }

    public var kind: Kind
    /// What was found, in a sentence an operator can act on.
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(kind.rawValue): \(reason)" }
}

/// How thoroughly to check a projection.
public enum ProjectionCheckLevel: Sendable {
    /// The schema and the checkpoint against the log: constant time, whatever the file's size.
    /// ledgerd starts with this and runs ``quick`` in the background once it serves.
    case fast
    /// Also `PRAGMA quick_check`, which reads every page (about 0.3 s per million events).
    case quick
    /// Also every row against a fresh fold of the log up to the checkpoint.
    case full
}
