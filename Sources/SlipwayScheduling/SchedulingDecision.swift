import Foundation

/// What a policy decided from one snapshot: which jobs start where, which wait with room held for them,
/// and why every other job waits.
public struct SchedulingDecision: Sendable, Hashable, Codable {
    /// One entry per task started (a gang job has one per task, all in the same decision).
    public var placements: [Placement]
    /// Room held for jobs that waited past the starvation bound.
    public var reservations: [Reservation]
    /// Why each job of the snapshot's queue that was not placed waits, by job id.
    public var waiting: [String: WaitReason]

    public init(placements: [Placement] = [], reservations: [Reservation] = [], waiting: [String: WaitReason] = [:]) {
        self.placements = placements
        self.reservations = reservations
        self.waiting = waiting
    }

    /// The ids of the jobs placed, in the order they were placed (each once).
    public var placedJobIDs: [String] {
        var seen = Set<String>()
        return placements.compactMap { seen.insert($0.jobID).inserted ? $0.jobID : nil }
    }
}

/// One task of a job started on a node, with the GPUs it is given.
public struct Placement: Sendable, Hashable, Codable {
    public var jobID: String
    /// Which task of a gang job (0 for an ordinary job).
    public var task: Int
    public var nodeID: String
    /// The GPU indices handed to the task (`CUDA_VISIBLE_DEVICES`), distinct from every other task's on the node.
    public var gpuDevices: [Int]
    /// What the task holds on the node.
    public var resources: Resources

    public init(jobID: String, task: Int = 0, nodeID: String, gpuDevices: [Int], resources: Resources) {
        self.jobID = jobID
        self.task = task
        self.nodeID = nodeID
        self.gpuDevices = gpuDevices
        self.resources = resources
    }
}

/// Room held for a job that waited past the starvation bound: from now until `expectedStart`, other jobs
/// use the reserved nodes only if they end before it or fit beside it. When the work on those nodes has no
/// known end (`expectedStart` is `nil`), the job starts when that work ends, and until then other jobs use
/// the nodes only if they fit beside the held room.
public struct Reservation: Sendable, Hashable, Codable {
    public var jobID: String
    /// When the reserved room is expected to be free (from running jobs' expected ends); `nil` when some of the
    /// work holding it has no known end.
    public var expectedStart: Double?
    /// The nodes held and what is held on each.
    public var nodes: [ReservedNode]
    /// A sentence for people: how long the job waited and where it will start.
    public var reason: String

    public init(jobID: String, expectedStart: Double?, nodes: [ReservedNode], reason: String) {
        self.jobID = jobID
        self.expectedStart = expectedStart
        self.nodes = nodes
        self.reason = reason
    }
}

/// What a reservation holds on one node.
public struct ReservedNode: Sendable, Hashable, Codable {
    public var nodeID: String
    public var resources: Resources

    public init(nodeID: String, resources: Resources) {
        self.nodeID = nodeID
        self.resources = resources
    }
}

/// Why a job was not placed: a stable code for programs and a sentence for people, such as
/// `exceeds namespace quota (gpu 4 > 2 left)` or `no node has 8 free GPUs`.
public struct WaitReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The kind of reason, stable across releases.
    public enum Code: String, Sendable, Hashable, Codable, CaseIterable {
        /// No node, even empty, could ever hold it (or not enough of them for its gang).
        case neverFits = "never_fits"
        /// Its namespace's quota has no room for it (now, or ever when `message` says so).
        case exceedsQuota = "exceeds_quota"
        /// No node has room for it now.
        case noRoom = "no_room"
        /// Room exists, but it is held for a job with a reservation, and this one would delay it.
        case heldForReservation = "held_for_reservation"
        /// Waited past the starvation bound; room is reserved for it.
        case reserved
        /// FIFO keeps order: it waits behind a job that does not fit.
        case behindQueueHead = "behind_queue_head"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Durations in words for reasons: `45 s`, `12 min`, `2 h 10 min`, `3 d 4 h`.
func durationText(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "unknown time" }
    let total = Int(max(0, seconds).rounded())
    if total < 60 { return "\(total) s" }
    if total < 3600 { return "\(total / 60) min" }
    if total < 86_400 { return total % 3600 / 60 == 0 ? "\(total / 3600) h" : "\(total / 3600) h \(total % 3600 / 60) min" }
    return total % 86_400 / 3600 == 0 ? "\(total / 86_400) d" : "\(total / 86_400) d \(total % 86_400 / 3600) h"
}
