import Foundation

/// Multi-resource fair sharing across namespaces: dominant resource fairness (Ghodsi et al., NSDI 2011)
/// with weights and quotas, balanced placement, and reservations so no job starves.
///
/// One decision runs in two passes:
/// 1. **Starving jobs first.** Jobs that have waited at least ``SchedulingOptions/starvationBound`` are
///    served oldest first, ahead of fair share. One that fits starts; one that does not gets a reservation
///    (while fewer than ``SchedulingOptions/maximumReservations`` are held, at most one per node): the nodes
///    where all its tasks can start earliest, judged from running jobs' expected ends. Until then other jobs
///    use those nodes only where they cannot delay it — they fit beside the held room, or their runtime
///    bound says they end before the reservation starts (EASY backfilling); a job with no runtime bound
///    never counts as ending early. When the work holding the room has no known end either, the room is held
///    until it ends, and only jobs fitting beside the held room use those nodes meanwhile. Reservations of the snapshot's ``SchedulingSnapshot/previousReservations``
///    are renewed before anything else, on the same nodes while those can still start the job as early as
///    promised, so a promise holds from one decision to the next.
/// 2. **Fair share.** Repeatedly, the namespace with the smallest weighted dominant share — the largest
///    fraction it holds of any resource of the schedulable cluster, divided by its weight — places its next
///    job (by priority, then submission). A job that does not fit, or that its namespace's quota has no
///    room for, waits with the reason and the namespace tries its next job; a namespace leaves the round
///    when its queue is exhausted.
///
/// Each task goes to the node that keeps leftover resources most balanced relative to the node's
/// capacity: the score penalises GPUs left without their proportion of CPU and memory (four times as
/// much as CPU left without memory or the reverse), favours fuller nodes slightly so whole nodes stay
/// free for large jobs, and sends jobs without GPUs to nodes with free GPUs only when no other node fits.
/// So no node is left with free GPUs but no CPU to use them. Tasks of a gang job start together or not
/// at all.
///
/// Each queued job is tried at most once per decision, and a task shape that found no room is not looked
/// for again in the same decision (room only shrinks while deciding), so a decision costs about
/// O(jobs × nodes) in the worst case and much less when many jobs share shapes.
public struct DominantResourceFairnessPolicy: SchedulingPolicy {
    public var options: SchedulingOptions

    public init(options: SchedulingOptions = SchedulingOptions()) {
        self.options = options
    }

    public var name: SchedulingPolicyName { .drf }

    public func schedule(_ snapshot: SchedulingSnapshot) -> SchedulingDecision {
        let now = snapshot.now
        var cluster = WorkingCluster(snapshot)
        var usage = NamespaceUsage(snapshot.running)
        var decision = SchedulingDecision()
        decision.waiting.reserveCapacity(snapshot.queue.count)
        let queue = snapshot.queue

        func quota(of namespace: String) -> ResourceLimit { snapshot.namespaces[namespace]?.quota ?? .unlimited }

        // Pass 1: jobs past the starvation bound. First the reservations of the previous decision are renewed,
        // oldest job first, so their room is held again before any other job — older ones included — can take
        // it; then every starving job, oldest first, starts if it fits (in room held for itself or room no one
        // holds) or else gets a reservation while fewer than the maximum are held.
        let promised = Dictionary(snapshot.previousReservations.map { ($0.jobID, $0) }, uniquingKeysWith: { first, _ in first })
        let isStarving = queue.map { now - $0.submittedAt >= options.starvationBound }
        let starving = queue.indices.filter { isStarving[$0] }.sorted {
            queue[$0].submittedAt != queue[$1].submittedAt ? queue[$0].submittedAt < queue[$1].submittedAt : queueOrder(queue[$0], queue[$1])
        }
        var reserved: [String: Reservation] = [:]
        for position in starving where promised[queue[position].id] != nil {
            let job = queue[position]
            guard reserved.count < options.maximumReservations, cluster.neverFits(job) == nil,
                usage.quotaRefusal(of: job, quota: quota(of: job.namespace)) == nil,
                let reservation = cluster.reserve(job, now: now, previous: promised[job.id])
            else { continue }
            reserved[job.id] = reservation
        }
        for position in starving {
            let job = queue[position]
            if let reason = cluster.neverFits(job) ?? usage.quotaRefusal(of: job, quota: quota(of: job.namespace)) {
                decision.waiting[job.id] = reason
                if reserved.removeValue(forKey: job.id) != nil { cluster.releaseHolds(of: job.id) }
                continue
            }
            switch cluster.place(job, now: now, choice: .balanced) {
            case .placed(let placements):
                decision.placements += placements
                usage.add(job.totalResources, to: job.namespace)
                if reserved.removeValue(forKey: job.id) != nil { cluster.releaseHolds(of: job.id) }
            case .waits(let reason):
                if reserved[job.id] == nil, reserved.count < options.maximumReservations,
                    let reservation = cluster.reserve(job, now: now, previous: nil)
                {
                    reserved[job.id] = reservation
                }
                if let reservation = reserved[job.id] {
                    decision.waiting[job.id] = WaitReason(.reserved, reservation.reason)
                } else if reserved.count >= options.maximumReservations {
                    decision.waiting[job.id] = WaitReason(
                        reason.code,
                        "\(reason.message); it waited past the starvation bound and will get a reservation when one of the "
                            + "\(options.maximumReservations) held for other starving jobs is used")
                } else if cluster.onlyReservedNodesCouldHold(job) {
                    decision.waiting[job.id] = WaitReason(
                        reason.code, "\(reason.message); the nodes that could hold it are reserved for other starving jobs")
                } else {
                    decision.waiting[job.id] = WaitReason(
                        reason.code, "\(reason.message); no reservation can be made on the nodes other reservations leave")
                }
            }
        }
        decision.reservations = starving.compactMap { reserved[queue[$0].id] }

        // Pass 2: fair share among the rest.
        var namespaceNames: [String] = []
        var lines: [[Int]] = []
        var lineOf: [String: Int] = [:]
        for (position, job) in queue.enumerated() where !isStarving[position] {
            let line: Int
            if let known = lineOf[job.namespace] {
                line = known
            } else {
                line = lines.count
                lineOf[job.namespace] = line
                namespaceNames.append(job.namespace)
                lines.append([])
            }
            lines[line].append(position)
        }
        for line in lines.indices { lines[line].sort { queueOrder(queue[$0], queue[$1]) } }
        let total = cluster.schedulableCapacity
        func weightedShare(_ namespace: String) -> Double {
            usage[namespace].dominantShare(of: total) / (snapshot.namespaces[namespace]?.weight ?? 1)
        }
        struct Turn {
            var share: Double
            var nextSubmittedAt: Double
            var line: Int
            var cursor: Int
        }
        var turns = MinimumHeap<Turn> { left, right in
            if left.share != right.share { return left.share < right.share }
            if left.nextSubmittedAt != right.nextSubmittedAt { return left.nextSubmittedAt < right.nextSubmittedAt }
            return left.line < right.line
        }
        for line in lines.indices {
            turns.insert(
                Turn(share: weightedShare(namespaceNames[line]), nextSubmittedAt: queue[lines[line][0]].submittedAt, line: line, cursor: 0))
        }
        while var turn = turns.popMinimum() {
            let namespace = namespaceNames[turn.line]
            let line = lines[turn.line]
            tries: while turn.cursor < line.count {
                let job = queue[line[turn.cursor]]
                turn.cursor += 1
                if let reason = cluster.neverFits(job) ?? usage.quotaRefusal(of: job, quota: quota(of: namespace)) {
                    decision.waiting[job.id] = reason
                    continue
                }
                switch cluster.place(job, now: now, choice: .balanced) {
                case .placed(let placements):
                    decision.placements += placements
                    usage.add(job.totalResources, to: namespace)
                    if turn.cursor < line.count {
                        turn.share = weightedShare(namespace)
                        turn.nextSubmittedAt = queue[line[turn.cursor]].submittedAt
                        turns.insert(turn)
                    }
                    break tries
                case .waits(let reason):
                    decision.waiting[job.id] = reason
                }
            }
        }
        return decision
    }
}
