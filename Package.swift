// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "slipway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "slipway", targets: ["SlipwayCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/async-kit.git", from: "1.22.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The platform's vocabulary: entities, names, roles and the pure rules over them.
        .target(
            name: "SlipwayDomain",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        // Datasets' records and formats: the manifest, importers and exporters. Pure code over byte streams.
        .target(
            name: "SlipwayData",
            dependencies: [
                "SlipwayDomain",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Experiment tracking and the model registry: MLflow's search grammar and wire rules. Pure code.
        .target(
            name: "SlipwayTracking",
            dependencies: ["SlipwayDomain"],
            swiftSettings: swiftSettings
        ),
        // Scheduling policies (FIFO, dominant resource fairness) over a snapshot, and the trace-driven simulator. Pure code.
        .target(
            name: "SlipwayScheduling",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        // Serving's gateway side: the Open Inference Protocol's bodies (JSON and binary tensors), connections to model
        // workers, dynamic batching, routing across replicas and the gateway's metrics.
        .target(
            name: "SlipwayServing",
            dependencies: [
                "SlipwayDomain",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The model worker (Python, in runtime/slipway_worker with its own tests), shipped as a resource agents start.
        .target(
            name: "SlipwayWorkerRuntime",
            path: "runtime",
            exclude: ["tests", "pyproject.toml"],
            sources: ["swift"],
            resources: [.copy("slipway_worker")],
            swiftSettings: swiftSettings
        ),
        // Metadata persistence: one SQL layer (SQLKit) over SQLite and PostgreSQL.
        .target(
            name: "SlipwayStore",
            dependencies: [
                "SlipwayDomain",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "AsyncKit", package: "async-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Content-addressed blob storage (datasets, artifacts, models).
        .target(
            name: "SlipwayBlobs",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP server: REST API, web UI, middleware and the application builder.
        .target(
            name: "SlipwayServer",
            dependencies: [
                "SlipwayScheduling",
                "SlipwayDomain",
                "SlipwayData",
                "SlipwayTracking",
                "SlipwayStore",
                "SlipwayBlobs",
                "SlipwayAgent",
                "SlipwayClient",
                "SlipwayServing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Web/Templates"), .copy("Web/Static")],
            swiftSettings: swiftSettings
        ),
        // A typed client of the REST API, used by the CLI (and later by agents).
        .target(
            name: "SlipwayClient",
            dependencies: [
                "SlipwayDomain",
                "SlipwayData",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The agent that runs on every compute node: heartbeats, runs jobs, streams their logs, enforces limits.
        .target(
            name: "SlipwayAgent",
            dependencies: [
                "SlipwayDomain",
                "SlipwayClient",
                "SlipwayServing",
                "SlipwayWorkerRuntime",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The `slipway` executable: serve, and client commands.
        .executableTarget(
            name: "SlipwayCLI",
            dependencies: [
                "SlipwayScheduling",
                "SlipwayDomain",
                "SlipwayServer",
                "SlipwayData",
                "SlipwayClient",
                "SlipwayAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SlipwayTests",
            dependencies: [
                "SlipwayServing",
                "SlipwayScheduling",
                "SlipwayDomain",
                "SlipwayData",
                "SlipwayTracking",
                "SlipwayStore",
                "SlipwayBlobs",
                "SlipwayServer",
                "SlipwayClient",
                "SlipwayAgent",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
