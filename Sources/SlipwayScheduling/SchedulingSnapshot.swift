import Foundation

/// Everything a scheduling policy decides from: the nodes, the queue, what runs, the namespaces' weights
/// and quotas, and the time. The server builds one from its database every tick; the simulator builds one
/// from its simulated cluster at every event.
///
/// Times are seconds on one clock chosen by the caller (the server uses seconds since 1970, the simulator
/// seconds since the trace began); a policy only compares them and subtracts them.
public struct SchedulingSnapshot: Sendable, Hashable, Codable {
    /// The moment of the decision.
    public var now: Double
    public var nodes: [NodeSnapshot]
    /// Jobs waiting to be placed, in any order.
    public var queue: [QueuedJob]
    /// What holds resources now: one entry per job and node (a gang job appears once per node it holds).
    /// Namespaces' usage is the sum of these.
    public var running: [RunningJob]
    /// Weights and quotas by namespace name; a namespace not listed has weight 1 and no quota.
    public var namespaces: [String: NamespaceShare]
    /// The reservations the previous decision made, when the caller kept them. A policy keeps a job's
    /// reservation on the same nodes while they can still start it as early as promised, so one starving
    /// job's reservation does not move onto nodes another was promised. Without them every decision
    /// reserves afresh (still correct, but a promised start may slip).
    public var previousReservations: [Reservation]

    public init(
        now: Double, nodes: [NodeSnapshot], queue: [QueuedJob], running: [RunningJob] = [], namespaces: [String: NamespaceShare] = [:],
        previousReservations: [Reservation] = []
    ) {
        self.now = now
        self.nodes = nodes
        self.queue = queue
        self.running = running
        self.namespaces = namespaces
        self.previousReservations = previousReservations
    }
}

/// One node as the scheduler sees it: what it has, what is free now, its labels and whether it takes work.
public struct NodeSnapshot: Sendable, Hashable, Codable {
    public var id: String
    /// Everything the node has.
    public var capacity: Resources
    /// What is free now. Its `gpu` always equals `freeGPUDevices.count`.
    public var free: Resources
    /// The indices (as `CUDA_VISIBLE_DEVICES` names them) of the GPUs no job holds, ascending.
    public var freeGPUDevices: [Int]
    /// `gpu.model = A100`, `zone = b`, …: what jobs' node selectors match.
    public var labels: [String: String]
    /// `false` for a cordoned, draining or lost node: it keeps its running jobs but gets no new ones.
    public var isSchedulable: Bool

    /// - Parameters:
    ///   - free: what is free now; the whole capacity when omitted.
    ///   - freeGPUDevices: the free GPU indices; when omitted, `0..<free.gpu`. When given, they set `free.gpu`.
    public init(
        id: String, capacity: Resources, free: Resources? = nil, freeGPUDevices: [Int]? = nil, labels: [String: String] = [:],
        isSchedulable: Bool = true
    ) {
        self.id = id
        self.capacity = capacity
        var free = free ?? capacity
        let devices = freeGPUDevices?.sorted() ?? Array(0..<max(0, free.gpu))
        free.gpu = devices.count
        self.free = free
        self.freeGPUDevices = devices
        self.labels = labels
        self.isSchedulable = isSchedulable
    }
}

/// A job waiting in the queue.
///
/// A job is one task, or a gang of `taskCount` identical tasks that start together or not at all (each task
/// on one node; several tasks may share a node).
public struct QueuedJob: Sendable, Hashable, Codable {
    public var id: String
    public var namespace: String
    /// What each task needs.
    public var resources: Resources
    /// How many tasks start together (1 for an ordinary job).
    public var taskCount: Int
    /// Higher goes first among a namespace's jobs (and, under FIFO, in the whole queue).
    public var priority: Int
    /// When the job entered the queue.
    public var submittedAt: Double
    /// How long the job is expected to run, in seconds, when something predicts it.
    public var estimatedRuntime: Double?
    /// The longest the job may run, in seconds (it is stopped after): a safe bound when there is no estimate.
    public var maximumRuntime: Double?
    /// Labels a node must carry, all of them, to take the job.
    public var nodeSelector: [String: String]

    public init(
        id: String, namespace: String, resources: Resources, taskCount: Int = 1, priority: Int = 0, submittedAt: Double,
        estimatedRuntime: Double? = nil, maximumRuntime: Double? = nil, nodeSelector: [String: String] = [:]
    ) {
        self.id = id
        self.namespace = namespace
        self.resources = resources
        self.taskCount = max(1, taskCount)
        self.priority = priority
        self.submittedAt = submittedAt
        self.estimatedRuntime = estimatedRuntime
        self.maximumRuntime = maximumRuntime
        self.nodeSelector = nodeSelector
    }

    /// What all its tasks need together.
    public var totalResources: Resources { resources * taskCount }

    /// The runtime backfilling may rely on: the estimate, else the maximum, else unknown.
    public var runtimeBound: Double? { estimatedRuntime ?? maximumRuntime }
}

/// A job (or one task of a gang job) holding resources on a node.
public struct RunningJob: Sendable, Hashable, Codable {
    public var id: String
    public var namespace: String
    public var nodeID: String
    /// What it holds on that node.
    public var resources: Resources
    /// When it is expected to end (its start plus its estimate or maximum runtime); `nil` when unknown, in
    /// which case no reservation counts on its resources coming back.
    public var expectedEnd: Double?

    public init(id: String, namespace: String, nodeID: String, resources: Resources, expectedEnd: Double? = nil) {
        self.id = id
        self.namespace = namespace
        self.nodeID = nodeID
        self.resources = resources
        self.expectedEnd = expectedEnd
    }
}

/// A namespace's claim on the cluster: its weight in fair sharing and its quota.
public struct NamespaceShare: Sendable, Hashable, Codable {
    /// Relative weight: a namespace of weight 2 is entitled to twice the dominant share of one of weight 1.
    public var weight: Double
    /// The most it may hold at once.
    public var quota: ResourceLimit

    public init(weight: Double = 1, quota: ResourceLimit = .unlimited) {
        self.weight = weight > 0 ? weight : 1
        self.quota = quota
    }

    /// Weight 1, no quota.
    public static let standard = NamespaceShare()
}
