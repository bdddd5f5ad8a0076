import Foundation

// Request and response bodies of the Data API (`/api/v1`), shared by the server and the client.

/// `POST /api/v1/namespaces/{namespace}/blobs/check`: which of these blobs must the client still upload?
public struct BlobCheckRequest: Codable, Sendable {
    public var digests: [String]
    public init(digests: [String]) { self.digests = digests }
}

/// The blobs the namespace does not hold yet.
public struct BlobCheckResponse: Codable, Sendable {
    public var missing: [String]
    public init(missing: [String]) { self.missing = missing }
}

/// A stored blob.
public struct BlobReceipt: Codable, Sendable {
    public var sha256: String
    public var size: Int64
    public init(sha256: String, size: Int64) {
        self.sha256 = sha256
        self.size = size
    }
}

/// `POST …/datasets`.
public struct CreateDatasetRequest: Codable, Sendable {
    public var name: String
    public var taskType: TaskType
    public var description: String?
    public var visibility: Visibility?
    public init(name: String, taskType: TaskType, description: String? = nil, visibility: Visibility? = nil) {
        self.name = name
        self.taskType = taskType
        self.description = description
        self.visibility = visibility
    }
}

/// `PATCH …/datasets/{dataset}`: changes what is given, leaves the rest.
public struct UpdateDatasetRequest: Codable, Sendable {
    public var description: String?
    public var visibility: Visibility?
    public init(description: String? = nil, visibility: Visibility? = nil) {
        self.description = description
        self.visibility = visibility
    }
}

/// The formats a version can be imported from: tables (CSV, JSON Lines, also export formats) and archives of an image
/// folder (zip, tar, tar.gz), unpacked on the server.
public enum DataFormat: String, Codable, Sendable, CaseIterable {
    case csv
    case jsonl
    /// A zip archive of an image folder: one sub-folder per class, or images directly for unlabeled data.
    case imageFolderZip = "image_folder_zip"
    /// The same image folder as a tar archive, gzip-compressed (`.tar.gz`, `.tgz`) or not (`.tar`): gzip is told by
    /// the file's first bytes.
    case imageFolderTar = "image_folder_tar"
}

/// Where a new version's records come from: an uploaded blob in one of the formats.
public struct ImportSource: Codable, Sendable {
    public var format: DataFormat
    /// SHA-256 of the uploaded file.
    public var blob: String
    /// CSV: the column with class labels. JSON Lines: the key with class labels (default `label`).
    public var labelColumn: String?
    /// CSV: the column with record ids. JSON Lines: the key with ids (default `id`).
    public var idColumn: String?
    /// Types replacing the inferred ones.
    public var fieldTypes: [String: FieldType]?

    public init(format: DataFormat, blob: String, labelColumn: String? = nil, idColumn: String? = nil, fieldTypes: [String: FieldType]? = nil) {
        self.format = format
        self.blob = blob
        self.labelColumn = labelColumn
        self.idColumn = idColumn
        self.fieldTypes = fieldTypes
    }
}

/// `POST …/datasets/{dataset}/versions`: import a new version.
public struct CreateVersionRequest: Codable, Sendable {
    public var source: ImportSource
    public var message: String?
    public init(source: ImportSource, message: String? = nil) {
        self.source = source
        self.message = message
    }
}

/// A page of records of a version.
public struct RecordPage: Codable, Sendable {
    public var items: [DatasetRecord]
    public var offset: Int
    public var total: Int
    public init(items: [DatasetRecord], offset: Int, total: Int) {
        self.items = items
        self.offset = offset
        self.total = total
    }
}

/// `PUT …/versions/{version}/state`: move a version forward in its life.
public struct VersionStateRequest: Codable, Sendable {
    public var state: VersionState
    public init(state: VersionState) { self.state = state }
}

/// `POST /api/v1/admin/gc`: collect unreferenced blobs.
public struct GarbageCollectionRequest: Codable, Sendable {
    /// Uploads younger than this many seconds are kept (default one hour).
    public var graceSeconds: Int?
    public init(graceSeconds: Int? = nil) { self.graceSeconds = graceSeconds }
}

/// What a garbage collection removed.
public struct GarbageCollectionReport: Codable, Sendable {
    public var deleted: Int
    public var freedBytes: Int64
    public var keptYoung: Int
    public init(deleted: Int, freedBytes: Int64, keptYoung: Int) {
        self.deleted = deleted
        self.freedBytes = freedBytes
        self.keptYoung = keptYoung
    }
}

/// `GET …/versions/{version}/lineage`: the runs that used a dataset version (a run input with source type
/// `slipway` and source `NAMESPACE/PROJECT/DATASET@VERSION`) and the model versions registered from them.
public struct DatasetLineage: Codable, Sendable, Hashable {
    /// A run that used the version.
    public struct RunUse: Codable, Sendable, Hashable {
        public var runId: String
        public var runName: String
        public var experimentId: String
        public var experimentName: String
        public var status: String
        /// Milliseconds since the epoch.
        public var startTime: Int64
        /// `training`, `evaluation`, … (the input's `mlflow.data.context` tag), if given.
        public var context: String?
        public init(
            runId: String, runName: String, experimentId: String, experimentName: String, status: String, startTime: Int64, context: String?
        ) {
            self.runId = runId
            self.runName = runName
            self.experimentId = experimentId
            self.experimentName = experimentName
            self.status = status
            self.startTime = startTime
            self.context = context
        }
    }

    /// A model version registered from one of those runs.
    public struct ModelUse: Codable, Sendable, Hashable {
        public var name: String
        public var version: Int
        public var runId: String
        public var stage: String
        public init(name: String, version: Int, runId: String, stage: String) {
            self.name = name
            self.version = version
            self.runId = runId
            self.stage = stage
        }
    }

    public var source: String
    public var runs: [RunUse]
    public var modelVersions: [ModelUse]
    public init(source: String, runs: [RunUse], modelVersions: [ModelUse]) {
        self.source = source
        self.runs = runs
        self.modelVersions = modelVersions
    }
}
