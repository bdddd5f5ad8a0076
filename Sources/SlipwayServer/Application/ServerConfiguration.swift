import Foundation
import Logging
import SlipwayData
import SlipwayScheduling

/// Everything `slipway serve` needs to start, read from flags and `SLIPWAY_*` environment variables.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port to listen on.
    public var port: Int
    /// Folder holding everything stored on the embedded defaults (SQLite file, blobs).
    public var dataDirectory: URL
    /// `postgres://…` to use PostgreSQL; `nil` for SQLite under the data directory.
    public var databaseURL: String?
    /// The first administrator's password; generated and printed once when `nil`.
    public var adminPassword: String?
    /// bcrypt work factor for new password hashes (4…31).
    public var bcryptCost: Int
    /// Whether session cookies carry the `Secure` attribute (set this behind HTTPS).
    public var secureCookies: Bool
    /// How long a browser session lasts.
    public var sessionLifetime: Duration
    /// The largest JSON or form body accepted, in bytes.
    public var maxBodyBytes: Int
    /// How much the server logs.
    public var logLevel: Logger.Level
    /// What an uploaded archive may unpack to.
    public var archiveLimits = ArchiveLimits()
    /// The shortest grace period a garbage collection may use (`SLIPWAY_GC_MINIMUM_GRACE_SECONDS`, default 600): the
    /// time a push has between uploading its blobs and asking for its version.
    public var minimumGCGraceSeconds = 600
    /// Seconds between an agent's heartbeats.
    public var heartbeatSeconds: Double = 2
    /// A node silent this many seconds is lost, and its jobs are re-queued.
    public var nodeLostAfterSeconds: Double = 15
    /// Whether `slipway serve` runs an agent in-process, making this machine a node.
    public var embeddedAgent = true
    /// The most characters of one job's log the server keeps (`SLIPWAY_JOB_LOG_LIMIT`, default 64 Mi).
    public var jobLogLimit: Int64 = 64 << 20
    /// How queued jobs are placed: dominant resource fairness across namespaces (the default) or FIFO.
    public var schedulerPolicy: SchedulingPolicyName = .drf
    /// Fair sharing's protection against starvation: how long a job waits before room is reserved for it.
    public var schedulingOptions = SchedulingOptions(starvationBound: 600)
    /// Where the embedded agent's serving workers listen (`SLIPWAY_WORKER_HOST`); loopback keeps them on this machine.
    public var workerHost = "127.0.0.1"
    /// Where agents cache Python environments for jobs and workers (`SLIPWAY_ENV_CACHE_DIR`); nil: the agent's folder.
    public var environmentCache: URL?
    /// Seconds between health checks of a serving worker, and how long one may take (`SLIPWAY_WORKER_HEALTH_INTERVAL`,
    /// `SLIPWAY_WORKER_HEALTH_TIMEOUT`); three failed checks in a row replace the worker.
    public var workerHealthInterval: Double = 2
    public var workerHealthTimeout: Double = 5
    /// The gateway's settings: request size limit, and how often it reads routes and reports load.
    public var gateway = GatewaySettings()
    /// How long a model version's load must stay low before autoscaling removes replicas (`SLIPWAY_SCALE_DOWN_SECONDS`).
    public var scaleDownAfterSeconds: Double = 30
    /// The token `/metrics` requires (`SLIPWAY_METRICS_TOKEN`); open when nil.
    public var metricsToken: String?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, dataDirectory: URL = URL(fileURLWithPath: "slipway-data"),
        databaseURL: String? = nil, adminPassword: String? = nil, bcryptCost: Int = 12, secureCookies: Bool = false,
        sessionLifetime: Duration = .seconds(12 * 3600), maxBodyBytes: Int = 1 << 20, logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.adminPassword = adminPassword
        self.bcryptCost = bcryptCost
        self.secureCookies = secureCookies
        self.sessionLifetime = sessionLifetime
        self.maxBodyBytes = maxBodyBytes
        self.logLevel = logLevel
    }
}
