import Foundation

/// One recorded state change: who did what to which resource, and when.
public struct AuditEvent: Codable, Sendable, Hashable, Identifiable {
    enum CodingKeys: String, CodingKey {
        case id
        case occurredAt
        case actorID = "actorId"
        case actorName
        case action
        case targetType
        case target
        case namespaceID = "namespaceId"
        case details
    }

    /// Increasing identifier; newer events have larger ids.
    public var id: Int64
    /// When the change was committed.
    public var occurredAt: Date
    /// The user who made the change, or `nil` for the system itself.
    public var actorID: UUID?
    /// The actor's username at the time, or "system".
    public var actorName: String
    /// What was done, as `area.verb` (`namespace.create`, `member.update`, `token.revoke`).
    public var action: String
    /// The kind of resource changed (`namespace`, `project`, `user`, `token`, `member`, `quota`).
    public var targetType: String
    /// A readable reference to the resource (`team-a/vision`).
    public var target: String
    /// The namespace the change belongs to, if any.
    public var namespaceID: UUID?
    /// Extra facts about the change (the new role, the changed fields).
    public var details: [String: String]

    public init(
        id: Int64, occurredAt: Date, actorID: UUID?, actorName: String, action: String, targetType: String, target: String, namespaceID: UUID?,
        details: [String: String]
    ) {
        self.id = id
        self.occurredAt = occurredAt
        self.actorID = actorID
        self.actorName = actorName
        self.action = action
        self.targetType = targetType
        self.target = target
        self.namespaceID = namespaceID
        self.details = details
    }
}

/// Who makes a change, as recorded in the audit log.
public struct AuditActor: Sendable, Hashable {
    /// The acting user, or `nil` for the platform itself.
    public var userID: UUID?
    /// The acting user's name, or "system".
    public var name: String

    public init(userID: UUID?, name: String) {
        self.userID = userID
        self.name = name
    }

    /// The platform acting on its own (start-up, background work).
    public static let system = AuditActor(userID: nil, name: "system")

    /// `user` acting.
    public static func user(_ user: User) -> AuditActor {
        AuditActor(userID: user.id, name: user.username.value)
    }
}
