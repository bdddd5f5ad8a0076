import Foundation
import Logging
import ServiceLifecycle
import SlipwayDomain
import SlipwayStore
import Synchronization

/// The deployment loop, run by the server holding the `deployments` lease: for every deployment it brings the
/// replicas in line with the newest revision and the load, and moves the gateway to that revision once its replicas
/// are ready.
///
/// * **Rollout.** A new revision's replicas start beside the serving revision's, which keeps serving; once every model
///   version of the new revision has its replicas ready (or waiting only for room), the gateway switches to it and the
///   old replicas stop. Replicas whose worker would be the same (the model version, resources, environment and node
///   selector did not change: a scale, a traffic split, batching) are carried over to the new revision, not restarted.
/// * **Autoscaling.** Each version wants `ceil(concurrency ÷ target)` replicas, between the spec's minimum and maximum,
///   from the requests in flight or queued that the gateways reported; up at once, down only after the lower figure
///   held for ``scaleDownAfter``.
/// * **Failures.** A version whose replicas of one revision failed three times (a model that cannot be loaded) gets no
///   more; the deployment says why. Replicas on draining nodes are replaced first, then stopped.
struct DeploymentService: Service {
    let store: MetadataStore
    let logger: Logger
    let now: @Sendable () -> Date
    var interval: Duration = .seconds(1)
    /// How long load must stay low before replicas are taken away.
    var scaleDownAfter: TimeInterval = 30
    let holder = "deployments-" + UUID().uuidString.prefix(8).lowercased()
    private let lowSince = LowLoadMemory()

    /// Failed replicas of one version in one revision after which no more are made.
    static let failureLimit = 3

    init(store: MetadataStore, logger: Logger, now: @escaping @Sendable () -> Date, scaleDownAfter: TimeInterval = 30) {
        self.store = store
        self.logger = logger
        self.now = now
        self.scaleDownAfter = scaleDownAfter
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await tick()
                } catch {
                    logger.warning("deployment loop failed: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {
        }
    }

    /// One round over every deployment. - Returns: whether this server led it.
    @discardableResult
    func tick() async throws -> Bool {
        let time = now()
        guard try await store.compute.acquireLease("deployments", holder: holder, at: time, ttl: 10) else { return false }
        let deployments = try await store.serving.deployments(namespaceIDs: nil, projectID: nil)
        let replicas = try await store.serving.replicas(deploymentID: nil, includeStopped: true)
        let nodes = Dictionary(try await store.compute.nodes().map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let load = Dictionary(
            try await store.serving.load(since: time.addingTimeInterval(-10)).map { ("\($0.deploymentID)|\($0.versionKey)", $0) },
            uniquingKeysWith: { $1 })
        for deployment in deployments {
            // One deployment's failure (deleted meanwhile, a revision that no longer reads) holds up none of the others.
            do {
                try await reconcile(
                    deployment, replicas: replicas.filter { $0.deployment == deployment.name }, nodes: nodes, load: load, at: time)
            } catch {
                logger.error("deployment \(deployment.name) could not be reconciled: \(error)")
            }
        }
        // Stopped replicas stay on record a day, for the deployment pages.
        try await store.serving.purgeReplicas(endedBefore: time.addingTimeInterval(-86_400))
        return true
    }

    func reconcile(_ deployment: Deployment, replicas: [Replica], nodes: [String: ComputeNode], load: [String: GatewayLoad], at time: Date)
        async throws
    {
        let spec = deployment.spec
        let target = deployment.revision
        let serving = deployment.servingRevision
        let servingSpec = serving == nil || serving == target ? nil : try await store.serving.revision(deploymentID: deployment.id, number: serving!)?.spec

        var replicas = replicas
        var desired: [String: Int] = [:]
        var problems: [String] = []
        var targetReady = true
        var readyCounts: [String: Int] = [:]
        var carriedIDs: [UUID] = []
        for entry in spec.models {
            let key = modelVersionKey(entry.model, entry.version)
            let want = desiredReplicas(deployment, key: key, load: load["\(deployment.id)|\(key)"], at: time)
            desired[key] = want
            // Replicas of the serving revision whose worker would not change count for the new revision as they are. They
            // move to it only at the switch: until then the gateway routes the serving revision, and they are part of it.
            if let servingSpec, let serving, Self.sameWorker(servingSpec, spec, model: entry.model, version: entry.version) {
                let carried = replicas.indices.filter {
                    replicas[$0].model == entry.model && replicas[$0].version == entry.version && replicas[$0].revision == serving
                        && replicas[$0].state.isLive
                }
                carriedIDs += carried.map { replicas[$0].id }
                for index in carried { replicas[index].revision = target }
            }
            let current = replicas.filter { $0.model == entry.model && $0.version == entry.version && $0.revision == target }
            let live = current.filter(\.state.isLive)
            let failed = current.filter { $0.state == .failed }
            // Replicas on draining nodes are replaced: they do not count, and stop once their replacements are ready.
            let draining = live.filter { $0.node.flatMap { nodes[$0]?.state } == .draining }
            let staying = live.filter { replica in !draining.contains(where: { $0.id == replica.id }) }
            let ready = staying.filter { $0.state == .ready }
            readyCounts[key] = ready.count

            if failed.count >= Self.failureLimit {
                problems.append("\(entry.model) v\(entry.version) failed \(failed.count) times: \(failed.last?.reason ?? "")")
                if ready.isEmpty { targetReady = false }
            } else if staying.count < want {
                _ = try await store.serving.createReplicas(
                    deploymentID: deployment.id, revision: target, model: entry.model, version: entry.version, count: want - staying.count,
                    resources: spec.resources, nodeSelector: spec.nodeSelector ?? [:], at: time)
                targetReady = false
            } else if staying.count > want {
                // Fewest losses first: replicas not yet serving, then the newest.
                let extra = staying.sorted { ($0.state == .ready ? 1 : 0, $1.createdAt) < ($1.state == .ready ? 1 : 0, $0.createdAt) }
                    .prefix(staying.count - want)
                try await store.serving.stopReplicas(ids: extra.map(\.id), reason: "scaled down to \(want)", at: time)
            }
            if !draining.isEmpty, ready.count >= want {
                try await store.serving.stopReplicas(ids: draining.map(\.id), reason: "its node is being drained; replaced", at: time)
            }
            // Ready means: something serves, and nothing is still on its way up (pending ones wait only for room).
            if want > 0 && ready.isEmpty { targetReady = false }
            if staying.contains(where: { [.scheduled, .starting].contains($0.state) }) { targetReady = false }
        }

        // The switch: once the new revision is ready, the gateway moves to it and the rest stop.
        var servingNow = serving
        if targetReady { servingNow = target }
        let keep = Set([target, servingNow].compactMap { $0 })
        let leftovers = replicas.filter { $0.state.isLive && !keep.contains($0.revision) }
        if !leftovers.isEmpty {
            try await store.serving.stopReplicas(ids: leftovers.map(\.id), reason: "revision \(target) replaced revision \(leftovers[0].revision)", at: time)
        }
        // Versions the new revision no longer serves stop once it serves.
        if servingNow == target {
            let served = Set(spec.models.map { modelVersionKey($0.model, $0.version) })
            let dropped = replicas.filter { $0.state.isLive && $0.revision == target && !served.contains(modelVersionKey($0.model, $0.version)) }
            try await store.serving.stopReplicas(ids: dropped.map(\.id), reason: "no longer served", at: time)
        }

        let (state, reason) = Self.status(
            spec: spec, target: target, serving: servingNow, desired: desired, ready: readyCounts, problems: problems)
        if servingNow != serving || state != deployment.state || reason != deployment.reason || desired != deployment.desiredReplicas {
            if servingNow != serving, let servingNow {
                logger.info("deployment \(deployment.name) now serves revision \(servingNow)")
            }
            try await store.serving.setStatus(
                deploymentID: deployment.id, servingRevision: servingNow, state: state, reason: reason, desired: desired,
                adopting: servingNow == target && servingNow != serving ? carriedIDs : [], at: time)
        }
    }

    /// The replicas a version wants now, from its load.
    func desiredReplicas(_ deployment: Deployment, key: String, load: GatewayLoad?, at time: Date) -> Int {
        let spec = deployment.spec
        let current = deployment.desiredReplicas[key] ?? max(1, spec.minReplicas)
        let concurrency = load?.concurrency ?? 0
        var wanted = Int((concurrency / spec.effectiveTargetConcurrency).rounded(.up))
        // With no traffic at all a version may go down to its minimum (zero allowed); with some, it keeps one.
        if wanted == 0, (load?.requests ?? 0) > 0 || concurrency > 0 { wanted = 1 }
        wanted = min(spec.maxReplicas, max(spec.minReplicas, wanted))
        let memoryKey = "\(deployment.id)|\(key)"
        if wanted >= current {
            lowSince.forget(memoryKey)
            return min(spec.maxReplicas, max(spec.minReplicas, wanted))
        }
        // Lower: only once it has stayed lower for a while.
        let since = lowSince.since(memoryKey, now: time)
        if time.timeIntervalSince(since) >= scaleDownAfter {
            lowSince.forget(memoryKey)
            return wanted
        }
        return min(spec.maxReplicas, max(spec.minReplicas, current))
    }

    /// Whether a replica of this model version made for `old` runs the same worker under `new`.
    static func sameWorker(_ old: DeploymentSpec, _ new: DeploymentSpec, model: String, version: Int) -> Bool {
        old.models.contains { $0.model == model && $0.version == version } && old.resources == new.resources
            && old.environment == new.environment && (old.nodeSelector ?? [:]) == (new.nodeSelector ?? [:])
    }

    /// The deployment's state and a sentence for it.
    static func status(
        spec: DeploymentSpec, target: Int, serving: Int?, desired: [String: Int], ready: [String: Int], problems: [String]
    ) -> (DeploymentState, String) {
        let counts = spec.models.map { entry -> String in
            let key = modelVersionKey(entry.model, entry.version)
            return "\(entry.model) v\(entry.version): \(ready[key] ?? 0)/\(desired[key] ?? 0) ready"
        }.joined(separator: "; ")
        if !problems.isEmpty {
            return (serving == nil ? .unavailable : .degraded, "revision \(target): " + problems.joined(separator: "; "))
        }
        guard let serving else { return (.rollingOut, "revision \(target) is starting: \(counts)") }
        if serving != target { return (.rollingOut, "revision \(target) is starting while revision \(serving) serves: \(counts)") }
        let servingVersions = spec.models.filter { $0.weight > 0 || (desired[modelVersionKey($0.model, $0.version)] ?? 0) > 0 }
        if servingVersions.contains(where: { (ready[modelVersionKey($0.model, $0.version)] ?? 0) == 0 && (desired[modelVersionKey($0.model, $0.version)] ?? 0) > 0 }) {
            return (.unavailable, "revision \(target): \(counts)")
        }
        let short = spec.models.contains { (ready[modelVersionKey($0.model, $0.version)] ?? 0) < (desired[modelVersionKey($0.model, $0.version)] ?? 0) }
        return (short ? .degraded : .ready, "revision \(target): \(counts)")
    }
}

/// When each version's load first fell below its replicas, kept by the leader between ticks.
final class LowLoadMemory: Sendable {
    private let since = Mutex<[String: Date]>([:])

    func since(_ key: String, now: Date) -> Date {
        since.withLock { values in
            if let date = values[key] { return date }
            values[key] = now
            return now
        }
    }

    func forget(_ key: String) {
        _ = since.withLock { $0.removeValue(forKey: key) }
    }
}
