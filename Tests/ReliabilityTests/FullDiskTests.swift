import Foundation
import Ledger
import LedgerClient
import LedgerTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// ledgerd on a small file system that fills up: writes are refused with 507 disk_full and
/// nothing is half written, reads keep working, and writes resume once space is freed.
@Suite struct FullDiskTests {
    @Test func writesAreRefusedReadsContinueAndWritesResume() async throws {
        let directory = TemporaryDirectory("disk")
        let mountPoint = directory.join("fs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard getuid() == 0, (try? Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", mountPoint]))?.status == 0 else {
            print("skipped: mounting a small tmpfs needs root (uid \(getuid()))")
            return
        }
        defer { _ = try? Subprocess.run("/bin/umount", ["-l", mountPoint]) }
        // Leave ~20 MiB free; ledgerd keeps a 12 MiB reserve.
        let filler = mountPoint + "/filler"
        #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 28 << 20)), "the filler must be written for the disk to be full")
        let daemon = try Daemon(directory: directory, dataDirectory: mountPoint + "/data", arguments: ["--min-free-mb", "12", "--map-size-mb", "1"])
        let client = daemon.client()
        let reason = String(repeating: "x", count: 1_000)
        var acknowledged: [String: UInt64] = [:]
        var refusal: LedgerClientError?
        outer: for round in 0..<100_000 {
            let key = "k\(round % 100)"
            do {
                let outcome = try await client.transition(key, .created("s\(round)", expectedVersion: acknowledged[key] ?? 0, reason: reason))
                acknowledged[key] = outcome.session.version
            } catch let error as LedgerClientError {
                refusal = error
                break outer
            }
        }
        guard case .server(let apiError)? = refusal else { Issue.record("never refused: \(String(describing: refusal))"); return }
        #expect(apiError.status == 507)
        #expect(apiError.code == "disk_full")
        // Reads keep working and show every acknowledged write.
        for (key, version) in acknowledged.prefix(20) {
            #expect(try await client.session(key).version == version)
        }
        // Nothing is half written: the log verifies and the projection equals its fold.
        let verify = try await Subprocess.runAwaiting(Binaries.path("ledgerctl"), ["verify", "--data-dir", mountPoint + "/data"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        // Free space: writes resume.
        try FileManager.default.removeItem(atPath: filler)
        let resumed = try await client.transition("after", .created("fresh", expectedVersion: 0))
        #expect(resumed.isAccepted)
    }
}
