import Foundation
import LedgerTestSupport
import Testing

/// The crash torture at CI size (`make torture N=200` runs it at length): kill -9 at random
/// moments and at every failpoint, then every acknowledged write checked, the log verified, the
/// projection compared with a fresh fold, and the history checked for linearizability.
@Suite struct TortureTests {
    @Test func crashesLoseNothingAcknowledged() async throws {
        let iterations = ProcessInfo.processInfo.environment["LEDGER_TORTURE_ITERATIONS"] ?? "10"
        let result = try await Subprocess.runAwaiting(Binaries.path("ledger-torture"), ["--iterations", iterations, "--window", "1", "--seed", "20261121"])
        print(result.stdout)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("violations: 0"))
        let checked = result.stdout.split(separator: "\n").first { $0.hasPrefix("acknowledged writes checked:") }
            .flatMap { Int($0.split(separator: " ")[3].dropLast()) } ?? 0
        #expect(checked > 100, "the workload did acknowledge writes before the crashes")
    }
}
