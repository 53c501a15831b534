import Foundation
import Ledger
import LedgerAPI
import LedgerTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Who may talk to ledgerd, and who is recorded as having done what.
@Suite struct AccessTests {
    static let canSwitchUser = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")

    /// curl as another uid through the socket.
    func curl(as uid: UInt32, _ socket: String, _ arguments: [String]) throws -> CommandResult {
        try Subprocess.run("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/curl", "-s",
                                                 "-w", "\n%{http_code}", "--unix-socket", socket] + arguments)
    }

    @Test func aPeerNotInAllowUidIsRefusedAndAnAllowedOneIsRecordedAsTheActor() async throws {
        guard Self.canSwitchUser else {
            print("skipped: running a client as another uid needs root and setpriv (uid \(getuid()))")
            return
        }
        let directory = TemporaryDirectory("acc")
        chmod(directory.path, 0o755)  // let the other uid reach the socket
        let other: UInt32 = 65_534
        let refusing = try Daemon(directory: directory, arguments: ["--socket-mode", "0666", "--allow-uid", "4242"])
        let refused = try curl(as: other, refusing.socketPath, ["http://localhost/v1/status"])
        #expect(refused.stdout.hasSuffix("403"), "\(refused.stdout)")
        #expect(refused.stdout.contains("\"forbidden\""))
        #expect(refusing.log.contains("refusing a peer not in --allow-uid"))
        // ledgerd's own uid (root here) is always allowed.
        #expect(try await refusing.client().status() != .null)
        try refusing.terminate()

        let allowing = try refusing.restart(arguments: ["--socket-mode", "0666", "--allow-uid", "\(other)"])
        let written = try curl(as: other, allowing.socketPath, ["-X", "POST", "-d", #"{"type":"created","sessionId":"S1","expectedVersion":0}"#,
                                                               "http://localhost/v1/sessions/k/transitions"])
        #expect(written.stdout.hasSuffix("200"), "\(written.stdout)")
        let history = try await allowing.client().history("k")
        #expect(history.first?.event.actor?.uid == other, "the event's actor is the real peer")
        #expect(history.first?.event.actor?.gid == other)
        #expect((history.first?.event.actor?.pid ?? 0) > 0)
    }

    /// With the default mode 0660 another uid (not in the group) cannot even connect.
    @Test func theDefaultSocketModeKeepsOtherUsersOut() async throws {
        guard Self.canSwitchUser else {
            print("skipped: needs root and setpriv")
            return
        }
        let directory = TemporaryDirectory("acc")
        chmod(directory.path, 0o755)
        let daemon = try Daemon(directory: directory)
        let attempt = try curl(as: 65_534, daemon.socketPath, ["http://localhost/v1/status"])
        #expect(attempt.stdout.hasSuffix("000"), "connection refused by the file mode: \(attempt.stdout)")
    }
}
