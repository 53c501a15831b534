/// Why the ledger could not do what was asked (as opposed to a ``Rejection`` of a command).
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The directory does not hold a ledger of a format this build understands.
        case incompatibleFormat = "incompatible_format"
        /// Stored bytes could not be decoded.
        case corruptRecord = "corrupt_record"
        /// A decided event broke an invariant when folded: a bug, never appended.
        case internalInvariant = "internal_invariant"
        /// The disk is full; nothing was written.
        case diskFull = "disk_full"
        /// LMDB failed.
        case storage = "storage_error"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
