import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A ready replica the gateway may send work to.
public struct ReplicaEndpoint: Sendable, Hashable {
    public var id: UUID
    /// `tcp:HOST:PORT` (or `unix:PATH`), where its worker listens.
    public var address: String
    public init(id: UUID, address: String) {
        self.id = id
        self.address = address
    }
}

/// How the gateway serves one model version of a deployment.
public struct VersionRoute: Sendable, Hashable {
    /// `model:version`.
    public var key: String
    public var model: String
    public var version: Int
    /// Share of the requests that name no version.
    public var weight: Int
    public var maxBatchSize: Int
    public var maxQueueDelay: Duration
    public var timeout: Duration
    /// The most requests that may wait; more are refused with 503.
    public var maxQueue: Int
    public var endpoints: [ReplicaEndpoint]

    public init(
        model: String, version: Int, weight: Int, maxBatchSize: Int, maxQueueDelay: Duration, timeout: Duration, maxQueue: Int,
        endpoints: [ReplicaEndpoint]
    ) {
        self.key = "\(model):\(version)"
        self.model = model
        self.version = version
        self.weight = weight
        self.maxBatchSize = maxBatchSize
        self.maxQueueDelay = maxQueueDelay
        self.timeout = timeout
        self.maxQueue = maxQueue
        self.endpoints = endpoints
    }
}

/// Where the gateway sends a deployment's requests: its versions with their replicas.
public struct DeploymentRoute: Sendable, Hashable {
    public var id: UUID
    public var name: String
    public var versions: [VersionRoute]
    public init(id: UUID, name: String, versions: [VersionRoute]) {
        self.id = id
        self.name = name
        self.versions = versions
    }
}

/// A request the gateway could not answer with the model's outputs: its status, the sentence, and for 503 how
/// soon to try again.
public struct GatewayError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var message: String
    /// Seconds, for `Retry-After`.
    public var retryAfter: Int?
    public init(status: Int, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }
    public var description: String { message }
}

/// The gateway's data path: for each deployment and model version a bounded queue that batches requests and sends
/// them to the least-loaded ready replica. It holds no state another server needs: routes come from the database
/// (``update(_:)``), and load goes back to it for autoscaling (``takeLoad()``).
public final class InferenceGateway: Sendable {
    let metrics: GatewayMetrics
    let group: any EventLoopGroup
    private let state = Mutex<[String: DeploymentEntry]>([:])
    /// Spreads requests across versions by weight, without a shared random generator.
    private let counter = Atomic<UInt64>(0)

    struct DeploymentEntry: Sendable {
        var route: DeploymentRoute
        var queues: [String: ModelVersionQueue]
    }

    public init(metrics: GatewayMetrics, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.metrics = metrics
        self.group = group
    }

    /// Replaces the routing table: new deployments and versions get queues, gone ones are closed (their waiting
    /// requests fail with 404), and each queue learns its current replicas.
    public func update(_ routes: [DeploymentRoute]) {
        var closed: [ModelVersionQueue] = []
        state.withLock { entries in
            var next: [String: DeploymentEntry] = [:]
            for route in routes {
                var queues: [String: ModelVersionQueue] = [:]
                let old = entries[route.name]
                for version in route.versions {
                    if let queue = old?.queues[version.key], old?.route.id == route.id {
                        queue.update(version)
                        queues[version.key] = queue
                    } else {
                        queues[version.key] = ModelVersionQueue(
                            deployment: route.name, route: version, series: metrics.series(deployment: route.name, version: String(version.version)),
                            group: group)
                    }
                }
                if let old {
                    for (key, queue) in old.queues where queues[key] !== queue { closed.append(queue) }
                }
                next[route.name] = DeploymentEntry(route: route, queues: queues)
            }
            for (name, entry) in entries where next[name] == nil {
                closed.append(contentsOf: entry.queues.values)
            }
            entries = next
        }
        for queue in closed { queue.close() }
    }

    /// The route of a deployment, if the gateway serves it.
    public func route(named name: String) -> DeploymentRoute? {
        state.withLock { $0[name]?.route }
    }

    /// The queue a request goes to: the version it names, or one chosen by the weights.
    func queue(deployment: String, version: Int?) throws -> ModelVersionQueue {
        guard let entry = state.withLock({ $0[deployment] }) else {
            throw GatewayError(status: 404, "model '\(deployment)' is not deployed")
        }
        if let version {
            guard let route = entry.route.versions.first(where: { $0.version == version }), let queue = entry.queues[route.key] else {
                let served = entry.route.versions.map { String($0.version) }.joined(separator: ", ")
                throw GatewayError(status: 404, "model '\(deployment)' has no version \(version); it serves version \(served)")
            }
            return queue
        }
        let weighted = entry.route.versions.filter { $0.weight > 0 }
        guard !weighted.isEmpty else {
            throw GatewayError(status: 404, "model '\(deployment)' sends no traffic to any version; name one (/versions/N)")
        }
        let total = weighted.reduce(0) { $0 + $1.weight }
        // A low-discrepancy walk over the weights: every run of `total` requests follows the split exactly.
        let ticket = Int(counter.add(1, ordering: .relaxed).newValue &* 2_654_435_761 % UInt64(total))
        var sum = 0
        for route in weighted {
            sum += route.weight
            if ticket < sum, let queue = entry.queues[route.key] { return queue }
        }
        return entry.queues[weighted[0].key]!
    }

    /// Runs a request through the deployment: batched, on the least-loaded ready replica. A failure is counted in the
    /// version's series here; the caller counts a success once it has written the answer.
    /// - Parameter started: when the request arrived, for its latency.
    /// - Returns: the version that answered, the outputs, and the version's series.
    /// - Throws: ``GatewayError`` (404 unknown, 503 full or no replica, 504 timeout, 502 worker lost) or the worker's
    ///   ``WorkerError`` (400 for the request's mistakes).
    public func infer(
        deployment: String, version: Int?, inputs: [Tensor], outputs: [String], timeout: Duration?, started: ContinuousClock.Instant = .now
    ) async throws -> (route: VersionRoute, outputs: [Tensor], series: GatewayMetrics.VersionSeries) {
        let queue = try queue(deployment: deployment, version: version)
        do {
            return (queue.route, try await queue.submit(inputs, outputs: outputs, timeout: timeout), queue.series)
        } catch {
            let status = (error as? GatewayError)?.status ?? (error as? WorkerError)?.status ?? 500
            queue.series.answered(status: status, latency: ContinuousClock.now - started)
            throw error
        }
    }

    /// The model version's declared inputs and outputs, from one of its replicas.
    public func metadata(deployment: String, version: Int?) async throws -> (route: VersionRoute, metadata: WorkerMetadata) {
        let queue = try queue(deployment: deployment, version: version)
        return (queue.route, try await queue.metadata())
    }

    /// Whether the version (or, with no version, every weighted version) has a ready replica.
    public func isReady(deployment: String, version: Int?) -> Bool {
        guard let entry = state.withLock({ $0[deployment] }) else { return false }
        let versions = entry.route.versions.filter { version == nil ? $0.weight > 0 : $0.version == version }
        return !versions.isEmpty && versions.allSatisfy { !$0.endpoints.isEmpty }
    }

    /// Requests in flight or queued now, by deployment and version key.
    public func inFlight() -> [String: [String: Int]] {
        state.withLock { entries in entries.mapValues { $0.queues.mapValues { $0.active } } }
    }

    /// Each version's average concurrency and answered requests since the last call, for autoscaling.
    public func takeLoad() -> [(deploymentID: UUID, key: String, concurrency: Double, requests: Int)] {
        let entries = state.withLock { $0 }
        return entries.values.flatMap { entry in
            entry.queues.map { key, queue in
                let (concurrency, requests) = queue.takeLoad()
                return (entry.route.id, key, concurrency, requests)
            }
        }
    }
}
