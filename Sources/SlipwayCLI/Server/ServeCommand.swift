import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SlipwayData
import SlipwayScheduling
import SlipwayServer

/// `slipway serve`: runs the platform (API, web UI) on this machine.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Start the Slipway server.",
        discussion: """
            With no configuration it keeps everything under --data-dir: an SQLite database and the blob store.
            Set SLIPWAY_DATABASE_URL=postgres://… to use PostgreSQL (the cluster shape).
            Environment: SLIPWAY_HOST, SLIPWAY_PORT, SLIPWAY_DATA_DIR, SLIPWAY_DATABASE_URL, SLIPWAY_ADMIN_PASSWORD,
            SLIPWAY_SECURE_COOKIES, SLIPWAY_BCRYPT_COST, SLIPWAY_LOG_LEVEL, SLIPWAY_ARCHIVE_MAX_BYTES,
            SLIPWAY_ARCHIVE_MAX_ENTRIES, SLIPWAY_ARCHIVE_MAX_RATIO, SLIPWAY_EMBEDDED_AGENT, SLIPWAY_NODE_LOST_AFTER,
            SLIPWAY_HEARTBEAT_SECONDS, SLIPWAY_SCHEDULER_POLICY (drf or fifo), SLIPWAY_SCHEDULER_STARVATION_SECONDS, SLIPWAY_JOB_LOG_LIMIT,
            SLIPWAY_WORKER_HOST, SLIPWAY_ENV_CACHE_DIR, SLIPWAY_GATEWAY_MAX_REQUEST_BYTES, SLIPWAY_SCALE_DOWN_SECONDS, SLIPWAY_METRICS_TOKEN,
            SLIPWAY_WORKER_HEALTH_INTERVAL, SLIPWAY_WORKER_HEALTH_TIMEOUT,
            SLIPWAY_GC_MINIMUM_GRACE_SECONDS.
            """
    )

    @Option(help: "Address to listen on (env SLIPWAY_HOST, default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env SLIPWAY_PORT, default 8080).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Folder for the database and blobs (env SLIPWAY_DATA_DIR, default ./slipway-data).")
    var dataDir: String?

    @Flag(name: .customLong("no-agent"), help: "Do not run jobs on this machine (env SLIPWAY_EMBEDDED_AGENT=false).")
    var noAgent = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }

        var configuration = ServerConfiguration()
        configuration.host = host ?? env("SLIPWAY_HOST") ?? "127.0.0.1"
        if let port = port ?? env("SLIPWAY_PORT").map({ Int($0) ?? -1 }) {
            guard (0...65535).contains(port) else { throw ValidationError("the port must be a number from 0 to 65535") }
            configuration.port = port
        }
        configuration.dataDirectory = URL(fileURLWithPath: dataDir ?? env("SLIPWAY_DATA_DIR") ?? "slipway-data").standardizedFileURL
        configuration.databaseURL = env("SLIPWAY_DATABASE_URL")
        configuration.adminPassword = env("SLIPWAY_ADMIN_PASSWORD")
        configuration.embeddedAgent = !noAgent && !["0", "false", "no"].contains(env("SLIPWAY_EMBEDDED_AGENT")?.lowercased() ?? "")
        if let text = env("SLIPWAY_NODE_LOST_AFTER") {
            guard let value = Double(text), value >= 1 else {
                throw ValidationError("SLIPWAY_NODE_LOST_AFTER must be a number of seconds, 1 or more")
            }
            configuration.nodeLostAfterSeconds = value
        }
        if let text = env("SLIPWAY_SCHEDULER_POLICY") {
            do {
                configuration.schedulerPolicy = try SchedulingPolicyName(parsing: text)
            } catch {
                throw ValidationError("SLIPWAY_SCHEDULER_POLICY: \(error)")
            }
        }
        if let text = env("SLIPWAY_JOB_LOG_LIMIT") {
            guard let value = Int64(text), value >= 1024 else {
                throw ValidationError("SLIPWAY_JOB_LOG_LIMIT must be a number of characters, 1024 or more")
            }
            configuration.jobLogLimit = value
        }
        if let text = env("SLIPWAY_SCHEDULER_STARVATION_SECONDS") {
            guard let value = Double(text), value >= 0 else {
                throw ValidationError("SLIPWAY_SCHEDULER_STARVATION_SECONDS must be a number of seconds, 0 or more")
            }
            configuration.schedulingOptions.starvationBound = value
        }
        if let text = env("SLIPWAY_HEARTBEAT_SECONDS") {
            guard let value = Double(text), value > 0, value <= 60 else { throw ValidationError("SLIPWAY_HEARTBEAT_SECONDS must be from 0 to 60") }
            configuration.heartbeatSeconds = value
        }
        if let text = env("SLIPWAY_WORKER_HOST") { configuration.workerHost = text }
        configuration.environmentCache = env("SLIPWAY_ENV_CACHE_DIR").map { URL(fileURLWithPath: $0).standardizedFileURL }
        if let text = env("SLIPWAY_GATEWAY_MAX_REQUEST_BYTES") {
            guard let value = Int(text), value >= 1024 else {
                throw ValidationError("SLIPWAY_GATEWAY_MAX_REQUEST_BYTES must be a number of bytes, 1024 or more")
            }
            configuration.gateway.maxRequestBytes = value
        }
        if let text = env("SLIPWAY_SCALE_DOWN_SECONDS") {
            guard let value = Double(text), value >= 0 else { throw ValidationError("SLIPWAY_SCALE_DOWN_SECONDS must be a number of seconds, 0 or more") }
            configuration.scaleDownAfterSeconds = value
        }
        configuration.metricsToken = env("SLIPWAY_METRICS_TOKEN")
        if let text = env("SLIPWAY_WORKER_HEALTH_INTERVAL") {
            guard let value = Double(text), value >= 0.1, value <= 600 else {
                throw ValidationError("SLIPWAY_WORKER_HEALTH_INTERVAL must be a number of seconds from 0.1 to 600")
            }
            configuration.workerHealthInterval = value
        }
        if let text = env("SLIPWAY_WORKER_HEALTH_TIMEOUT") {
            guard let value = Double(text), value >= 0.1, value <= 600 else {
                throw ValidationError("SLIPWAY_WORKER_HEALTH_TIMEOUT must be a number of seconds from 0.1 to 600")
            }
            configuration.workerHealthTimeout = value
        }
        configuration.secureCookies = ["1", "true", "yes"].contains(env("SLIPWAY_SECURE_COOKIES")?.lowercased() ?? "")
        if let cost = env("SLIPWAY_BCRYPT_COST") {
            guard let value = Int(cost), (4...31).contains(value) else { throw ValidationError("SLIPWAY_BCRYPT_COST must be from 4 to 31") }
            configuration.bcryptCost = value
        }
        if let text = env("SLIPWAY_ARCHIVE_MAX_BYTES") {
            guard let value = Int64(text), value > 0 else { throw ValidationError("SLIPWAY_ARCHIVE_MAX_BYTES must be a number of bytes") }
            configuration.archiveLimits.maximumUnpackedBytes = value
        }
        if let text = env("SLIPWAY_ARCHIVE_MAX_ENTRIES") {
            guard let value = Int(text), value > 0 else { throw ValidationError("SLIPWAY_ARCHIVE_MAX_ENTRIES must be a positive number") }
            configuration.archiveLimits.maximumEntries = value
        }
        if let text = env("SLIPWAY_ARCHIVE_MAX_RATIO") {
            guard let value = Double(text), value >= 1 else { throw ValidationError("SLIPWAY_ARCHIVE_MAX_RATIO must be a number of 1 or more") }
            configuration.archiveLimits.maximumCompressionRatio = value
        }
        if let text = env("SLIPWAY_GC_MINIMUM_GRACE_SECONDS") {
            guard let value = Int(text), (0...2_592_000).contains(value) else {
                throw ValidationError("SLIPWAY_GC_MINIMUM_GRACE_SECONDS must be a whole number of seconds from 0 to 2592000")
            }
            configuration.minimumGCGraceSeconds = value
        }
        var logger = Logger(label: "slipway")
        if let level = env("SLIPWAY_LOG_LEVEL") {
            guard let value = Logger.Level(rawValue: level.lowercased()) else {
                throw ValidationError("SLIPWAY_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            logger.logLevel = value
        } else {
            logger.logLevel = .info
        }
        configuration.logLevel = logger.logLevel

        let app = try await buildApplication(configuration, logger: logger)
        // Stops on SIGTERM or SIGINT, after in-flight requests are answered.
        try await app.runService()
    }
}
