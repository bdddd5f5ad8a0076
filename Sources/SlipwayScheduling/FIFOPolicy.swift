import Foundation

/// First in, first out: the whole queue in one strict order — higher priority first, then earlier
/// submission, then job id — each job on the first node (in the snapshot's order) it fits on.
///
/// Head-of-line blocking is deliberate: when the first job that could run does not fit now, every job
/// behind it waits too, even ones that would fit, so nothing overtakes it. Two kinds of job are stepped
/// over rather than blocking the queue, since waiting for room would never start them: jobs no node could
/// ever hold, and jobs their namespace's quota has no room for. Namespace weights and reservations do not
/// apply (the head of the queue is never starved: it gets room as soon as room appears).
public struct FIFOPolicy: SchedulingPolicy {
    public init() {}

    public var name: SchedulingPolicyName { .fifo }

    public func schedule(_ snapshot: SchedulingSnapshot) -> SchedulingDecision {
        var cluster = WorkingCluster(snapshot)
        var usage = NamespaceUsage(snapshot.running)
        var decision = SchedulingDecision()
        decision.waiting.reserveCapacity(snapshot.queue.count)
        var blocked: WaitReason?
        let queue = snapshot.queue
        for position in queue.indices.sorted(by: { queueOrder(queue[$0], queue[$1]) }) {
            let job = queue[position]
            if let reason = cluster.neverFits(job) {
                decision.waiting[job.id] = reason
                continue
            }
            let quota = snapshot.namespaces[job.namespace]?.quota ?? .unlimited
            if let reason = usage.quotaRefusal(of: job, quota: quota) {
                decision.waiting[job.id] = reason
                continue
            }
            if let blocked {
                decision.waiting[job.id] = blocked
                continue
            }
            switch cluster.place(job, now: snapshot.now, choice: .firstFit) {
            case .placed(let placements):
                decision.placements += placements
                usage.add(job.totalResources, to: job.namespace)
            case .waits(let reason):
                decision.waiting[job.id] = reason
                blocked = WaitReason(
                    .behindQueueHead, "waiting behind job \(job.id), first in the queue, which has no room yet (FIFO keeps order)")
            }
        }
        return decision
    }
}

/// Queue order within one line: higher priority, then earlier submission, then id.
func queueOrder(_ left: QueuedJob, _ right: QueuedJob) -> Bool {
    if left.priority != right.priority { return left.priority > right.priority }
    if left.submittedAt != right.submittedAt { return left.submittedAt < right.submittedAt }
    return left.id < right.id
}

/// What each namespace holds, from running work plus what the decision has placed so far.
struct NamespaceUsage {
    private(set) var byNamespace: [String: Resources] = [:]

    init(_ running: [RunningJob]) {
        for job in running { byNamespace[job.namespace, default: .zero] += job.resources }
    }

    subscript(namespace: String) -> Resources { byNamespace[namespace] ?? .zero }

    mutating func add(_ amount: Resources, to namespace: String) {
        byNamespace[namespace, default: .zero] += amount
    }

    /// Why `quota` leaves no room for `job` now, or `nil` when it does.
    func quotaRefusal(of job: QueuedJob, quota: ResourceLimit) -> WaitReason? {
        guard quota != .unlimited else { return nil }
        if let excess = quota.excess(using: job.totalResources, alreadyUsed: .zero) {
            return WaitReason(.exceedsQuota, "larger than its namespace's whole quota (\(excess)): it can never start")
        }
        if let excess = quota.excess(using: job.totalResources, alreadyUsed: self[job.namespace]) {
            return WaitReason(.exceedsQuota, "exceeds namespace quota (\(excess))")
        }
        return nil
    }
}
