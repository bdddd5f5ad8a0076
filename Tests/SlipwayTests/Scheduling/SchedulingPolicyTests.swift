import SlipwayScheduling
import Testing

/// The scheduling policies over hand-built snapshots: order, fairness, quotas, placement, GPU devices,
/// gangs and reservations against starvation.
@Suite("Scheduling policies")
struct SchedulingPolicyTests {
    static let gpuNode = Resources(cpu: 64, memoryGiB: 512, gpu: 8)
    static let cpuNode = Resources(cpu: 64, memoryGiB: 256, gpu: 0)

    static func job(
        _ id: String, _ namespace: String = "a", cpu: Double = 4, memoryGiB: Double = 16, gpu: Int = 1, priority: Int = 0,
        submittedAt: Double = 0, runtime: Double? = nil, tasks: Int = 1
    ) -> QueuedJob {
        QueuedJob(
            id: id, namespace: namespace, resources: Resources(cpu: cpu, memoryGiB: memoryGiB, gpu: gpu), taskCount: tasks, priority: priority,
            submittedAt: submittedAt, estimatedRuntime: runtime)
    }

    static func placedNodes(_ decision: SchedulingDecision) -> [String: String] {
        Dictionary(decision.placements.map { ($0.jobID, $0.nodeID) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: FIFO

    @Test func fifoKeepsPriorityThenSubmitOrderAndBlocksBehindTheHead() {
        let snapshot = SchedulingSnapshot(
            now: 100, nodes: [NodeSnapshot(id: "n1", capacity: Resources(cpu: 8, memoryGiB: 32, gpu: 2))],
            queue: [
                Self.job("first", cpu: 1, memoryGiB: 4, gpu: 1, submittedAt: 1),
                Self.job("big", cpu: 1, memoryGiB: 4, gpu: 2, submittedAt: 2),
                Self.job("small-behind", cpu: 1, memoryGiB: 4, gpu: 1, submittedAt: 3),
                Self.job("urgent", cpu: 1, memoryGiB: 4, gpu: 0, priority: 5, submittedAt: 50),
            ])
        let decision = FIFOPolicy().schedule(snapshot)
        #expect(decision.placedJobIDs == ["urgent", "first"])
        #expect(decision.waiting["big"] == WaitReason(.noRoom, "no node has 2 free GPUs"))
        #expect(decision.waiting["small-behind"]?.code == .behindQueueHead)
        #expect(decision.waiting["small-behind"]?.message.contains("big") == true)

        // The fair-share policy lets the small job use the free GPU instead.
        let fair = DominantResourceFairnessPolicy().schedule(snapshot)
        #expect(Set(fair.placedJobIDs) == ["urgent", "first", "small-behind"])
        #expect(fair.waiting["big"]?.code == .noRoom)
    }

    @Test func fifoStepsOverJobsItsQuotaOrTheClusterCanNeverHold() {
        let snapshot = SchedulingSnapshot(
            now: 10, nodes: [NodeSnapshot(id: "n1", capacity: Self.gpuNode)],
            queue: [
                Self.job("too-big", gpu: 16, submittedAt: 1),
                Self.job("over-quota", "limited", gpu: 2, submittedAt: 2),
                Self.job("fits", gpu: 1, submittedAt: 3),
            ],
            namespaces: ["limited": NamespaceShare(quota: ResourceLimit(gpu: 1))])
        let decision = FIFOPolicy().schedule(snapshot)
        #expect(decision.placedJobIDs == ["fits"])
        #expect(decision.waiting["too-big"]?.code == .neverFits)
        #expect(decision.waiting["over-quota"]?.code == .exceedsQuota)
    }

    // MARK: Fair share

    @Test(arguments: [
        // weights, GPUs already held by running jobs, expected GPUs each namespace holds afterwards
        ([2.0, 1.0], [0, 0], [16, 8]),
        ([1.0, 1.0], [0, 0], [12, 12]),
        ([1.0, 1.0], [6, 0], [12, 12]),
        ([1.0, 3.0], [0, 0], [6, 18]),
    ])
    func drfGivesContendedNamespacesSharesProportionalToTheirWeights(weights: [Double], held: [Int], expected: [Int]) {
        let names = ["a", "b"]
        var nodes = (1...3).map { NodeSnapshot(id: "n\($0)", capacity: Resources(cpu: 96, memoryGiB: 384, gpu: 8)) }
        var running: [RunningJob] = []
        for (index, gpus) in held.enumerated() where gpus > 0 {
            let resources = Resources(cpu: Double(4 * gpus), memoryGiB: Double(16 * gpus), gpu: gpus)
            nodes[0] = NodeSnapshot(id: "n1", capacity: nodes[0].capacity, free: nodes[0].free - resources)
            running.append(RunningJob(id: "r\(index)", namespace: names[index], nodeID: "n1", resources: resources))
        }
        let queue = names.flatMap { name in (0..<40).map { Self.job("\(name)-\($0)", name, cpu: 4, memoryGiB: 16, gpu: 1, submittedAt: Double($0)) } }
        let snapshot = SchedulingSnapshot(
            now: 100, nodes: nodes, queue: queue, running: running,
            namespaces: ["a": NamespaceShare(weight: weights[0]), "b": NamespaceShare(weight: weights[1])])
        let decision = DominantResourceFairnessPolicy().schedule(snapshot)
        for (index, name) in names.enumerated() {
            let placed = decision.placements.filter { $0.jobID.hasPrefix(name + "-") }.reduce(0) { $0 + $1.resources.gpu }
            #expect(placed + held[index] == expected[index], "namespace \(name)")
        }
    }

    @Test(arguments: SchedulingPolicyName.allCases)
    func refusesJobsBeyondTheNamespaceQuotaWithTheReason(policy: SchedulingPolicyName) {
        let snapshot = SchedulingSnapshot(
            now: 10, nodes: [NodeSnapshot(id: "n1", capacity: Self.gpuNode, free: Self.gpuNode - Resources(cpu: 4, memoryGiB: 16, gpu: 1))],
            queue: [Self.job("wide", "team", gpu: 4, submittedAt: 1), Self.job("narrow", "team", gpu: 1, submittedAt: 2)],
            running: [RunningJob(id: "r", namespace: "team", nodeID: "n1", resources: Resources(cpu: 4, memoryGiB: 16, gpu: 1))],
            namespaces: ["team": NamespaceShare(quota: ResourceLimit(gpu: 4))])
        let decision = policy.makePolicy().schedule(snapshot)
        #expect(decision.placedJobIDs == ["narrow"])
        #expect(decision.waiting["wide"] == WaitReason(.exceedsQuota, "exceeds namespace quota (gpu 4 > 3 left)"))
    }

    // MARK: Placement

    @Test func cpuHeavyJobGoesToTheCPUNodeLeavingTheGPUsUsable() {
        let snapshot = SchedulingSnapshot(
            now: 10,
            nodes: [NodeSnapshot(id: "gpu", capacity: Self.gpuNode), NodeSnapshot(id: "cpu", capacity: Self.cpuNode)],
            queue: [
                Self.job("preprocess", cpu: 48, memoryGiB: 64, gpu: 0, submittedAt: 1),
                Self.job("train", cpu: 32, memoryGiB: 256, gpu: 8, submittedAt: 2),
            ])
        let decision = DominantResourceFairnessPolicy().schedule(snapshot)
        #expect(Self.placedNodes(decision) == ["preprocess": "cpu", "train": "gpu"])

        // First fit (FIFO) puts the CPU job on the GPU node and strands its eight GPUs.
        let firstFit = FIFOPolicy().schedule(snapshot)
        #expect(Self.placedNodes(firstFit) == ["preprocess": "gpu"])
    }

    @Test func smallGPUJobFillsAPartlyUsedNodeSoAWholeNodeStaysFree() {
        let half = Resources(cpu: 32, memoryGiB: 256, gpu: 4)
        let snapshot = SchedulingSnapshot(
            now: 10,
            nodes: [NodeSnapshot(id: "empty", capacity: Self.gpuNode), NodeSnapshot(id: "half", capacity: Self.gpuNode, free: Self.gpuNode - half)],
            queue: [
                Self.job("one-gpu", cpu: 8, memoryGiB: 64, gpu: 1, submittedAt: 1),
                Self.job("eight-gpu", cpu: 64, memoryGiB: 512, gpu: 8, submittedAt: 2),
            ],
            running: [RunningJob(id: "r", namespace: "other", nodeID: "half", resources: half)])
        let decision = DominantResourceFairnessPolicy().schedule(snapshot)
        #expect(Self.placedNodes(decision) == ["one-gpu": "half", "eight-gpu": "empty"])
    }

    @Test func gpuJobTakesGPUsThatWouldOtherwiseBeStranded() {
        // "starved" has 4 free GPUs but little CPU: a light job there uses GPUs no ordinary job could.
        let used = Resources(cpu: 56, memoryGiB: 256, gpu: 4)
        let snapshot = SchedulingSnapshot(
            now: 10,
            nodes: [
                NodeSnapshot(id: "roomy", capacity: Self.gpuNode), NodeSnapshot(id: "starved", capacity: Self.gpuNode, free: Self.gpuNode - used),
            ],
            queue: [Self.job("light", cpu: 2, memoryGiB: 32, gpu: 2, submittedAt: 1)])
        #expect(Self.placedNodes(DominantResourceFairnessPolicy().schedule(snapshot)) == ["light": "starved"])
    }

    @Test(arguments: SchedulingPolicyName.allCases)
    func handsOutDistinctFreeGPUDevicesOnly(policy: SchedulingPolicyName) {
        let snapshot = SchedulingSnapshot(
            now: 10,
            nodes: [NodeSnapshot(id: "n1", capacity: Self.gpuNode, free: Resources(cpu: 60, memoryGiB: 480), freeGPUDevices: [1, 2, 3, 5, 6, 7])],
            queue: [
                Self.job("j1", gpu: 2, submittedAt: 1), Self.job("j2", gpu: 2, submittedAt: 2), Self.job("j3", gpu: 2, submittedAt: 3),
                Self.job("j4", gpu: 1, submittedAt: 4),
            ])
        let decision = policy.makePolicy().schedule(snapshot)
        let devices = decision.placements.flatMap(\.gpuDevices)
        #expect(decision.placedJobIDs == ["j1", "j2", "j3"])
        #expect(devices.count == 6)
        #expect(Set(devices) == [1, 2, 3, 5, 6, 7])
        #expect(decision.waiting["j4"] == WaitReason(.noRoom, "no node has a free GPU"))
    }

    @Test func gangJobStartsAllItsTasksTogetherOrNone() {
        let busy = Resources(cpu: 8, memoryGiB: 64, gpu: 1)
        let nodes = [
            NodeSnapshot(id: "n1", capacity: Self.gpuNode), NodeSnapshot(id: "n2", capacity: Self.gpuNode, free: Self.gpuNode - busy),
            NodeSnapshot(id: "n3", capacity: Self.gpuNode),
        ]
        let gang = Self.job("gang", cpu: 32, memoryGiB: 256, gpu: 8, submittedAt: 1, tasks: 2)
        let decision = DominantResourceFairnessPolicy().schedule(SchedulingSnapshot(now: 10, nodes: nodes, queue: [gang]))
        #expect(decision.placements.map(\.task).sorted() == [0, 1])
        #expect(Set(decision.placements.map(\.nodeID)) == ["n1", "n3"])

        let tooFew = DominantResourceFairnessPolicy().schedule(SchedulingSnapshot(now: 10, nodes: Array(nodes.prefix(2)), queue: [gang]))
        #expect(tooFew.placements.isEmpty)
        #expect(tooFew.waiting["gang"]?.code == .noRoom)
        #expect(tooFew.waiting["gang"]?.message.contains("only 1 of its 2 tasks") == true)
    }

    // MARK: Starvation

    /// One 8-GPU node: 4 GPUs free until 4100, 2 more until 4500; 2 free now.
    static func contendedNode(now: Double, bigGPUs: Int, queue: [QueuedJob]) -> SchedulingSnapshot {
        let four = Resources(cpu: 16, memoryGiB: 128, gpu: 4)
        let two = Resources(cpu: 8, memoryGiB: 64, gpu: 2)
        return SchedulingSnapshot(
            now: now,
            nodes: [NodeSnapshot(id: "n1", capacity: gpuNode, free: gpuNode - four - two, freeGPUDevices: [6, 7])],
            queue: [job("big", "research", cpu: 16, memoryGiB: 128, gpu: bigGPUs, submittedAt: 0, runtime: 3600)] + queue,
            running: [
                RunningJob(id: "r1", namespace: "prod", nodeID: "n1", resources: four, expectedEnd: 4100),
                RunningJob(id: "r2", namespace: "prod", nodeID: "n1", resources: two, expectedEnd: 4500),
            ])
    }

    @Test func starvingJobGetsAReservationThatSmallJobsCannotDelay() {
        let small = [
            Self.job("long", "prod", gpu: 1, submittedAt: 3900, runtime: 1000),
            Self.job("unknown", "prod", gpu: 1, submittedAt: 3920),
            Self.job("short", "prod", gpu: 1, submittedAt: 3950, runtime: 300),
        ]
        let decision = DominantResourceFairnessPolicy().schedule(Self.contendedNode(now: 4000, bigGPUs: 8, queue: small))
        #expect(decision.reservations.count == 1)
        #expect(decision.reservations.first?.jobID == "big")
        #expect(decision.reservations.first?.expectedStart == 4500)
        #expect(decision.reservations.first?.nodes == [ReservedNode(nodeID: "n1", resources: Resources(cpu: 16, memoryGiB: 128, gpu: 8))])
        #expect(decision.waiting["big"]?.code == .reserved)
        // Only the job that ends (4000 + 300) before the reservation starts (4500) may backfill.
        #expect(decision.placedJobIDs == ["short"])
        #expect(decision.waiting["long"]?.code == .heldForReservation)
        #expect(decision.waiting["unknown"]?.code == .heldForReservation)

        // Before the bound (3600 s) the same small jobs take the free GPUs.
        let early = DominantResourceFairnessPolicy().schedule(Self.contendedNode(now: 3000, bigGPUs: 8, queue: small))
        #expect(early.reservations.isEmpty)
        #expect(early.placedJobIDs == ["long", "unknown"])
    }

    @Test func smallJobsRunBesideAReservationOnlyInTheRoomItLeaves() {
        let small = [
            Self.job("long-1", "prod", gpu: 1, submittedAt: 3900, runtime: 5000),
            Self.job("long-2", "prod", gpu: 1, submittedAt: 3910, runtime: 5000),
        ]
        // The big job needs 7 of the 8 GPUs at 4500: one GPU can be used by a job that runs past then.
        let decision = DominantResourceFairnessPolicy().schedule(Self.contendedNode(now: 4000, bigGPUs: 7, queue: small))
        #expect(decision.reservations.map(\.jobID) == ["big"])
        #expect(decision.placedJobIDs == ["long-1"])
        #expect(decision.waiting["long-2"]?.code == .heldForReservation)
    }

    @Test func aStarvingJobHoldsRoomEvenWhenTheRunningWorkHasNoKnownEnd() {
        // Node n1 runs two 4-GPU jobs with no runtime bound; n2 runs one. Nothing says when room comes back.
        let half = Resources(cpu: 16, memoryGiB: 128, gpu: 4)
        let snapshot = SchedulingSnapshot(
            now: 5000,
            nodes: [
                NodeSnapshot(id: "n1", capacity: Self.gpuNode, free: Self.gpuNode - half - half, freeGPUDevices: []),
                NodeSnapshot(id: "n2", capacity: Self.gpuNode, free: Self.gpuNode - half, freeGPUDevices: [4, 5, 6, 7]),
            ],
            queue: [
                Self.job("big", "research", cpu: 32, memoryGiB: 256, gpu: 8, submittedAt: 0),
                Self.job("bounded", "prod", gpu: 4, submittedAt: 4900, runtime: 60),
                Self.job("tiny", "prod", cpu: 16, memoryGiB: 64, gpu: 0, submittedAt: 4950),
            ],
            running: [
                RunningJob(id: "r1", namespace: "prod", nodeID: "n1", resources: half),
                RunningJob(id: "r2", namespace: "prod", nodeID: "n1", resources: half),
                RunningJob(id: "r3", namespace: "prod", nodeID: "n2", resources: half),
            ])
        let decision = DominantResourceFairnessPolicy().schedule(snapshot)
        // It is held on the node closest to holding it, with no start time, until the work there ends.
        #expect(decision.reservations.map(\.jobID) == ["big"])
        #expect(decision.reservations.map { $0.expectedStart == nil } == [true])
        #expect(decision.reservations.first?.nodes.map(\.nodeID) == ["n2"])
        #expect(decision.waiting["big"]?.code == .reserved)
        // Even a job with a short bound may not take the held GPUs (nobody knows when the big job starts) ...
        #expect(decision.waiting["bounded"]?.code == .heldForReservation)
        // ... but room the big job leaves beside it on n2 (32 cores, 256 GiB, no GPU) is still usable.
        #expect(Self.placedNodes(decision) == ["tiny": "n1"] || Self.placedNodes(decision) == ["tiny": "n2"])

        // Once r3 ends, the big job starts on n2 while n1 is still busy.
        var after = snapshot
        after.running = Array(snapshot.running.prefix(2))
        after.nodes[1] = NodeSnapshot(id: "n2", capacity: Self.gpuNode, free: Self.gpuNode, freeGPUDevices: Array(0..<8))
        after.previousReservations = decision.reservations
        after.queue = Array(snapshot.queue.prefix(2))
        #expect(Self.placedNodes(DominantResourceFairnessPolicy().schedule(after))["big"] == "n2")
    }

    @Test func aPromisedReservationKeepsItsRoomEvenFromAnOlderJob() {
        // Node a came free now; b frees at 200. "promised" was told it starts on a at 100; "older" (which had no
        // reservation, say because its namespace was over quota then) waited longer but was promised nothing.
        let whole = Self.gpuNode
        let previous = Reservation(
            jobID: "promised", expectedStart: 100, nodes: [ReservedNode(nodeID: "a", resources: whole)], reason: "")
        var snapshot = SchedulingSnapshot(
            now: 100,
            nodes: [NodeSnapshot(id: "a", capacity: whole), NodeSnapshot(id: "b", capacity: whole, free: .zero)],
            queue: [
                Self.job("older", cpu: 64, memoryGiB: 512, gpu: 8, submittedAt: -5000, runtime: 500),
                Self.job("promised", cpu: 64, memoryGiB: 512, gpu: 8, submittedAt: -4000, runtime: 500),
            ],
            running: [RunningJob(id: "r", namespace: "b", nodeID: "b", resources: whole, expectedEnd: 200)],
            previousReservations: [previous])
        let kept = DominantResourceFairnessPolicy().schedule(snapshot)
        #expect(Self.placedNodes(kept) == ["promised": "a"])
        #expect(kept.reservations.map(\.jobID) == ["older"])
        #expect(kept.reservations.first?.nodes.map(\.nodeID) == ["b"])

        // Without the previous decision's reservations every decision starts afresh: the oldest job goes first.
        snapshot.previousReservations = []
        let fresh = DominantResourceFairnessPolicy().schedule(snapshot)
        #expect(Self.placedNodes(fresh) == ["older": "a"])
        #expect(fresh.reservations.map(\.jobID) == ["promised"])
    }

    // MARK: Invariants

    @Test(arguments: SchedulingPolicyName.allCases, 1...8)
    func decisionsNeverOvercommitNodesOrDoubleBookGPUs(policy: SchedulingPolicyName, seed: Int) throws {
        let snapshot = DecisionBenchmark.snapshot(jobs: 600, nodes: 40, seed: UInt64(seed))
        let decision = policy.makePolicy(SchedulingOptions(starvationBound: 3600, maximumReservations: 3)).schedule(snapshot)
        try Self.expectValid(decision, for: snapshot)
        if policy == .drf {
            #expect(!decision.placements.isEmpty)
            #expect(!decision.reservations.isEmpty)
        } else {
            // FIFO stops at the first job without room: exactly one job waits for room, the rest behind it or for good reasons.
            #expect(decision.waiting.values.filter { $0.code == .noRoom }.count == 1)
        }
    }

    /// Every placement fits the node's free room and gets distinct free GPUs; gangs are whole; every job is
    /// either placed once or has a reason.
    static func expectValid(_ decision: SchedulingDecision, for snapshot: SchedulingSnapshot) throws {
        let nodes = Dictionary(uniqueKeysWithValues: snapshot.nodes.map { ($0.id, $0) })
        let jobs = Dictionary(uniqueKeysWithValues: snapshot.queue.map { ($0.id, $0) })
        var free = nodes.mapValues(\.free)
        var devices = nodes.mapValues { Set($0.freeGPUDevices) }
        for placement in decision.placements {
            let job = try #require(jobs[placement.jobID])
            let node = try #require(nodes[placement.nodeID])
            #expect(node.isSchedulable)
            #expect(placement.resources == job.resources)
            #expect(placement.gpuDevices.count == job.resources.gpu)
            for device in placement.gpuDevices {
                #expect(devices[node.id]!.remove(device) != nil, "GPU \(device) of \(node.id) handed out twice or not free")
            }
            free[node.id]! -= placement.resources
            #expect(Resources.zero.fits(in: free[node.id]!), "\(node.id) overcommitted")
        }
        let tasks = Dictionary(grouping: decision.placements, by: \.jobID)
        for (id, placements) in tasks {
            #expect(Set(placements.map(\.task)) == Set(0..<jobs[id]!.taskCount), "gang \(id) is incomplete")
            #expect(decision.waiting[id] == nil)
        }
        for job in snapshot.queue where tasks[job.id] == nil {
            #expect(decision.waiting[job.id] != nil, "job \(job.id) has neither a placement nor a reason")
        }
    }

    // MARK: Names

    @Test func policiesAreChosenByNameWithAClearErrorForUnknownOnes() throws {
        #expect(try SchedulingPolicyName(parsing: " DRF ") == .drf)
        #expect(try SchedulingPolicyName(parsing: "fifo").makePolicy().name == .fifo)
        let error = #expect(throws: SchedulingConfigurationError.self) { try SchedulingPolicyName(parsing: "lottery") }
        #expect(error?.description == "unknown scheduling policy 'lottery'; choose one of: fifo, drf")
    }
}
