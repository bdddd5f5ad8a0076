import Foundation

/// A tenant: a team's space holding its projects, members, quota and audit log.
public struct Namespace: Codable, Sendable, Hashable, Identifiable {
    /// Stable identifier.
    public var id: UUID
    /// The unique name used in URLs.
    public var name: ResourceName
    /// A human title; defaults to the name.
    public var displayName: String
    /// Free text describing the namespace.
    public var description: String
    /// When the namespace was created.
    public var createdAt: Date

    public init(id: UUID, name: ResourceName, displayName: String, description: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.description = description
        self.createdAt = createdAt
    }
}

/// A user's membership of a namespace.
public struct Membership: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case namespaceID = "namespaceId"
        case userID = "userId"
        case username
        case role
        case addedAt
    }

    /// The namespace.
    public var namespaceID: UUID
    /// The member.
    public var userID: UUID
    /// The member's username, for display.
    public var username: ResourceName
    /// What the member may do.
    public var role: Role
    /// When the membership was created.
    public var addedAt: Date

    public init(namespaceID: UUID, userID: UUID, username: ResourceName, role: Role, addedAt: Date) {
        self.namespaceID = namespaceID
        self.userID = userID
        self.username = username
        self.role = role
        self.addedAt = addedAt
    }
}

/// The compute a namespace may use at once, enforced by the scheduler. `nil` means unlimited.
public struct Quota: Codable, Sendable, Hashable {
    /// CPU cores (fractions allowed, e.g. 0.5).
    public var cpu: Double?
    /// Memory in bytes.
    public var memoryBytes: Int64?
    /// Whole GPUs.
    public var gpu: Int?
    /// The namespace's weight in fair sharing: a namespace of weight 2 is entitled to twice the dominant share of
    /// one of weight 1 (the default).
    public var weight: Double?

    public init(cpu: Double? = nil, memoryBytes: Int64? = nil, gpu: Int? = nil, weight: Double? = nil) {
        self.cpu = cpu
        self.memoryBytes = memoryBytes
        self.gpu = gpu
        self.weight = weight
    }

    /// No limits.
    public static let unlimited = Quota()
}
