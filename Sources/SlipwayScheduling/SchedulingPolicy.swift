import Foundation

/// A way of deciding which queued jobs start where. Pure: the decision depends on the snapshot alone (no
/// clock, no I/O, no state kept between calls), so the server and the simulator run the same code.
public protocol SchedulingPolicy: Sendable {
    /// The name configuration uses for this policy.
    var name: SchedulingPolicyName { get }

    /// Decides placements, reservations and reasons for one snapshot.
    /// - Parameter snapshot: the cluster, the queue and the time.
    /// - Returns: the tasks to start now, the room held for starving jobs, and why every other job waits.
    func schedule(_ snapshot: SchedulingSnapshot) -> SchedulingDecision
}

/// The policies configuration (the server's `SLIPWAY_SCHEDULER_POLICY`, `slipway simulate --policy`) can name.
public enum SchedulingPolicyName: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Strict order by priority then submit time (``FIFOPolicy``).
    case fifo
    /// Dominant resource fairness across namespaces, with balanced placement, quotas and reservations
    /// against starvation (``DominantResourceFairnessPolicy``).
    case drf

    /// Reads a policy name as a person typed it (case and surrounding spaces do not matter).
    /// - Throws: ``SchedulingConfigurationError`` naming the policies there are.
    public init(parsing text: String) throws {
        let cleaned = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let name = SchedulingPolicyName(rawValue: cleaned) else {
            throw SchedulingConfigurationError.unknownPolicy(text)
        }
        self = name
    }

    /// The policy of this name with `options`.
    public func makePolicy(_ options: SchedulingOptions = SchedulingOptions()) -> any SchedulingPolicy {
        switch self {
        case .fifo: FIFOPolicy()
        case .drf: DominantResourceFairnessPolicy(options: options)
        }
    }

    public var description: String { rawValue }
}

/// Settings of the fair-share policy's protection against starvation.
public struct SchedulingOptions: Sendable, Hashable, Codable {
    /// A job that has waited this many seconds gets a reservation when it cannot start.
    public var starvationBound: Double
    /// At most this many reservations are held at once (each node holds at most one).
    public var maximumReservations: Int

    public init(starvationBound: Double = 3600, maximumReservations: Int = 4) {
        self.starvationBound = max(0, starvationBound)
        self.maximumReservations = max(0, maximumReservations)
    }
}

/// A scheduler setting that cannot be used, such as an unknown policy name.
public struct SchedulingConfigurationError: Error, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case unknownPolicy(String)
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// `name` is not a policy.
    public static func unknownPolicy(_ name: String) -> SchedulingConfigurationError { .init(.unknownPolicy(name)) }

    public var description: String {
        switch kind {
        case .unknownPolicy(let name):
            let known = SchedulingPolicyName.allCases.map(\.rawValue).joined(separator: ", ")
            return "unknown scheduling policy '\(name)'; choose one of: \(known)"
        }
    }
}
