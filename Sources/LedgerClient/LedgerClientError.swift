import LedgerAPI

/// Why a call to ledgerd did not produce an answer of the expected shape.
public enum LedgerClientError: Error, Sendable, CustomStringConvertible {
    /// The socket could not be reached (no daemon, wrong path, permissions).
    case unreachable(socketPath: String, underlying: String)
    /// The connection broke before a complete answer arrived.
    case connectionLost(String)
    /// ledgerd answered with an error (400, 404, 413, 503, 507, ...).
    case server(APIError)
    /// The answer was not what the API promises.
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .unreachable(let path, let underlying): "ledgerd is not reachable at \(path): \(underlying)"
        case .connectionLost(let detail): "the connection to ledgerd was lost: \(detail)"
        case .server(let error): "ledgerd answered \(error.status) \(error.code): \(error.message)"
        case .malformedResponse(let detail): "unexpected answer from ledgerd: \(detail)"
        }
    }
}
