import Foundation

/// A named model in the registry, inside a project, with numbered versions, tags and aliases.
public struct RegisteredModel: Sendable, Hashable {
    /// Unique on the server, as MLflow clients expect.
    public var name: String
    public var namespaceID: UUID
    public var projectID: UUID
    public var description: String
    public var creationTime: Int64
    public var lastUpdatedTime: Int64
    public var tags: [KeyValue]
    /// Alias → version number (`champion` → 3).
    public var aliases: [String: Int]

    public init(
        name: String, namespaceID: UUID, projectID: UUID, description: String, creationTime: Int64, lastUpdatedTime: Int64,
        tags: [KeyValue], aliases: [String: Int]
    ) {
        self.name = name
        self.namespaceID = namespaceID
        self.projectID = projectID
        self.description = description
        self.creationTime = creationTime
        self.lastUpdatedTime = lastUpdatedTime
        self.tags = tags
        self.aliases = aliases
    }
}

/// MLflow's model stages.
public enum ModelStage: String, Sendable, CaseIterable {
    case none = "None"
    case staging = "Staging"
    case production = "Production"
    case archived = "Archived"

    /// Parses a stage case-insensitively, as MLflow does.
    public init?(caseInsensitive text: String) {
        guard let stage = Self.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else { return nil }
        self = stage
    }
}

/// One version of a registered model: where its files are, the run (and logged model) it came from, its
/// stage, and whether it is approved for production (the hook the approval workflow will set).
public struct ModelVersion: Sendable, Hashable {
    public var name: String
    public var version: Int
    public var creationTime: Int64
    public var lastUpdatedTime: Int64
    public var description: String
    public var userID: String
    public var stage: ModelStage
    /// The model's files: a `runs:/…`, `models:/m-…` or `mlflow-artifacts:/…` URI.
    public var source: String
    public var runID: String?
    public var runLink: String?
    public var modelID: String?
    /// Where the files are in the artifact store (`mlflow-artifacts:/…`), resolved from `source`.
    public var storageLocation: String
    public var approved: Bool
    public var tags: [KeyValue]

    public init(
        name: String, version: Int, creationTime: Int64, lastUpdatedTime: Int64, description: String, userID: String, stage: ModelStage,
        source: String, runID: String?, runLink: String?, modelID: String?, storageLocation: String, approved: Bool, tags: [KeyValue]
    ) {
        self.name = name
        self.version = version
        self.creationTime = creationTime
        self.lastUpdatedTime = lastUpdatedTime
        self.description = description
        self.userID = userID
        self.stage = stage
        self.source = source
        self.runID = runID
        self.runLink = runLink
        self.modelID = modelID
        self.storageLocation = storageLocation
        self.approved = approved
        self.tags = tags
    }
}
