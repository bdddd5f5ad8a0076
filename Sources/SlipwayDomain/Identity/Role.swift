/// A member's role in a namespace. Each role can do everything the roles below it can.
///
/// - viewer: reads everything in the namespace.
/// - developer: also creates and changes work (projects, datasets, jobs, runs).
/// - maintainer: also manages the namespace's settings and its developer and viewer members.
/// - owner: also manages owners and maintainers, and deletes the namespace.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case viewer
    case developer
    case maintainer
    case owner

    /// Rank used to compare roles; higher can do more.
    public var rank: Int {
        switch self {
        case .viewer: 0
        case .developer: 1
        case .maintainer: 2
        case .owner: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// Whether this role includes everything `other` may do.
    public func includes(_ other: Role) -> Bool { rank >= other.rank }

    public var description: String { rawValue }

    /// The roles a member with this role may grant, change or revoke.
    ///
    /// Owners manage every role; maintainers manage developers and viewers; nobody else manages members.
    public var manageableRoles: Set<Role> {
        switch self {
        case .owner: Set(Role.allCases)
        case .maintainer: [.developer, .viewer]
        case .developer, .viewer: []
        }
    }
}
