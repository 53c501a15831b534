import LedgerTestSupport
import NIOPosix
import Testing
@testable import LedgerClient

/// The client's transport: what it may send again after a connection is lost.
@Suite struct ClientConnectionTests {
    /// A connection already closed when a request is written has sent nothing of it: the
    /// exchange says so (`RequestNotSent`), which is what lets `LedgerClient.send` send it again
    /// on a new connection without risking a second apply; and a request sent that way is
    /// applied once.
    @Test func aRequestWrittenToAClosedConnectionIsKnownNotSent() async throws {
        let daemon = try Daemon()
        let connection = try await HTTPConnection.connect(socketPath: daemon.socketPath, group: MultiThreadedEventLoopGroup.singleton)
        try await connection.channel.close()
        #expect(!connection.isUsable)
        let body = Array(#"{"type":"created","sessionId":"S1","expectedVersion":0}"#.utf8)
        await #expect(throws: RequestNotSent.self) {
            _ = try await connection.exchange(method: .POST, path: "/v1/sessions/k/transitions", body: body)
        }
        let client = daemon.client()
        #expect(try await client.session("k").version == 0, "nothing was applied")
        _ = try await client.transition("k", .created("S1", expectedVersion: 0))
        #expect(try await client.session("k").version == 1)
    }
}
