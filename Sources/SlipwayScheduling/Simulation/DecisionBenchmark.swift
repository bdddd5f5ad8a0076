import Foundation

/// The snapshot `slipway simulate bench-decision` times one decision on: a busy cluster and a long queue.
///
/// Four nodes in five are GPU nodes (64 cores, 512 GiB, 8 GPUs, labelled `gpu.model` A100 or H100), the rest
/// CPU nodes (64 cores, 256 GiB). Running jobs, drawn like ``SyntheticTraceGenerator``'s, hold about 70 % of
/// the GPUs, each with an expected end within its duration. The queue holds `jobs` jobs of the same shape
/// (gangs included) from eight namespaces of unequal load and weight, two of them with GPU quotas, one job
/// in twenty asking for H100 nodes, submitted over the last three hours — so a third of them are past the
/// default one-hour starvation bound and reservations are exercised.
public enum DecisionBenchmark {
    /// The benchmark's snapshot; the same arguments always give the same snapshot.
    public static func snapshot(jobs: Int, nodes nodeCount: Int, seed: UInt64 = 1) -> SchedulingSnapshot {
        let now = 100_000.0
        var random = SeededRandom(seed: seed)
        let gpuNodes = max(1, nodeCount * 4 / 5)
        let shape = ClusterShape(groups: [
            .init(count: gpuNodes, capacity: Resources(cpu: 64, memoryGiB: 512, gpu: 8)),
            .init(count: max(0, nodeCount - gpuNodes), capacity: Resources(cpu: 64, memoryGiB: 256, gpu: 0)),
        ])
        var nodes = shape.nodes()
        for index in 0..<gpuNodes { nodes[index].labels = ["gpu.model": index % 2 == 0 ? "A100" : "H100"] }
        let namespaces = (1...8).map { SyntheticTraceGenerator.NamespaceLoad(name: "team-\($0)", share: 1 / Double($0)) }
        let generator = SyntheticTraceGenerator(jobCount: 0, seed: seed, namespaces: namespaces, cluster: shape)

        var running: [RunningJob] = []
        var busyGPUs = 0
        var attempts = 0
        while Double(busyGPUs) < 0.7 * Double(gpuNodes * 8) && attempts < nodeCount * 40 {
            attempts += 1
            let draw = generator.draw(&random)
            let node = random.below(nodes.count)
            guard draw.resources.fits(in: nodes[node].free) else { continue }
            nodes[node].free -= draw.resources
            nodes[node].freeGPUDevices.removeFirst(draw.resources.gpu)
            busyGPUs += draw.resources.gpu
            running.append(
                RunningJob(
                    id: "running-\(running.count + 1)", namespace: draw.namespace, nodeID: nodes[node].id, resources: draw.resources,
                    expectedEnd: now + random.uniform() * draw.duration))
        }

        var queue: [QueuedJob] = []
        queue.reserveCapacity(jobs)
        for number in 1...max(1, jobs) where number <= jobs {
            let draw = generator.draw(&random)
            let (task, count) = shape.tasks(for: draw.resources)
            let selector = draw.resources.gpu > 0 && random.uniform() < 0.05 ? ["gpu.model": "H100"] : [:]
            queue.append(
                QueuedJob(
                    id: "job-\(number)", namespace: draw.namespace, resources: task, taskCount: count, priority: random.uniform() < 0.1 ? 1 : 0,
                    submittedAt: now - random.uniform() * 3 * 3600, estimatedRuntime: draw.duration, nodeSelector: selector))
        }

        var shares: [String: NamespaceShare] = [:]
        for (index, namespace) in namespaces.enumerated() {
            let quota = index == 1 ? ResourceLimit(gpu: 600) : index == 4 ? ResourceLimit(gpu: 64) : .unlimited
            shares[namespace.name] = NamespaceShare(weight: index < 2 ? 2 : 1, quota: quota)
        }
        return SchedulingSnapshot(now: now, nodes: nodes, queue: queue, running: running, namespaces: shares)
    }
}
