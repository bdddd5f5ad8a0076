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
