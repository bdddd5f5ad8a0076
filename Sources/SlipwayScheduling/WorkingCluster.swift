import Foundation

/// The cluster as one decision sees it and changes it: free room and GPU devices per node, the room held by
/// reservations, and when running work is expected to give room back. Policies place tasks through it, so
/// no GPU is handed out twice and no node is overcommitted.
struct WorkingCluster {
    /// How a policy picks among the nodes a task fits on.
    enum NodeChoice {
        /// The first node in the snapshot's order.
        case firstFit
        /// The node whose leftover stays most balanced (``LeftoverBalance``).
        case balanced
    }

    /// Room a reservation holds on a node until it starts.
    struct HeldRoom {
        var jobID: String
        /// When the reserved job is expected to start; infinite when the work holding the room has no known end,
        /// so no job counts as ending before it.
        var start: Double
        /// What stays free at `start` beside the reserved room: a task that would still run then must fit in it.
        var spare: Resources
    }

    /// A task shape: what decides whether a job can fit, apart from its runtime.
    struct Shape: Hashable {
        var resources: Resources
        var taskCount: Int
        var selector: [String: String]

        init(_ job: QueuedJob) {
            resources = job.resources
            taskCount = job.taskCount
            selector = job.nodeSelector
        }
    }

    /// The outcome of trying to place a job.
    enum Attempt {
        case placed([Placement])
        case waits(WaitReason)
    }

    let ids: [String]
    let capacity: [Resources]
    private(set) var free: [Resources]
    private(set) var freeDevices: [[Int]]
    let labels: [[String: String]]
    let schedulable: [Bool]
    let index: [String: Int]
    /// What the schedulable nodes have together: the denominator of dominant shares.
    let schedulableCapacity: Resources
    private(set) var held: [HeldRoom?]
    private(set) var heldCount = 0
    /// When room comes back on each node: (time, resources) of running and newly placed tasks with a known end.
    private var releases: [[(time: Double, resources: Resources)]]
    private let balance: [LeftoverBalance]
    private var imbalance: [Double]
    private let allSchedulable: [Int]
    private var eligibleBySelector: [[String: String]: [Int]] = [:]
    private var neverFitsByShape: [Shape: WaitReason?] = [:]
    private var noRoomByShape: [Shape: WaitReason] = [:]

    init(_ snapshot: SchedulingSnapshot) {
        let nodes = snapshot.nodes
        ids = nodes.map(\.id)
        capacity = nodes.map(\.capacity)
        // A GPU counts as free only with a device index to hand out, whatever `free.gpu` says.
        free = nodes.map { node in
            var room = node.free
            room.gpu = min(room.gpu, node.freeGPUDevices.count)
            return room
        }
        freeDevices = nodes.map { Array($0.freeGPUDevices.prefix(max(0, $0.free.gpu))) }
        labels = nodes.map(\.labels)
        schedulable = nodes.map(\.isSchedulable)
        var index: [String: Int] = [:]
        index.reserveCapacity(nodes.count)
        for (position, node) in nodes.enumerated() where index[node.id] == nil { index[node.id] = position }
        self.index = index
        schedulableCapacity = nodes.reduce(into: Resources.zero) { total, node in if node.isSchedulable { total += node.capacity } }
        held = Array(repeating: nil, count: nodes.count)
        var releases = Array(repeating: [(time: Double, resources: Resources)](), count: nodes.count)
        for job in snapshot.running {
            guard let end = job.expectedEnd, let position = index[job.nodeID] else { continue }
            releases[position].append((end, job.resources))
        }
        self.releases = releases
        balance = nodes.map { LeftoverBalance(capacity: $0.capacity) }
        imbalance = zip(balance, free).map { $0.imbalance(leftover: $1) }
        allSchedulable = nodes.indices.filter { nodes[$0].isSchedulable }
    }

    // MARK: - Which nodes

    /// The schedulable nodes carrying every label of `selector`, in snapshot order.
    mutating func eligible(_ selector: [String: String]) -> [Int] {
        if selector.isEmpty { return allSchedulable }
        if let known = eligibleBySelector[selector] { return known }
        let matching = allSchedulable.filter { node in selector.allSatisfy { labels[node][$0.key] == $0.value } }
        eligibleBySelector[selector] = matching
        return matching
    }

    /// Why `job` could never run here, even on an empty cluster; `nil` when it could.
    mutating func neverFits(_ job: QueuedJob) -> WaitReason? {
        if job.taskCount == 1 && job.nodeSelector.isEmpty {
            for node in allSchedulable where job.resources.fits(in: capacity[node]) { return nil }
        }
        let shape = Shape(job)
        if let known = neverFitsByShape[shape] { return known }
        let nodes = eligible(job.nodeSelector)
        var reason: WaitReason?
        if nodes.isEmpty {
            let wanted = job.nodeSelector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            reason = WaitReason(
                .neverFits, job.nodeSelector.isEmpty ? "no node is schedulable" : "no schedulable node has the labels \(wanted)")
        } else {
            var copies = 0
            var largest = Resources.zero
            for node in nodes {
                copies += min(job.taskCount, capacity[node].copies(of: job.resources))
                largest = largest.componentwiseMax(capacity[node])
                if copies >= job.taskCount { break }
            }
            if copies < job.taskCount {
                if job.taskCount == 1 {
                    reason = WaitReason(.neverFits, "no node could ever hold it: it needs \(job.resources); the largest node has \(largest)")
                } else {
                    reason = WaitReason(
                        .neverFits, "the cluster could never hold its \(job.taskCount) tasks of \(job.resources) at once (room for \(copies))")
                }
            }
        }
        neverFitsByShape[shape] = reason
        return reason
    }

    // MARK: - Placing

    /// Places every task of `job` or none: each task on the node `choice` prefers among those it fits on without
    /// delaying a reservation (it fits beside the held room, or ends before the reservation starts).
    mutating func place(_ job: QueuedJob, now: Double, choice: NodeChoice) -> Attempt {
        let shape = Shape(job)
        if let known = noRoomByShape[shape] { return .waits(known) }
        let end = job.runtimeBound.map { now + $0 }
        let nodes = eligible(job.nodeSelector)
        var placements: [Placement] = []
        var undo: [(node: Int, free: Resources, devices: [Int], held: HeldRoom?, imbalance: Double, releases: Int)] = []
        for task in 0..<job.taskCount {
            guard let node = bestNode(for: job.resources, of: job.id, endingAt: end, among: nodes, choice: choice) else {
                for entry in undo.reversed() {
                    free[entry.node] = entry.free
                    freeDevices[entry.node] = entry.devices
                    held[entry.node] = entry.held
                    imbalance[entry.node] = entry.imbalance
                    releases[entry.node].removeLast(entry.releases)
                }
                let reason = diagnose(job, among: nodes)
                if reason.code == .noRoom { noRoomByShape[shape] = reason }
                return .waits(reason)
            }
            undo.append((node, free[node], freeDevices[node], held[node], imbalance[node], end == nil ? 0 : 1))
            let devices = take(job.resources, of: job.id, on: node, endingAt: end)
            placements.append(Placement(jobID: job.id, task: task, nodeID: ids[node], gpuDevices: devices, resources: job.resources))
        }
        return .placed(placements)
    }

    /// The node to put one task of job `owner` on, or `nil` when it fits nowhere now. Room held for `owner`
    /// itself is its to use.
    private func bestNode(for task: Resources, of owner: String, endingAt end: Double?, among nodes: [Int], choice: NodeChoice) -> Int? {
        var best: Int?
        var bestScore = Double.infinity
        for node in nodes {
            let room = free[node]
            guard task.fits(in: room) else { continue }
            if heldCount > 0, let hold = held[node], hold.jobID != owner, !hold.endsBefore(end), !task.fits(in: hold.spare) {
                continue
            }
            if choice == .firstFit { return node }
            let score = balance[node].score(placing: task, leftover: room - task, imbalanceBefore: imbalance[node])
            if score < bestScore {
                bestScore = score
                best = node
            }
        }
        return best
    }

    /// Takes `task`'s room on `node`; returns the GPU indices it gets (the lowest free ones).
    private mutating func take(_ task: Resources, of owner: String, on node: Int, endingAt end: Double?) -> [Int] {
        free[node] -= task
        let devices = Array(freeDevices[node].prefix(task.gpu))
        freeDevices[node].removeFirst(devices.count)
        imbalance[node] = balance[node].imbalance(leftover: free[node])
        if let end { releases[node].append((end, task)) }
        if let hold = held[node], hold.jobID != owner, !hold.endsBefore(end) {
            held[node]?.spare = hold.spare - task
        }
        return devices
    }

    /// Why `job` found no room: none free anywhere (cacheable: room only shrinks during a decision), or room
    /// that is held for a reservation.
    private func diagnose(_ job: QueuedJob, among nodes: [Int]) -> WaitReason {
        let task = job.resources
        var copies = 0
        var holder: HeldRoom?
        var nodesWithGPUs = 0
        for node in nodes {
            let fitting = min(job.taskCount, free[node].copies(of: task))
            if fitting > 0, holder == nil, let hold = held[node] { holder = hold }
            copies += fitting
            if task.gpu > 0 && free[node].gpu >= task.gpu { nodesWithGPUs += 1 }
        }
        if copies >= job.taskCount, let holder {
            return WaitReason(
                .heldForReservation,
                "the room it fits in is held for job \(holder.jobID), which waited past the starvation bound; it would delay that job")
        }
        if job.taskCount > 1 {
            return WaitReason(.noRoom, "room for only \(copies) of its \(job.taskCount) tasks of \(task) now")
        }
        if task.gpu > 0 && nodesWithGPUs == 0 {
            return WaitReason(.noRoom, task.gpu == 1 ? "no node has a free GPU" : "no node has \(task.gpu) free GPUs")
        }
        if task.gpu > 0 {
            return WaitReason(.noRoom, "no node has \(task) free (nodes with \(task.gpu) free GPUs lack CPU or memory)")
        }
        return WaitReason(.noRoom, "no node has \(task) free")
    }

    // MARK: - Reservations

    /// Holds room for `job` on the nodes where all its tasks can start earliest, judging from running work's
    /// expected ends; nodes already holding a reservation are left out. When the previous decision reserved
    /// room for the job and those nodes can still start it no later than promised, they are kept, so a
    /// reservation does not move onto nodes another starving job was promised.
    ///
    /// When no known end frees enough room (work without a runtime bound holds it), the room is held anyway on
    /// the nodes closest to holding the job, until that work ends: other jobs then use those nodes only in the
    /// room that stays free beside the job, so the job starts as soon as the work there ends instead of
    /// watching smaller jobs take every room that comes free.
    /// - Returns: the reservation, or `nil` when the free nodes could never hold the job together.
    mutating func reserve(_ job: QueuedJob, now: Double, previous: Reservation?) -> Reservation? {
        let task = job.resources
        let candidates = eligible(job.nodeSelector).filter { held[$0] == nil && task.fits(in: capacity[$0]) }
        var found: (start: Double, room: [Int: Resources], fitting: [Int: Int])?
        if let previous {
            let promised = Set(previous.nodes.compactMap { index[$0.nodeID] })
            let kept = candidates.filter { promised.contains($0) }
            if let earliest = earliestRoom(for: job, among: kept, now: now), earliest.start <= previous.expectedStart ?? .infinity {
                found = earliest
            } else if previous.expectedStart == nil, earliestRoom(for: job, among: candidates, now: now) == nil {
                found = roomWhenWorkEnds(for: job, among: kept)
            }
        }
        guard
            let (start, room, fitting) = found ?? earliestRoom(for: job, among: candidates, now: now)
                ?? roomWhenWorkEnds(for: job, among: candidates)
        else { return nil }
        var remaining = job.taskCount
        var reserved: [ReservedNode] = []
        let chosen = fitting.filter { $0.value > 0 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        for (node, count) in chosen where remaining > 0 {
            let tasks = min(count, remaining)
            remaining -= tasks
            let holding = task * tasks
            held[node] = HeldRoom(jobID: job.id, start: start, spare: room[node, default: .zero] - holding)
            heldCount += 1
            reserved.append(ReservedNode(nodeID: ids[node], resources: holding))
        }
        let waited = durationText(now - job.submittedAt)
        let names = reserved.map(\.nodeID).joined(separator: ", ")
        guard start.isFinite else {
            return Reservation(
                jobID: job.id, expectedStart: nil, nodes: reserved,
                reason: "waited \(waited), past the starvation bound: room held on \(names), to start when the work there ends "
                    + "(it has no maximum runtime, so when is not known); other jobs use those nodes only beside it")
        }
        let when = start <= now ? "now" : "in about \(durationText(start - now))"
        return Reservation(
            jobID: job.id, expectedStart: start, nodes: reserved,
            reason: "waited \(waited), past the starvation bound: room held on \(names), expected to start \(when)")
    }

    /// The nodes to hold for `job` when no known end frees room for it: those that could hold the most of its
    /// tasks now, then those missing the least room, until their capacity holds every task. Each node's room
    /// "then" is its whole capacity (the work there has ended), and the start is infinite.
    private func roomWhenWorkEnds(for job: QueuedJob, among nodes: [Int]) -> (start: Double, room: [Int: Resources], fitting: [Int: Int])? {
        let task = job.resources
        func shortfall(_ node: Int) -> Double {
            let room = free[node]
            func part(_ wanted: Int64, _ have: Int64, _ total: Int64) -> Double {
                total > 0 ? Double(max(0, wanted - have)) / Double(total) : 0
            }
            return max(
                part(task.cpuMillicores, room.cpuMillicores, capacity[node].cpuMillicores),
                part(task.memoryBytes, room.memoryBytes, capacity[node].memoryBytes),
                part(Int64(task.gpu), Int64(room.gpu), Int64(capacity[node].gpu)))
        }
        let ranked = nodes.map { (node: $0, now: free[$0].copies(of: task), shortfall: shortfall($0)) }.sorted {
            if $0.now != $1.now { return $0.now > $1.now }
            if $0.shortfall != $1.shortfall { return $0.shortfall < $1.shortfall }
            return $0.node < $1.node
        }
        var room: [Int: Resources] = [:]
        var fitting: [Int: Int] = [:]
        var total = 0
        for entry in ranked where total < job.taskCount {
            let count = min(job.taskCount - total, capacity[entry.node].copies(of: task))
            guard count > 0 else { continue }
            room[entry.node] = capacity[entry.node]
            fitting[entry.node] = count
            total += count
        }
        return total >= job.taskCount ? (.infinity, room, fitting) : nil
    }

    /// Whether the nodes no reservation holds could never hold `job` (so it waits for reservations to be used,
    /// not for work of unknown length to end).
    mutating func onlyReservedNodesCouldHold(_ job: QueuedJob) -> Bool {
        var copies = 0
        for node in eligible(job.nodeSelector) where held[node] == nil {
            copies += min(job.taskCount, capacity[node].copies(of: job.resources))
            if copies >= job.taskCount { return false }
        }
        return true
    }

    /// Gives back the room held for `jobID` (it has started).
    mutating func releaseHolds(of jobID: String) {
        for node in held.indices where held[node]?.jobID == jobID {
            held[node] = nil
            heldCount -= 1
        }
    }

    /// The earliest moment all of `job`'s tasks fit on `nodes` together, with each node's room then and how
    /// many tasks it could take; `nil` when no known end frees enough room.
    private func earliestRoom(for job: QueuedJob, among nodes: [Int], now: Double) -> (start: Double, room: [Int: Resources], fitting: [Int: Int])? {
        let task = job.resources
        var room: [Int: Resources] = [:]
        var fitting: [Int: Int] = [:]
        var total = 0
        var events: [(time: Double, node: Int, resources: Resources)] = []
        for node in nodes {
            room[node] = free[node]
            let count = min(job.taskCount, free[node].copies(of: task))
            fitting[node] = count
            total += count
            for release in releases[node] { events.append((release.time, node, release.resources)) }
        }
        if total >= job.taskCount { return (now, room, fitting) }
        events.sort { $0.time < $1.time }
        var position = 0
        while position < events.count {
            let time = events[position].time
            while position < events.count && events[position].time == time {
                let event = events[position]
                let grown = room[event.node, default: .zero] + event.resources
                room[event.node] = grown
                let count = min(job.taskCount, grown.copies(of: task))
                total += count - fitting[event.node, default: 0]
                fitting[event.node] = count
                position += 1
            }
            if total >= job.taskCount { return (max(now, time), room, fitting) }
        }
        return nil
    }
}

extension WorkingCluster.HeldRoom {
    /// Whether a task ending at `end` gives its room back before the reserved job starts (never when either
    /// time is unknown).
    func endsBefore(_ end: Double?) -> Bool {
        guard let end, start.isFinite else { return false }
        return end <= start
    }
}

/// How balanced a node's leftover is, relative to its capacity, and how a placement changes it.
///
/// Leftover fractions `c`, `m`, `g` (free CPU, memory and GPUs over the node's capacity) are balanced when
/// equal. The imbalance is `|c − m| + 4 · max(0, g − min(c, m))`: CPU without memory (or the reverse) is
/// stranded, and GPUs without their proportion of CPU and memory are stranded four times as badly, since
/// they are the scarce resource. CPU and memory left beside no free GPU are not stranded: CPU-only jobs use
/// them. A placement's score is the change in imbalance, plus a small term favouring fuller nodes (so whole
/// nodes stay free for large jobs), plus a penalty of 2 when a job without GPUs would sit on a node with free
/// GPUs, so CPU-only jobs go to GPU nodes only when no other node fits them. Lower is better.
struct LeftoverBalance {
    let inverseCPU: Double
    let inverseMemory: Double
    let inverseGPU: Double
    let hasGPUs: Bool

    init(capacity: Resources) {
        inverseCPU = capacity.cpuMillicores > 0 ? 1 / Double(capacity.cpuMillicores) : 0
        inverseMemory = capacity.memoryBytes > 0 ? 1 / Double(capacity.memoryBytes) : 0
        inverseGPU = capacity.gpu > 0 ? 1 / Double(capacity.gpu) : 0
        hasGPUs = capacity.gpu > 0
    }

    /// Weight of stranded GPUs against stranded CPU or memory.
    static let gpuWeight = 4.0
    /// Weight of the preference for fuller nodes.
    static let packingWeight = 0.1
    /// Penalty for a job without GPUs on a node with free GPUs.
    static let cpuJobOnGPUNodePenalty = 2.0

    func imbalance(leftover: Resources) -> Double {
        let cpu = Double(leftover.cpuMillicores) * inverseCPU
        let memory = Double(leftover.memoryBytes) * inverseMemory
        var value = abs(cpu - memory)
        if hasGPUs { value += Self.gpuWeight * max(0, Double(leftover.gpu) * inverseGPU - min(cpu, memory)) }
        return value
    }

    func score(placing task: Resources, leftover: Resources, imbalanceBefore: Double) -> Double {
        let cpu = Double(leftover.cpuMillicores) * inverseCPU
        let memory = Double(leftover.memoryBytes) * inverseMemory
        var after = abs(cpu - memory)
        var fullness = cpu + memory
        var dimensions = 2.0
        if hasGPUs {
            let gpu = Double(leftover.gpu) * inverseGPU
            after += Self.gpuWeight * max(0, gpu - min(cpu, memory))
            fullness += gpu
            dimensions = 3
        }
        var score = after - imbalanceBefore + Self.packingWeight * fullness / dimensions
        if task.gpu == 0 && leftover.gpu > 0 { score += Self.cpuJobOnGPUNodePenalty }
        return score
    }
}
