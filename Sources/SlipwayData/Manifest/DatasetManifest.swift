import SlipwayDomain

/// The description of one dataset version: its schema, statistics, and the blobs holding its records.
///
/// Records live in shards: JSON Lines blobs of at most a fixed number of records each, so a version of
/// any size is written and read shard by shard, never whole. The format is documented, with a JSON
/// Schema, in `docs/dataset-format.md`.
public struct DatasetManifest: Codable, Sendable, Hashable {
    /// Version of this format.
    public var formatVersion: Int
    public var taskType: TaskType
    public var schema: DatasetSchema
    public var recordCount: Int
    /// The record shards, in order.
    public var shards: [ManifestShard]
    public var statistics: DatasetStatistics

    public init(taskType: TaskType, schema: DatasetSchema, recordCount: Int, shards: [ManifestShard], statistics: DatasetStatistics) {
        self.formatVersion = 1
        self.taskType = taskType
        self.schema = schema
        self.recordCount = recordCount
        self.shards = shards
        self.statistics = statistics
    }
}

/// One JSON Lines blob of records.
public struct ManifestShard: Codable, Sendable, Hashable {
    /// SHA-256 of the shard's bytes.
    public var sha256: String
    /// How many records it holds.
    public var records: Int
    /// Its length in bytes.
    public var bytes: Int64

    public init(sha256: String, records: Int, bytes: Int64) {
        self.sha256 = sha256
        self.records = records
        self.bytes = bytes
    }
}

/// A version with its manifest: the answer of the API's version routes.
public struct DatasetVersionDetail: Codable, Sendable, Hashable {
    public var version: DatasetVersion
    public var manifest: DatasetManifest

    public init(version: DatasetVersion, manifest: DatasetManifest) {
        self.version = version
        self.manifest = manifest
    }
}
