import Foundation

/// Who may see a dataset.
public enum Visibility: String, Codable, Sendable, CaseIterable {
    /// The members of the dataset's project and the maintainers and owners of its namespace.
    case `private`
    /// Every member of the dataset's namespace.
    case namespace
    /// Every signed-in user may read it.
    case `public`
}

/// A named collection of data inside a project, with immutable numbered versions.
public struct Dataset: Codable, Sendable, Hashable, Identifiable {
    public var id: UUID
    public var namespaceID: UUID
    public var projectID: UUID
    public var name: ResourceName
    public var description: String
    public var taskType: TaskType
    public var visibility: Visibility
    public var createdAt: Date
    /// The number of the newest committed version, if any.
    public var latestVersion: Int?

    enum CodingKeys: String, CodingKey {
        case id
        case namespaceID = "namespaceId"
        case projectID = "projectId"
        case name, description, taskType, visibility, createdAt, latestVersion
    }

    public init(
        id: UUID, namespaceID: UUID, projectID: UUID, name: ResourceName, description: String, taskType: TaskType,
        visibility: Visibility, createdAt: Date, latestVersion: Int?
    ) {
        self.id = id
        self.namespaceID = namespaceID
        self.projectID = projectID
        self.name = name
        self.description = description
        self.taskType = taskType
        self.visibility = visibility
        self.createdAt = createdAt
        self.latestVersion = latestVersion
    }
}

/// A dataset found by a search across namespaces, with the names that locate it.
public struct DatasetListing: Codable, Sendable, Hashable {
    public var namespace: String
    public var project: String
    public var dataset: Dataset

    public init(namespace: String, project: String, dataset: Dataset) {
        self.namespace = namespace
        self.project = project
        self.dataset = dataset
    }
}

/// Where a version is in its life. Committed versions never change; the later states only restrict use.
public enum VersionState: String, Codable, Sendable, CaseIterable {
    case committed
    case deprecated
    case archived
    case deleted
}

/// One immutable version of a dataset.
public struct DatasetVersion: Codable, Sendable, Hashable {
    public var datasetID: UUID
    public var number: Int
    public var state: VersionState
    public var message: String
    public var recordCount: Int
    public var createdAt: Date
    public var createdBy: String

    enum CodingKeys: String, CodingKey {
        case datasetID = "datasetId"
        case number, state, message, recordCount, createdAt, createdBy
    }

    public init(datasetID: UUID, number: Int, state: VersionState, message: String, recordCount: Int, createdAt: Date, createdBy: String) {
        self.datasetID = datasetID
        self.number = number
        self.state = state
        self.message = message
        self.recordCount = recordCount
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}
