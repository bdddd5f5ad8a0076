import Foundation

/// A dataset's staging area: records that can still be added, removed and relabelled before they are
/// committed as the next immutable version. A dataset has at most one draft at a time.
public struct DatasetDraft: Codable, Sendable, Hashable {
    public var datasetID: UUID
    /// The version the draft started from (`nil`: it started empty).
    public var baseVersion: Int?
    /// Always `draft`: the first state in a version's life.
    public var state: String
    /// Records in the draft now.
    public var recordCount: Int
    /// Records that are not in the base version.
    public var added: Int
    /// Records of the base version that were edited.
    public var changed: Int
    /// Records of the base version that were taken out.
    public var removed: Int
    /// The typed fields records may carry; grows when an added record brings a new field.
    public var schema: DatasetSchema
    /// Bumped by every edit, so a commit can tell whether the draft changed under it.
    public var revision: Int
    public var createdAt: Date
    public var createdBy: String
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case datasetID = "datasetId"
        case baseVersion, state, recordCount, added, changed, removed, schema, revision, createdAt, createdBy, updatedAt
    }

    public init(
        datasetID: UUID, baseVersion: Int?, recordCount: Int, added: Int, changed: Int, removed: Int, schema: DatasetSchema,
        revision: Int, createdAt: Date, createdBy: String, updatedAt: Date
    ) {
        self.datasetID = datasetID
        self.baseVersion = baseVersion
        self.state = "draft"
        self.recordCount = recordCount
        self.added = added
        self.changed = changed
        self.removed = removed
        self.schema = schema
        self.revision = revision
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = updatedAt
    }
}

/// `POST …/datasets/{dataset}/draft`: open the staging area.
public struct CreateDraftRequest: Codable, Sendable {
    /// The version to start from; by default the latest, or nothing for a dataset without versions.
    public var fromVersion: Int?
    /// Start with no records even though the dataset has versions.
    public var empty: Bool?
    public init(fromVersion: Int? = nil, empty: Bool? = nil) {
        self.fromVersion = fromVersion
        self.empty = empty
    }
}

/// `PUT …/draft/records/{id}/annotations`: replace a record's labels.
public struct AnnotationsRequest: Codable, Sendable {
    public var annotations: [Annotation]
    public init(annotations: [Annotation]) { self.annotations = annotations }
}

/// `POST …/draft/commit`: turn the draft into the next version.
public struct CommitDraftRequest: Codable, Sendable {
    public var message: String?
    public init(message: String? = nil) { self.message = message }
}

/// `POST …/draft/import`: what an import into the draft added and replaced.
public struct DraftImportReport: Codable, Sendable {
    public var added: Int
    public var replaced: Int
    public var draft: DatasetDraft
    public init(added: Int, replaced: Int, draft: DatasetDraft) {
        self.added = added
        self.replaced = replaced
        self.draft = draft
    }
}
