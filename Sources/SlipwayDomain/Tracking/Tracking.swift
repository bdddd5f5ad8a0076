import Foundation

/// Whether an experiment or run is in use or in the trash (restorable).
public enum LifecycleStage: String, Codable, Sendable, CaseIterable {
    case active
    case deleted
}

/// Where a run is: MLflow's run states.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running = "RUNNING"
    case scheduled = "SCHEDULED"
    case finished = "FINISHED"
    case failed = "FAILED"
    case killed = "KILLED"
}

/// A key and a string value: a tag or a param.
public struct KeyValue: Codable, Sendable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A named group of runs, inside a project. Its id is a decimal string, as MLflow clients expect.
public struct Experiment: Sendable, Hashable {
    public var id: String
    public var namespaceID: UUID
    public var projectID: UUID
    /// The name MLflow clients see; unique on the server.
    public var name: String
    public var artifactLocation: String
    public var lifecycleStage: LifecycleStage
    /// Milliseconds since the epoch.
    public var creationTime: Int64
    public var lastUpdateTime: Int64
    public var tags: [KeyValue]

    public init(
        id: String, namespaceID: UUID, projectID: UUID, name: String, artifactLocation: String, lifecycleStage: LifecycleStage,
        creationTime: Int64, lastUpdateTime: Int64, tags: [KeyValue]
    ) {
        self.id = id
        self.namespaceID = namespaceID
        self.projectID = projectID
        self.name = name
        self.artifactLocation = artifactLocation
        self.lifecycleStage = lifecycleStage
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime
        self.tags = tags
    }
}

/// One point of a metric's history. `value` may be NaN or infinite.
public struct MetricPoint: Sendable, Hashable {
    public var key: String
    public var value: Double
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    public var step: Int64
    public init(key: String, value: Double, timestamp: Int64, step: Int64) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
    }

    public static func == (a: MetricPoint, b: MetricPoint) -> Bool {
        a.key == b.key && a.timestamp == b.timestamp && a.step == b.step
            && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(timestamp)
        hasher.combine(step)
        hasher.combine(value.isNaN ? Double.nan.bitPattern : value.bitPattern)
    }
}

/// A run's identity and state.
public struct RunInfo: Sendable, Hashable {
    /// 32 lowercase hex digits.
    public var runID: String
    public var experimentID: String
    public var name: String
    public var userID: String
    public var status: RunStatus
    public var startTime: Int64
    public var endTime: Int64?
    public var artifactURI: String
    public var lifecycleStage: LifecycleStage

    public init(
        runID: String, experimentID: String, name: String, userID: String, status: RunStatus, startTime: Int64, endTime: Int64?,
        artifactURI: String, lifecycleStage: LifecycleStage
    ) {
        self.runID = runID
        self.experimentID = experimentID
        self.name = name
        self.userID = userID
        self.status = status
        self.startTime = startTime
        self.endTime = endTime
        self.artifactURI = artifactURI
        self.lifecycleStage = lifecycleStage
    }
}

/// A dataset a run used (`mlflow.log_input`): MLflow's dataset description and the input's tags.
public struct RunDatasetInput: Sendable, Hashable {
    public var name: String
    public var digest: String
    public var sourceType: String
    public var source: String
    public var schema: String?
    public var profile: String?
    public var tags: [KeyValue]

    public init(name: String, digest: String, sourceType: String, source: String, schema: String?, profile: String?, tags: [KeyValue]) {
        self.name = name
        self.digest = digest
        self.sourceType = sourceType
        self.source = source
        self.schema = schema
        self.profile = profile
        self.tags = tags
    }
}

/// A run with everything logged to it: the latest value of each metric, params, tags, inputs (datasets and
/// MLflow 3 logged models) and the logged models it output.
public struct RunDetail: Sendable, Hashable {
    public var info: RunInfo
    public var metrics: [MetricPoint]
    public var params: [KeyValue]
    public var tags: [KeyValue]
    public var inputs: [RunDatasetInput]
    /// Ids of the logged models the run used (`log_inputs(models=…)`).
    public var modelInputs: [String]
    /// The logged models the run produced (`runs/outputs`), by id, with the step of each.
    public var modelOutputs: [RunModelOutput]

    public init(
        info: RunInfo, metrics: [MetricPoint], params: [KeyValue], tags: [KeyValue], inputs: [RunDatasetInput], modelInputs: [String] = [],
        modelOutputs: [RunModelOutput] = []
    ) {
        self.info = info
        self.metrics = metrics
        self.params = params
        self.tags = tags
        self.inputs = inputs
        self.modelInputs = modelInputs
        self.modelOutputs = modelOutputs
    }
}

/// A logged model a run produced, and the step it was produced at.
public struct RunModelOutput: Sendable, Hashable {
    public var modelID: String
    public var step: Int64

    public init(modelID: String, step: Int64) {
        self.modelID = modelID
        self.step = step
    }
}

/// An MLflow 3 logged model: a model's files (under its own artifact location) with params, tags, the
/// metrics logged against it, and the run that produced it.
public struct LoggedModel: Sendable, Hashable {
    /// `m-` followed by 32 hex digits.
    public var modelID: String
    public var experimentID: String
    public var name: String
    public var artifactURI: String
    /// `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY` or `LOGGED_MODEL_UPLOAD_FAILED`.
    public var status: String
    public var statusMessage: String
    public var creator: String
    public var modelType: String
    public var sourceRunID: String?
    public var lifecycleStage: LifecycleStage
    public var creationTime: Int64
    public var lastUpdatedTime: Int64
    public var tags: [KeyValue]
    public var params: [KeyValue]
    public var metrics: [LoggedModelMetric]

    public init(
        modelID: String, experimentID: String, name: String, artifactURI: String, status: String, statusMessage: String, creator: String,
        modelType: String, sourceRunID: String?, lifecycleStage: LifecycleStage, creationTime: Int64, lastUpdatedTime: Int64,
        tags: [KeyValue], params: [KeyValue], metrics: [LoggedModelMetric]
    ) {
        self.modelID = modelID
        self.experimentID = experimentID
        self.name = name
        self.artifactURI = artifactURI
        self.status = status
        self.statusMessage = statusMessage
        self.creator = creator
        self.modelType = modelType
        self.sourceRunID = sourceRunID
        self.lifecycleStage = lifecycleStage
        self.creationTime = creationTime
        self.lastUpdatedTime = lastUpdatedTime
        self.tags = tags
        self.params = params
        self.metrics = metrics
    }
}

/// A metric point logged against a model, from a run, optionally on a dataset.
public struct LoggedModelMetric: Sendable, Hashable {
    public var point: MetricPoint
    public var runID: String
    public var datasetName: String
    public var datasetDigest: String

    public init(point: MetricPoint, runID: String, datasetName: String, datasetDigest: String) {
        self.point = point
        self.runID = runID
        self.datasetName = datasetName
        self.datasetDigest = datasetDigest
    }
}
