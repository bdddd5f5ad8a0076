import Foundation
import Logging
import ServiceLifecycle
import SlipwayDomain
import SlipwayScheduling
import SlipwayStore
import Synchronization

/// The server's scheduling loop. Every tick, the server holding the `scheduler` lease in the database (one at
/// a time, so several servers may run) marks silent nodes lost and re-queues their jobs, builds a
/// ``SchedulingSnapshot`` of the cluster, asks the configured policy (``SchedulingPolicy``: the same pure code
/// `slipway simulate` replays traces through) where queued jobs go, and applies its placements. Each waiting
/// job's reason ("exceeds namespace quota (gpu 4 > 2 left)") is written on the job for people to see.
struct SchedulingService: Service {
    let store: MetadataStore
    let logger: Logger
    let now: @Sendable () -> Date
    /// The policy that decides.
    var policy: any SchedulingPolicy = DominantResourceFairnessPolicy(options: SchedulingOptions(starvationBound: 600))
    /// How often the loop runs.
    var interval: Duration = .milliseconds(500)
    /// A node silent this long is lost.
    var lostAfter: TimeInterval
    /// Who this server is, in the lease.
    let holder = "server-" + UUID().uuidString.prefix(8).lowercased()
    /// What the previous decision reserved, kept so a starving job's reservation stays where it was promised.
    private let reservations = ReservationMemory()

    init(
        store: MetadataStore, logger: Logger, now: @escaping @Sendable () -> Date, policy: (any SchedulingPolicy)? = nil,
        lostAfter: TimeInterval
    ) {
        self.store = store
        self.logger = logger
        self.now = now
        if let policy { self.policy = policy }
        self.lostAfter = lostAfter
    }

    func run() async throws {
        logger.info("scheduling with the \(policy.name) policy")
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await tick()
                } catch {
                    logger.warning("scheduling tick failed: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {
        }
    }

    /// One round: leadership, lost nodes, placements. - Returns: the placements made (none when not the leader).
    @discardableResult
    func tick() async throws -> [Placement] {
        let time = now()
        guard try await store.compute.acquireLease("scheduler", holder: holder, at: time, ttl: max(5, lostAfter / 2)) else { return [] }
        let lost = try await store.compute.markLostNodes(silentSince: time.addingTimeInterval(-lostAfter), at: time)
        for name in lost {
            logger.warning("node \(name) missed its heartbeats: marked lost, its jobs re-queued")
        }
        if !lost.isEmpty {
            // Jobs out of attempts ended as lost: their runs end too.
            let runs = JobRuns(store: store, logger: logger)
            for job in try await store.compute.jobs(namespaceIDs: nil, projectID: nil, states: [.lost], limit: 100) {
                await runs.follow(job, at: time)
            }
        }
        let nodes = try await store.compute.nodes()
        // Serving replicas on lost nodes go back to the queue, like the nodes' jobs.
        let lostNodes = nodes.filter { $0.state == .lost }.map(\.id)
        if try await store.serving.requeueReplicas(onNodes: lostNodes, reason: "its node was lost", at: time) > 0 {
            logger.warning("serving replicas on lost nodes were re-queued")
        }
        let jobs = try await store.compute.schedulable()
        let replicas = try await store.serving.schedulableReplicas()
        guard jobs.contains(where: { $0.job.state == .queued }) || replicas.contains(where: { $0.replica.state == .pending }) else {
            reservations.value.withLock { $0 = [] }
            return []
        }
        var shares: [UUID: (name: String, quota: Quota)] = [:]
        let involved = Set(jobs.map(\.namespaceID) + replicas.map(\.namespaceID))
        for (namespace, _) in try await store.namespaces.list(memberID: nil) where involved.contains(namespace.id) {
            shares[namespace.id] = (namespace.name.value, try await store.namespaces.quota(of: namespace))
        }
        let snapshot = ClusterSnapshot.make(
            nodes: nodes, jobs: jobs, replicas: replicas, shares: shares, now: time, previousReservations: reservations.value.withLock { $0 })
        let decision = policy.schedule(snapshot)
        reservations.value.withLock { $0 = decision.reservations }

        var made: [Placement] = []
        for placement in decision.placements {
            guard let nodeID = UUID(uuidString: placement.nodeID) else { continue }
            if let replicaID = ClusterSnapshot.replicaID(placement.jobID) {
                if try await store.serving.placeReplica(id: replicaID, nodeID: nodeID, gpuDevices: placement.gpuDevices, at: time) {
                    made.append(placement)
                }
                continue
            }
            guard let jobID = UUID(uuidString: placement.jobID) else { continue }
            if try await store.compute.place(jobID: jobID, nodeID: nodeID, gpuDevices: placement.gpuDevices, at: time) {
                made.append(placement)
            }
        }
        var reasons: [UUID: String] = [:]
        var replicaReasons: [UUID: String] = [:]
        for (id, reason) in decision.waiting {
            if let replicaID = ClusterSnapshot.replicaID(id) {
                replicaReasons[replicaID] = "waiting: \(reason.message)"
            } else if let jobID = UUID(uuidString: id) {
                reasons[jobID] = "waiting: \(reason.message)"
            }
        }
        try await store.compute.setWaitingReasons(reasons)
        try await store.serving.setWaitingReasons(replicaReasons)
        return made
    }
}

/// The reservations of the last decision, shared by the loop's ticks.
final class ReservationMemory: Sendable {
    let value = Mutex<[Reservation]>([])
}

/// Turns the database's view of the cluster into the scheduler's snapshot: no I/O.
enum ClusterSnapshot {
    /// - Parameters:
    ///   - nodes: every registered node; only ready ones take new work.
    ///   - jobs: queued and placed jobs with their namespaces and, for placed ones, their nodes.
    ///   - shares: each namespace's name and quota (with its fair-share weight).
    ///   - previousReservations: what the last decision reserved.
    /// Serving replicas share the queue with jobs under ids of this prefix.
    static let replicaPrefix = "replica:"

    /// The replica a snapshot id names, if it names one.
    static func replicaID(_ id: String) -> UUID? {
        id.hasPrefix(replicaPrefix) ? UUID(uuidString: String(id.dropFirst(replicaPrefix.count))) : nil
    }

    /// Replicas of online services go before batch jobs of their namespace: a service that cannot start its replicas
    /// fails its users now, a job only waits.
    static let replicaPriority = 1_000_000

    static func make(
        nodes: [ComputeNode], jobs: [(job: Job, namespaceID: UUID, nodeID: UUID?)], replicas: [SchedulableReplica] = [],
        shares: [UUID: (name: String, quota: Quota)], now: Date, previousReservations: [Reservation] = []
    ) -> SchedulingSnapshot {
        let clock = now.timeIntervalSince1970
        func name(_ namespaceID: UUID, _ job: Job) -> String { shares[namespaceID]?.name ?? job.namespace }
        var free: [UUID: Resources] = [:]
        var freeDevices: [UUID: Set<Int>] = [:]
        for node in nodes {
            free[node.id] = Resources(node.capacity)
            freeDevices[node.id] = Set(node.gpus.map(\.index))
        }
        var running: [RunningJob] = []
        for (job, namespaceID, nodeID) in jobs where job.state.isPlaced {
            guard let nodeID else { continue }
            let held = Resources(job.spec.resources)
            free[nodeID]? -= held
            freeDevices[nodeID]?.subtract(job.gpuDevices)
            let start = job.startedAt?.timeIntervalSince1970 ?? clock
            running.append(
                RunningJob(
                    id: job.id.uuidString, namespace: name(namespaceID, job), nodeID: nodeID.uuidString, resources: held,
                    expectedEnd: job.spec.maxRuntimeSeconds.map { start + Double($0) }))
        }
        for replica in replicas where replica.replica.state.isPlaced {
            guard let nodeID = replica.nodeID else { continue }
            let held = Resources(replica.resources)
            free[nodeID]? -= held
            freeDevices[nodeID]?.subtract(replica.replica.gpuDevices)
            running.append(
                RunningJob(
                    id: replicaPrefix + replica.replica.id.uuidString, namespace: shares[replica.namespaceID]?.name ?? "", nodeID: nodeID.uuidString,
                    resources: held, expectedEnd: nil))
        }
        let snapshotNodes = nodes.map { node in
            var labels = node.labels
            if let model = node.gpus.first?.model, labels["gpu.model"] == nil { labels["gpu.model"] = model }
            var left = free[node.id] ?? .zero
            left.cpuMillicores = max(0, left.cpuMillicores)
            left.memoryBytes = max(0, left.memoryBytes)
            return NodeSnapshot(
                id: node.id.uuidString, capacity: Resources(node.capacity), free: left,
                freeGPUDevices: (freeDevices[node.id] ?? []).sorted(), labels: labels, isSchedulable: node.state == .ready)
        }
        let queue = jobs.filter { $0.job.state == .queued }.map { job, namespaceID, _ in
            QueuedJob(
                id: job.id.uuidString, namespace: name(namespaceID, job), resources: Resources(job.spec.resources),
                priority: job.spec.priority ?? 0, submittedAt: job.createdAt.timeIntervalSince1970,
                maximumRuntime: job.spec.maxRuntimeSeconds.map(Double.init), nodeSelector: job.spec.nodeSelector ?? [:])
        }
        let pendingReplicas = replicas.filter { $0.replica.state == .pending }.map { replica in
            QueuedJob(
                id: replicaPrefix + replica.replica.id.uuidString, namespace: shares[replica.namespaceID]?.name ?? "",
                resources: Resources(replica.resources), priority: replicaPriority, submittedAt: replica.replica.createdAt.timeIntervalSince1970,
                nodeSelector: replica.nodeSelector)
        }
        var namespaces: [String: NamespaceShare] = [:]
        for (_, share) in shares {
            namespaces[share.name] = NamespaceShare(weight: share.quota.weight ?? 1, quota: ResourceLimit(share.quota))
        }
        return SchedulingSnapshot(
            now: clock, nodes: snapshotNodes, queue: queue + pendingReplicas, running: running, namespaces: namespaces,
            previousReservations: previousReservations)
    }
}

extension ResourceLimit {
    /// A namespace's quota as the scheduler limits it (the weight is the share's, not the limit's).
    init(_ quota: Quota) {
        self.init(cpu: quota.cpu, memoryBytes: quota.memoryBytes, gpu: quota.gpu)
    }
}

extension Resources {
    /// The scheduler's exact form of a request or capacity.
    init(_ resources: ComputeResources) {
        self.init(cpu: resources.cpu, memoryBytes: resources.memoryBytes, gpu: resources.gpu)
    }
}
