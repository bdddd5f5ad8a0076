import Foundation

/// A project inside a namespace: the home of datasets, experiments, jobs and models.
public struct Project: Codable, Sendable, Hashable, Identifiable {
    enum CodingKeys: String, CodingKey {
        case id
        case namespaceID = "namespaceId"
        case name
        case description
        case createdAt
    }

    /// Stable identifier.
    public var id: UUID
    /// The namespace that owns the project.
    public var namespaceID: UUID
    /// The name, unique inside the namespace.
    public var name: ResourceName
    /// Free text describing the project.
    public var description: String
    /// When the project was created.
    public var createdAt: Date

    public init(id: UUID, namespaceID: UUID, name: ResourceName, description: String, createdAt: Date) {
        self.id = id
        self.namespaceID = namespaceID
        self.name = name
        self.description = description
        self.createdAt = createdAt
    }
}

/// A user's membership of a project. A project's members, with the namespace's maintainers and owners, are the
/// ones who see its `private` datasets; their project role says what they may do with those.
public struct ProjectMember: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case projectID = "projectId"
        case userID = "userId"
        case username
        case role
        case addedAt
    }

    /// The project.
    public var projectID: UUID
    /// The member.
    public var userID: UUID
    /// The member's username, for display.
    public var username: ResourceName
    /// What the member may do with the project's private datasets: viewer, developer or maintainer.
    public var role: Role
    /// When the membership was created.
    public var addedAt: Date

    public init(projectID: UUID, userID: UUID, username: ResourceName, role: Role, addedAt: Date) {
        self.projectID = projectID
        self.userID = userID
        self.username = username
        self.role = role
        self.addedAt = addedAt
    }

    /// The roles a project membership may have (a project has no owners of its own: the namespace's are).
    public static let roles: [Role] = [.viewer, .developer, .maintainer]
}
