import Foundation
import Logging
import ServiceLifecycle
import SlipwayDomain
import SlipwayServing
import SlipwayStore
import Synchronization

/// The gateway's settings.
public struct GatewaySettings: Sendable {
    /// The largest inference request body accepted (`SLIPWAY_GATEWAY_MAX_REQUEST_BYTES`, default 64 MiB); larger ones get 413.
    public var maxRequestBytes = 64 << 20
    /// How often routes are read from the database.
    public var refreshInterval: Duration = .seconds(1)
    /// How often this gateway's load is written for autoscaling.
    public var loadInterval: Duration = .seconds(2)
    /// How long a caller's role in a deployment's namespace is remembered.
    public var accessCacheSeconds: Double = 5

    public init() {}
}

/// What the gateway knows of each deployment besides its route: whose it is and whether it is public.
final class ServingDirectory: Sendable {
    struct Entry: Sendable {
        var deploymentID: UUID
        var namespaceID: UUID
        var isPublic: Bool
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// `(user, namespace)` → (role or none, when it was read).
    private let roles = Mutex<[String: (role: Role?, at: Date)]>([:])

    func set(_ next: [String: Entry]) {
        entries.withLock { $0 = next }
    }

    func entry(_ name: String) -> Entry? { entries.withLock { $0[name] } }

    func cachedRole(user: UUID, namespace: UUID, maxAge: Double) -> Role?? {
        roles.withLock { cache in
            guard let hit = cache["\(user)|\(namespace)"], Date().timeIntervalSince(hit.at) < maxAge else { return nil }
            return .some(hit.role)
        }
    }

    func remember(user: UUID, namespace: UUID, role: Role?) {
        roles.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache["\(user)|\(namespace)"] = (role, Date())
        }
    }
}

/// Keeps this server's gateway current: every second it reads the deployments, their serving revisions and ready
/// replicas from the database and hands the routes to the ``InferenceGateway``; every two seconds it writes the load
/// the gateway saw, which the leader's ``DeploymentService`` sums over all servers to scale replicas.
struct GatewayService: Service {
    let store: MetadataStore
    let gateway: InferenceGateway
    let directory: ServingDirectory
    let settings: GatewaySettings
    let logger: Logger
    let now: @Sendable () -> Date
    /// This server in the load reports.
    let server = "gateway-" + UUID().uuidString.prefix(8).lowercased()

    func run() async throws {
        await withGracefulShutdownHandler {
            var lastLoad = ContinuousClock.now
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await refresh()
                    if ContinuousClock.now - lastLoad >= settings.loadInterval {
                        lastLoad = .now
                        try await reportLoad()
                    }
                } catch {
                    logger.warning("gateway refresh failed: \(error)")
                }
                try? await Task.sleep(for: settings.refreshInterval)
            }
        } onGracefulShutdown: {
        }
    }

    /// Reads the routes from the database.
    func refresh() async throws {
        let table = try await store.serving.routingTable()
        let replicas = try await store.serving.replicas(deploymentID: nil, includeStopped: false)
        var entries: [String: ServingDirectory.Entry] = [:]
        var routes: [DeploymentRoute] = []
        for (deployment, namespaceID, serving) in table {
            entries[deployment.name] = ServingDirectory.Entry(deploymentID: deployment.id, namespaceID: namespaceID, isPublic: deployment.isPublic)
            routes.append(Self.route(deployment, spec: serving.spec, revision: serving.revision, replicas: replicas))
        }
        directory.set(entries)
        gateway.update(routes)
    }

    /// A deployment's route: the serving revision's versions, each with its ready replicas of that revision.
    static func route(_ deployment: Deployment, spec: DeploymentSpec, revision: Int, replicas: [Replica]) -> DeploymentRoute {
        let batching = spec.effectiveBatching
        let versions = spec.models.map { entry in
            VersionRoute(
                model: entry.model, version: entry.version, weight: entry.weight, maxBatchSize: batching.maxBatchSize,
                maxQueueDelay: .microseconds(batching.maxQueueDelayMicroseconds), timeout: .milliseconds(spec.effectiveTimeoutMilliseconds),
                maxQueue: spec.effectiveMaxQueue,
                endpoints: replicas.filter {
                    $0.deployment == deployment.name && $0.revision == revision && $0.model == entry.model && $0.version == entry.version
                        && $0.state == .ready && $0.address != nil
                }.map { ReplicaEndpoint(id: $0.id, address: $0.address!) })
        }
        return DeploymentRoute(id: deployment.id, name: deployment.name, versions: versions)
    }

    /// Writes what the gateway saw since the last report.
    func reportLoad() async throws {
        let samples = gateway.takeLoad().map {
            GatewayLoad(deploymentID: $0.deploymentID, versionKey: $0.key, concurrency: $0.concurrency, requests: $0.requests)
        }
        try await store.serving.recordLoad(server: server, samples, at: now())
    }
}
