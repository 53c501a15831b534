import ArgumentParser
import Foundation

/// One point of a curve: a label, the ledger to start ledgerd on, and the keys to write to.
struct CurvePoint: ExpressibleByArgument, Sendable {
    var label: String
    /// Nil: a fresh, empty ledger for every run.
    var dataDirectory: String?
    var keys: Int

    /// `LABEL=DIR:KEYS`, with DIR empty for a fresh ledger (`"10k keys=:10000"`).
    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), let colon = argument.lastIndex(of: ":"), equals < colon,
              let keys = Int(argument[argument.index(after: colon)...]), keys > 0 else { return nil }
        label = String(argument[..<equals])
        let directory = String(argument[argument.index(after: equals)..<colon])
        dataDirectory = directory.isEmpty ? nil : directory
        self.keys = keys
    }
}

/// A curve measured in rounds that each visit every point once, so that every point sees the
/// same minutes of a machine whose speed drifts, and each point is read against the first point
/// of its own round. Rows run one after another in a block of their own (the way `SCALING=1`
/// ran before) compared minutes of the VM as much as they compared the points.
struct CurveBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curve",
        abstract: "Transitions/s at several points (keys written to, events already in the log), in interleaved rounds.",
        discussion: """
            Each round starts ledgerd once per point, in order, and measures one transitions row there. The summary gives each point's median rate and its ratio to the first point of the same round (median, lowest and highest over the rounds): flat is a ratio near 1.

            Points are LABEL=DIR:KEYS; an empty DIR is a fresh ledger for every run. A populated DIR is written to by every run, so later rounds find a slightly longer log there.

            Example:
              ledger-bench curve --rounds 3 --point '10k keys=:10000' \\
                  --point '1M keys=/tmp/k1m:1000000'
            """)

    @Option(name: .customLong("point"), help: "LABEL=DIR:KEYS; give it once per point, the reference first.")
    var points: [CurvePoint]
    @Option(help: "Rounds; each visits every point once.") var rounds: Int = 3
    @Option(help: "Concurrent clients.") var clients: Int = 64
    @Option(help: "Seconds of warm-up before measuring.") var warmup: Double = 2
    @Option(help: "Seconds measured per row.") var duration: Double = 10
    @Flag(help: "At points with a DIR, write to the keys it holds (from their current states) instead of to keys of each run's own.")
    var existingKeys = false

    func validate() throws {
        guard points.count >= 2 else { throw ValidationError("give at least two --point (the first is the reference)") }
        guard rounds >= 1, clients >= 1 else { throw ValidationError("--rounds and --clients must be at least 1") }
    }

    func run() async throws {
        let options = try ServerOptions.parse(["--warmup", "\(warmup)", "--duration", "\(duration)"])
        var rates = [[Double]](repeating: [], count: points.count)
        var ratios = [[Double]](repeating: [], count: points.count)
        var tails = [[Double]](repeating: [], count: points.count)
        print("round  " + Row.header)
        for round in 1...rounds {
            var reference: Double?
            for (index, point) in points.enumerated() {
                let daemon = try DaemonUnderTest(dataDirectory: point.dataDirectory, socket: nil)
                defer { daemon.stop() }
                try await daemon.waitForStartupCheck()
                let row = try await TransitionsBenchmark.measure(daemon: daemon, clients: clients, keys: point.keys,
                                                                 existingKeys: existingKeys && point.dataDirectory != nil,
                                                                 options: options, label: point.label)
                print(String(format: "%5d  ", round) + row.render(clients: clients))
                let rate = row.result.throughput
                if index == 0 { reference = rate }
                rates[index].append(rate)
                tails[index].append(row.result.milliseconds(99))
                if let reference, reference > 0 { ratios[index].append(rate / reference) }
            }
        }
        print("\npoint                            ops/s median (lowest-highest)   p99 ms median   vs \(points[0].label) in the same round: median (lowest-highest)")
        for (index, point) in points.enumerated() {
            let rate = Self.spread(rates[index])
            let ratio = Self.spread(ratios[index])
            print(point.label.padding(toLength: 32, withPad: " ", startingAt: 0)
                  + String(format: " %8.0f (%.0f-%.0f)", rate.median, rate.lowest, rate.highest)
                  + String(format: "           %6.2f", Self.spread(tails[index]).median)
                  + String(format: "          %.2f (%.2f-%.2f)", ratio.median, ratio.lowest, ratio.highest))
        }
    }

    /// Median, lowest and highest of `values` (the median of an even count is the mean of the middle two).
    static func spread(_ values: [Double]) -> (median: Double, lowest: Double, highest: Double) {
        let sorted = values.sorted()
        guard let lowest = sorted.first, let highest = sorted.last else { return (0, 0, 0) }
        let middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        return (median, lowest, highest)
    }
}
