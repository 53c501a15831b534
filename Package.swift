// swift-tools-version:6.1
import PackageDescription

/// Strict settings for every target of ours: Swift 6 language mode (the package default)
/// plus upcoming features that keep existentials and imports explicit.
let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "ledger",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Ledger", targets: ["Ledger"]),
        .library(name: "Projections", targets: ["Projections"]),
        .library(name: "LedgerClient", targets: ["LedgerClient"]),
        .executable(name: "ledgerd", targets: ["ledgerd"]),
        .executable(name: "ledgerctl", targets: ["ledgerctl"]),
        .executable(name: "ledger-bench", targets: ["ledger-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // LMDB from Debian's liblmdb-dev, found through pkg-config.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // SO_PEERCRED's `struct ucred` is hidden by Glibc's Swift module; this exposes it.
        .target(name: "CPeerCredentials"),
        .target(
            name: "Ledger",
            dependencies: [
                "CLMDB",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "Projections",
            dependencies: [
                "Ledger",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // The HTTP/JSON contract: strict JSON, the wire shapes of sessions, events and errors.
        .target(
            name: "LedgerAPI",
            dependencies: ["Ledger"],
            swiftSettings: strictSwift
        ),
        // ledgerd's insides: the handler core, group commit, the HTTP transport on a Unix socket.
        .target(
            name: "LedgerServer",
            dependencies: [
                "Ledger", "Projections", "LedgerAPI", "LedgerClient", "CPeerCredentials",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        // A Swift client of the HTTP/UDS API, used by ledgerctl, the bench and the tests.
        .target(
            name: "LedgerClient",
            dependencies: [
                "Ledger", "LedgerAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        // A simulated agent runtime and fake SDK: the incidents as journeys (tests and `make demo`).
        .target(
            name: "AgentSimulation",
            dependencies: [
                "Ledger", "LedgerClient",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "ledger-torture",
            dependencies: [
                "Ledger", "LedgerAPI", "LedgerClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // The decoders' fuzz harness: a corpus/mutation runner in normal builds, a libFuzzer
        // target with `make fuzz` (built with -sanitize=fuzzer -D LIBFUZZER).
        .executableTarget(
            name: "ledger-fuzz",
            dependencies: ["Ledger", "LedgerAPI", "LedgerServer", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "ledger-demo",
            dependencies: ["AgentSimulation", "LedgerClient"],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "ledgerd",
            dependencies: [
                "Ledger",
                "LedgerServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "ledgerctl",
            dependencies: [
                "Ledger", "Projections", "LedgerAPI", "LedgerClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "ledger-bench",
            dependencies: [
                "Ledger", "Projections", "LedgerAPI", "LedgerClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // Test support shared by the test targets: temp dirs, the built binaries, a real ledgerd.
        .target(
            name: "LedgerTestSupport",
            dependencies: ["LedgerAPI", "LedgerClient"],
            path: "Tests/LedgerTestSupport",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Ledger", "Projections", "LedgerAPI", "LedgerServer", "LedgerClient", "LedgerTestSupport", "ledgerd",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ReliabilityTests",
            dependencies: ["Ledger", "LedgerAPI", "LedgerClient", "LedgerTestSupport", "ledgerd", "ledgerctl", "ledger-torture", "ledger-fuzz"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AcceptanceTests",
            dependencies: ["AgentSimulation", "Ledger", "LedgerAPI", "LedgerTestSupport", "ledgerd", "ledgerctl"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "Ledger", "LedgerAPI", "LedgerClient", "LedgerTestSupport", "ledgerctl",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: [
                "Ledger",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ProjectionTests",
            dependencies: [
                "Ledger", "Projections",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)
