import Foundation

/// What a replay assumes beyond the trace and the cluster.
public struct SimulationOptions: Sendable, Hashable, Codable {
    /// Weights and quotas by namespace (weight 1 and no quota for one not listed).
    public var namespaces: [String: NamespaceShare]
    /// The runtime estimate a job carries is its true duration times this factor (1: perfect estimates;
    /// 2: everyone asks for twice what they use); `nil` gives jobs no estimate, so no reservation can be timed.
    public var runtimeEstimateFactor: Double?

    public init(namespaces: [String: NamespaceShare] = [:], runtimeEstimateFactor: Double? = 1) {
        self.namespaces = namespaces
        self.runtimeEstimateFactor = runtimeEstimateFactor
    }
}

/// Replays a trace through a scheduling policy on a simulated cluster, event by event.
///
/// The replay keeps the simulated time and the cluster's free room. At every moment something happens —
/// jobs arrive, jobs end (ends are handled before arrivals at the same moment) — it builds the same
/// ``SchedulingSnapshot`` the server builds (with the previous decision's reservations) and applies the
/// policy's decision: the placed jobs start at once and end after their trace duration. Jobs carry their
/// true duration, times ``SimulationOptions/runtimeEstimateFactor``, as their runtime estimate. A job needing more GPUs than the largest node has runs as a
/// gang of the fewest equal tasks that each fit a node's GPUs, with its CPU and memory split evenly. A job
/// that could never fit (no node, or gang of nodes, could hold it, or it is larger than its namespace's
/// whole quota) is counted and left out at arrival. Time is simulated; nothing here reads a clock.
public struct Simulator: Sendable {
    public var cluster: ClusterShape
    public var policy: any SchedulingPolicy
    public var options: SimulationOptions

    public init(cluster: ClusterShape = .standard, policy: any SchedulingPolicy, options: SimulationOptions = SimulationOptions()) {
        self.cluster = cluster
        self.policy = policy
        self.options = options
    }

    /// Replays `trace` to the end.
    /// - Throws: ``SimulationError`` when the policy returns a placement that breaks the cluster's rules (a bug).
    public func run(_ trace: Trace) throws -> SimulationReport {
        var replay = Replay(cluster: cluster, policy: policy, options: options, trace: trace)
        try replay.run()
        return replay.report()
    }
}

/// Something a simulation cannot do: an unreadable cluster description, or a policy decision that breaks
/// the cluster's rules.
public struct SimulationError: Error, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case badClusterSpec(String)
        case invalidPlacement(String)
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// `spec` is not `COUNTxCPU/MEMORY_GIB/GPU[,…]`.
    public static func badClusterSpec(_ spec: String) -> SimulationError { .init(.badClusterSpec(spec)) }
    /// The policy placed a job in a way the cluster cannot honour.
    public static func invalidPlacement(_ detail: String) -> SimulationError { .init(.invalidPlacement(detail)) }

    public var description: String {
        switch kind {
        case .badClusterSpec(let spec):
            return "'\(spec)' is not a cluster: give COUNTxCPU/MEMORY_GIB/GPU groups separated by commas, such as 32x64/512/8,16x64/256/0"
        case .invalidPlacement(let detail):
            return "the policy made an invalid placement: \(detail)"
        }
    }
}

/// The state of one replay.
private struct Replay {
    struct Entry {
        var job: TraceJob
        var queued: QueuedJob
        var neverFit: WaitReason?
        var start: Double?
        var end: Double?
        var tasks: [(node: Int, resources: Resources, devices: [Int])] = []
    }

    let cluster: ClusterShape
    let policy: any SchedulingPolicy
    let options: SimulationOptions
    let nodes: [NodeSnapshot]
    let nodeIndex: [String: Int]
    let capacity: Resources
    var free: [Resources]
    var freeDevices: [[Int]]
    var entries: [Entry]
    var entryIndex: [String: Int] = [:]
    var queue: [Int] = []
    var running: [Int] = []
    var runningPosition: [Int: Int] = [:]
    var completions = MinimumHeap<(time: Double, entry: Int)> { $0.time != $1.time ? $0.time < $1.time : $0.entry < $1.entry }
    var usage: [String: Resources] = [:]
    var waiting: [String: Int] = [:]
    /// Namespaces in the order they first appeared, so sums run in the same order every time.
    var namespaceOrder: [String] = []
    var emptyCluster: WorkingCluster
    var decisions = 0
    var reservations: [Reservation] = []
    var contendedTime = 0.0
    var fairnessIntegral = 0.0

    init(cluster: ClusterShape, policy: any SchedulingPolicy, options: SimulationOptions, trace: Trace) {
        self.cluster = cluster
        self.policy = policy
        self.options = options
        nodes = cluster.nodes()
        nodeIndex = Dictionary(nodes.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        capacity = cluster.capacity
        free = nodes.map(\.free)
        freeDevices = nodes.map(\.freeGPUDevices)
        emptyCluster = WorkingCluster(SchedulingSnapshot(now: 0, nodes: nodes, queue: []))
        let ordered = trace.jobs.enumerated().sorted { ($0.element.submitTime, $0.offset) < ($1.element.submitTime, $1.offset) }.map(\.element)
        entries = ordered.map { job in
            let (task, count) = cluster.tasks(for: job.resources)
            let queued = QueuedJob(
                id: job.id, namespace: job.namespace, resources: task, taskCount: count, submittedAt: job.submitTime,
                estimatedRuntime: options.runtimeEstimateFactor.map { job.duration * $0 })
            return Entry(job: job, queued: queued)
        }
        for (position, entry) in entries.enumerated() { entryIndex[entry.job.id] = position }
    }

    mutating func run() throws {
        var nextArrival = 0
        var last = entries.first?.job.submitTime ?? 0
        while true {
            let arrival = nextArrival < entries.count ? entries[nextArrival].job.submitTime : .infinity
            let completion = completions.minimum?.time ?? .infinity
            let now = min(arrival, completion)
            if now == .infinity { break }
            measureFairness(over: now - last)
            last = now
            while let next = completions.minimum, next.time <= now {
                _ = completions.popMinimum()
                finish(next.entry)
            }
            while nextArrival < entries.count && entries[nextArrival].job.submitTime <= now {
                arrive(nextArrival)
                nextArrival += 1
            }
            if !queue.isEmpty { try decide(at: now) }
        }
    }

    mutating func arrive(_ index: Int) {
        let job = entries[index].queued
        let quota = options.namespaces[job.namespace]?.quota ?? .unlimited
        if let reason = emptyCluster.neverFits(job) {
            entries[index].neverFit = reason
        } else if let excess = quota.excess(using: job.totalResources, alreadyUsed: .zero) {
            entries[index].neverFit = WaitReason(.exceedsQuota, "larger than its namespace's whole quota (\(excess))")
        } else {
            queue.append(index)
            if waiting[job.namespace] == nil { namespaceOrder.append(job.namespace) }
            waiting[job.namespace, default: 0] += 1
        }
    }

    mutating func decide(at now: Double) throws {
        decisions += 1
        var snapshotNodes = nodes
        for position in snapshotNodes.indices {
            snapshotNodes[position].free = free[position]
            snapshotNodes[position].freeGPUDevices = freeDevices[position]
        }
        var runningJobs: [RunningJob] = []
        for index in running {
            let entry = entries[index]
            let expectedEnd = entry.queued.estimatedRuntime.map { entry.start! + $0 }
            for task in entry.tasks {
                runningJobs.append(
                    RunningJob(
                        id: entry.job.id, namespace: entry.job.namespace, nodeID: nodes[task.node].id, resources: task.resources,
                        expectedEnd: expectedEnd))
            }
        }
        let snapshot = SchedulingSnapshot(
            now: now, nodes: snapshotNodes, queue: queue.map { entries[$0].queued }, running: runningJobs, namespaces: options.namespaces,
            previousReservations: reservations)
        let decision = policy.schedule(snapshot)
        reservations = decision.reservations
        guard !decision.placements.isEmpty else { return }
        var byJob: [String: [Placement]] = [:]
        for placement in decision.placements { byJob[placement.jobID, default: []].append(placement) }
        for jobID in decision.placedJobIDs {
            guard let index = entryIndex[jobID], entries[index].start == nil, entries[index].neverFit == nil,
                entries[index].job.submitTime <= now
            else {
                throw SimulationError.invalidPlacement("job \(jobID) is not waiting in the queue")
            }
            try start(index, placements: byJob[jobID]!, at: now)
        }
        queue.removeAll { entries[$0].start != nil }
    }

    mutating func start(_ index: Int, placements: [Placement], at now: Double) throws {
        let job = entries[index].queued
        guard placements.count == job.taskCount, Set(placements.map(\.task)) == Set(0..<job.taskCount) else {
            throw SimulationError.invalidPlacement("job \(job.id) has \(job.taskCount) task(s) but \(placements.count) placement(s)")
        }
        for placement in placements {
            guard let node = nodeIndex[placement.nodeID] else {
                throw SimulationError.invalidPlacement("job \(job.id) was placed on \(placement.nodeID), which does not exist")
            }
            guard placement.resources == job.resources, job.resources.fits(in: free[node]) else {
                throw SimulationError.invalidPlacement("job \(job.id) does not fit on \(placement.nodeID)")
            }
            let devices = Set(placement.gpuDevices)
            guard devices.count == job.resources.gpu, devices.isSubset(of: freeDevices[node]) else {
                throw SimulationError.invalidPlacement(
                    "job \(job.id) got GPUs \(placement.gpuDevices) on \(placement.nodeID), not distinct free ones")
            }
            free[node] -= job.resources
            freeDevices[node].removeAll { devices.contains($0) }
            entries[index].tasks.append((node, job.resources, placement.gpuDevices))
        }
        entries[index].start = now
        let end = now + entries[index].job.duration
        entries[index].end = end
        completions.insert((end, index))
        runningPosition[index] = running.count
        running.append(index)
        usage[job.namespace, default: .zero] += job.totalResources
        waiting[job.namespace, default: 0] -= 1
    }

    mutating func finish(_ index: Int) {
        for task in entries[index].tasks {
            free[task.node] += task.resources
            freeDevices[task.node].append(contentsOf: task.devices)
            freeDevices[task.node].sort()
        }
        usage[entries[index].job.namespace, default: .zero] -= entries[index].queued.totalResources
        if let position = runningPosition.removeValue(forKey: index) {
            let moved = running.removeLast()
            if moved != index {
                running[position] = moved
                runningPosition[moved] = position
            }
        }
    }

    /// Adds `duration` of the current state to the fairness measure.
    mutating func measureFairness(over duration: Double) {
        guard duration > 0 else { return }
        var shares: [Double] = []
        for namespace in namespaceOrder where waiting[namespace, default: 0] > 0 {
            let weight = options.namespaces[namespace]?.weight ?? 1
            shares.append((usage[namespace] ?? .zero).dominantShare(of: capacity) / weight)
        }
        guard shares.count >= 2 else { return }
        contendedTime += duration
        fairnessIntegral += jainIndex(shares) * duration
    }

    func report() -> SimulationReport {
        let done = entries.filter { $0.end != nil }
        let completionTimes = done.map { $0.end! - $0.job.submitTime }.sorted()
        let waits = done.map { $0.start! - $0.job.submitTime }
        let firstSubmit = entries.map(\.job.submitTime).min() ?? 0
        let makespan = max(0, (done.map { $0.end! }.max() ?? firstSubmit) - firstSubmit)
        var used = (cpu: 0.0, memory: 0.0, gpu: 0.0)
        for entry in done {
            let held = entry.queued.totalResources
            used.cpu += held.cpu * entry.job.duration
            used.memory += Double(held.memoryBytes) * entry.job.duration
            used.gpu += Double(held.gpu) * entry.job.duration
        }
        func fraction(_ amount: Double, _ total: Double) -> Double? {
            total > 0 && makespan > 0 ? amount / (total * makespan) : nil
        }
        var longest: (wait: Double, id: String?) = (0, nil)
        for entry in done where entry.start! - entry.job.submitTime > longest.wait {
            longest = (entry.start! - entry.job.submitTime, entry.job.id)
        }
        let namespaces = Dictionary(grouping: entries, by: \.job.namespace).map { namespace, jobs in
            let finished = jobs.filter { $0.end != nil }
            let times = finished.map { $0.end! - $0.job.submitTime }
            let waits = finished.map { $0.start! - $0.job.submitTime }
            return SimulationReport.NamespaceFigures(
                namespace: namespace, jobs: jobs.count, completed: finished.count, averageCompletionTime: mean(times), averageWait: mean(waits),
                longestWait: waits.max() ?? 0,
                meanBoundedSlowdown: mean(finished.map { ($0.end! - $0.job.submitTime) / max($0.job.duration, 10) }),
                gpuHours: finished.reduce(0) { $0 + Double($1.queued.totalResources.gpu) * $1.job.duration / 3600 })
        }.sorted { $0.namespace < $1.namespace }
        return SimulationReport(
            policy: policy.name.rawValue, cluster: cluster.description, jobs: entries.count, completed: done.count,
            neverFit: entries.filter { $0.neverFit != nil }.count, neverStarted: entries.filter { $0.neverFit == nil && $0.start == nil }.count,
            averageCompletionTime: mean(completionTimes), p95CompletionTime: percentile(completionTimes, 0.95), makespan: makespan,
            utilization: SimulationReport.Utilization(
                cpu: fraction(used.cpu, capacity.cpu), memory: fraction(used.memory, Double(capacity.memoryBytes)),
                gpu: fraction(used.gpu, Double(capacity.gpu))),
            fairness: contendedTime > 0 ? fairnessIntegral / contendedTime : nil, contendedTime: contendedTime, averageWait: mean(waits),
            longestWait: longest.wait, longestWaitJobID: longest.id, decisions: decisions, namespaces: namespaces)
    }
}

private func mean(_ values: [Double]) -> Double {
    values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
}
