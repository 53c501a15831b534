import ArgumentParser

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-bench",
        abstract: "Measure ledger: the daemon over its socket, the log, the projections.",
        discussion: """
            Build with `swift build -c release` (or run `make bench`); figures from a debug build mean nothing.
            """,
        subcommands: [TransitionsBenchmark.self, ReadsBenchmark.self, MixedBenchmark.self, StartupBenchmark.self, ReplayBenchmark.self,
                      RebuildBenchmark.self, VerifyBenchmark.self, ApplyBenchmark.self, Populate.self,
                      CurveBenchmark.self]
    )
}
