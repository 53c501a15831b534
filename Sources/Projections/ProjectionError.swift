/// Why the projection refused or failed an operation.
public struct ProjectionError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// An event was not the one right after the checkpoint (a gap or a double apply).
        case outOfOrder = "out_of_order"
        /// An event does not follow the log the projection was built from (chain, checksum),
        /// or folding it would break an invariant: the projection refuses to apply it.
        case refused = "refused"
        /// The SQLite file is damaged, tampered with, or ahead of / beside the log.
        case damaged = "damaged"
        /// The file was made by a newer build.
        case incompatible = "incompatible"
        /// A file-system step (rename, fsync, symlink) failed.
        case io = "io_error"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
