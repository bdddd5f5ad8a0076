import Foundation
import Logging
import ServiceLifecycle
import SlipwayDomain
import SlipwayStore

/// The server's scheduling loop. Every tick, the server holding the `scheduler` lease in the database (one at
/// a time, so several servers may run) marks silent nodes lost and re-queues their jobs, then places queued
/// jobs on nodes with room. Placement is a pure function of a snapshot (``PlacementPlanner``).
struct SchedulingService: Service {
    let store: MetadataStore
    let logger: Logger
    let now: @Sendable () -> Date
    /// How often the loop runs.
    var interval: Duration = .milliseconds(500)
    /// A node silent this long is lost.
    var lostAfter: TimeInterval
    /// Who this server is, in the lease.
    let holder = "server-" + UUID().uuidString.prefix(8).lowercased()

    func run() async throws {
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
    func tick() async throws -> [PlacementPlanner.Placement] {
        let time = now()
        guard try await store.compute.acquireLease("scheduler", holder: holder, at: time, ttl: max(5, lostAfter / 2)) else { return [] }
        for name in try await store.compute.markLostNodes(silentSince: time.addingTimeInterval(-lostAfter), at: time) {
            logger.warning("node \(name) missed its heartbeats: marked lost, its jobs re-queued")
        }
        let nodes = try await store.compute.nodes()
        let jobs = try await store.compute.schedulable()
        var quotas: [UUID: Quota] = [:]
        for namespaceID in Set(jobs.map(\.namespaceID)) {
            if let namespace = try await store.namespaces.list(memberID: nil).first(where: { $0.namespace.id == namespaceID })?.namespace {
                quotas[namespaceID] = try await store.namespaces.quota(of: namespace)
            }
        }
        let placements = PlacementPlanner.plan(nodes: nodes, jobs: jobs, quotas: quotas)
        var made: [PlacementPlanner.Placement] = []
        for placement in placements
        where try await store.compute.place(jobID: placement.jobID, nodeID: placement.nodeID, gpuDevices: placement.gpuDevices, at: time) {
            made.append(placement)
        }
        return made
    }
}

/// Decides where queued jobs go, from a snapshot: no I/O.
///
/// Jobs are taken by priority, then age. A job is placed only if its namespace's quota has room beside the
/// namespace's placed jobs, on the ready node where it fits leaving the least of the scarcest resource idle
/// (GPUs first, so CPU jobs do not strand GPU nodes), with distinct GPU indices. A job that fits nowhere
/// waits; smaller jobs behind it may still start.
enum PlacementPlanner {
    struct Placement: Sendable, Hashable {
        var jobID: UUID
        var nodeID: UUID
        var gpuDevices: [Int]
    }

    static func plan(nodes: [ComputeNode], jobs: [(job: Job, namespaceID: UUID, nodeID: UUID?)], quotas: [UUID: Quota]) -> [Placement] {
        struct Room {
            var node: ComputeNode
            var cpu: Double
            var memory: Int64
            var gpus: [Int]
        }
        var rooms: [UUID: Room] = [:]
        for node in nodes {
            rooms[node.id] = Room(node: node, cpu: node.capacity.cpu, memory: node.capacity.memoryBytes, gpus: node.gpus.map(\.index).sorted())
        }
        var used: [UUID: ComputeResources] = [:]
        for (job, namespaceID, nodeID) in jobs where job.state.isPlaced {
            used[namespaceID, default: .zero].cpu += job.spec.resources.cpu
            used[namespaceID, default: .zero].memoryBytes += job.spec.resources.memoryBytes
            used[namespaceID, default: .zero].gpu += job.spec.resources.gpu
            guard let nodeID, var room = rooms[nodeID] else { continue }
            room.cpu -= job.spec.resources.cpu
            room.memory -= job.spec.resources.memoryBytes
            room.gpus.removeAll { job.gpuDevices.contains($0) }
            rooms[nodeID] = room
        }
        let queued = jobs.filter { $0.job.state == .queued }.sorted {
            ($0.job.spec.priority ?? 0, -$0.job.createdAt.timeIntervalSince1970) > (
                $1.job.spec.priority ?? 0, -$1.job.createdAt.timeIntervalSince1970
            )
        }
        var placements: [Placement] = []
        for (job, namespaceID, _) in queued {
            let want = job.spec.resources
            let current = used[namespaceID] ?? .zero
            let after = ComputeResources(
                cpu: current.cpu + want.cpu, memoryBytes: current.memoryBytes + want.memoryBytes, gpu: current.gpu + want.gpu)
            if let quota = quotas[namespaceID], JobController.exceeds(after, quota) != nil { continue }
            let fitting = rooms.values.filter {
                $0.node.state == .ready && $0.cpu >= want.cpu - 1e-9 && $0.memory >= want.memoryBytes && $0.gpus.count >= want.gpu
            }
            guard
                let best = fitting.min(by: {
                    ($0.gpus.count - want.gpu, $0.cpu - want.cpu, $0.node.name) < ($1.gpus.count - want.gpu, $1.cpu - want.cpu, $1.node.name)
                })
            else { continue }
            var room = best
            let devices = Array(room.gpus.prefix(want.gpu))
            room.cpu -= want.cpu
            room.memory -= want.memoryBytes
            room.gpus.removeFirst(want.gpu)
            rooms[room.node.id] = room
            used[namespaceID] = after
            placements.append(Placement(jobID: job.id, nodeID: room.node.id, gpuDevices: devices))
        }
        return placements
    }
}
