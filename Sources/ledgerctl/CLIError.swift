import LedgerClient

/// A failure with the exit code the manual promises: 1 check failed or not found, 2 usage,
/// 3 ledgerd unreachable.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32

    var description: String { message }

    static func failed(_ message: String) -> CLIError { CLIError(message: message, exitCode: 1) }
    static func usage(_ message: String) -> CLIError { CLIError(message: message, exitCode: 2) }
    static func unreachable(_ message: String) -> CLIError { CLIError(message: message, exitCode: 3) }

    /// Maps a client error to a CLI failure.
    static func from(_ error: LedgerClientError, socket: String) -> CLIError {
        switch error {
        case .unreachable(_, let underlying):
            return .unreachable("ledgerd is not reachable at \(socket): \(underlying). Is it running? (--socket, LEDGERD_SOCKET)")
        case .connectionLost(let detail):
            return .unreachable("the connection to ledgerd at \(socket) was lost: \(detail)")
        case .server(let apiError):
            return .failed("ledgerd refused: \(apiError.code): \(apiError.message)")
        case .malformedResponse(let detail):
            return .failed("unexpected answer from ledgerd: \(detail)")
        }
    }
}
