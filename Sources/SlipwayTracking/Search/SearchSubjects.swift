/// What a run search filter and ordering can see of one run: its attributes, latest metric values,
/// params, tags and dataset inputs. The store fills it; the search code only reads it.
public struct RunSearchFields: Sendable, Hashable {
    public var runID: String
    public var runName: String
    public var experimentID: String
    public var status: String
    /// Milliseconds since the epoch.
    public var startTime: Int64
    public var endTime: Int64?
    public var artifactURI: String
    public var userID: String
    /// `active` or `deleted`.
    public var lifecycleStage: String
    /// The latest value of each metric (highest step, then latest timestamp).
    public var metrics: [String: Double]
    public var params: [String: String]
    public var tags: [String: String]
    public var datasets: [DatasetInputFields]

    public init(
        runID: String, runName: String, experimentID: String, status: String, startTime: Int64, endTime: Int64?, artifactURI: String,
        userID: String, lifecycleStage: String, metrics: [String: Double] = [:], params: [String: String] = [:],
        tags: [String: String] = [:], datasets: [DatasetInputFields] = []
    ) {
        self.runID = runID
        self.runName = runName
        self.experimentID = experimentID
        self.status = status
        self.startTime = startTime
        self.endTime = endTime
        self.artifactURI = artifactURI
        self.userID = userID
        self.lifecycleStage = lifecycleStage
        self.metrics = metrics
        self.params = params
        self.tags = tags
        self.datasets = datasets
    }
}

/// A dataset input of a run as filters see it (`datasets.name`, `datasets.digest`, `datasets.context`).
public struct DatasetInputFields: Sendable, Hashable {
    public var name: String
    public var digest: String
    /// The `mlflow.data.context` input tag (`training`, `evaluation`), if any.
    public var context: String?

    public init(name: String, digest: String, context: String?) {
        self.name = name
        self.digest = digest
        self.context = context
    }
}

/// What an experiment search can see of one experiment.
public struct ExperimentSearchFields: Sendable, Hashable {
    public var experimentID: String
    public var name: String
    public var creationTime: Int64
    public var lastUpdateTime: Int64
    public var lifecycleStage: String
    public var tags: [String: String]

    public init(experimentID: String, name: String, creationTime: Int64, lastUpdateTime: Int64, lifecycleStage: String, tags: [String: String]) {
        self.experimentID = experimentID
        self.name = name
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime
        self.lifecycleStage = lifecycleStage
        self.tags = tags
    }
}

/// What a registered model or model version search can see.
public struct RegistrySearchFields: Sendable, Hashable {
    public var name: String
    /// Model versions only.
    public var version: String?
    public var runID: String?
    public var source: String?
    public var creationTime: Int64
    public var lastUpdatedTime: Int64
    public var tags: [String: String]

    public init(
        name: String, version: String? = nil, runID: String? = nil, source: String? = nil, creationTime: Int64, lastUpdatedTime: Int64,
        tags: [String: String]
    ) {
        self.name = name
        self.version = version
        self.runID = runID
        self.source = source
        self.creationTime = creationTime
        self.lastUpdatedTime = lastUpdatedTime
        self.tags = tags
    }
}

/// What a logged model search can see: attributes, params, tags, and the latest value of each metric.
public struct LoggedModelSearchFields: Sendable, Hashable {
    public var modelID: String
    public var name: String
    public var status: String
    public var modelType: String
    public var sourceRunID: String
    public var creationTime: Int64
    public var lastUpdatedTime: Int64
    public var metrics: [String: Double]
    public var params: [String: String]
    public var tags: [String: String]

    public init(
        modelID: String, name: String, status: String, modelType: String, sourceRunID: String, creationTime: Int64, lastUpdatedTime: Int64,
        metrics: [String: Double], params: [String: String], tags: [String: String]
    ) {
        self.modelID = modelID
        self.name = name
        self.status = status
        self.modelType = modelType
        self.sourceRunID = sourceRunID
        self.creationTime = creationTime
        self.lastUpdatedTime = lastUpdatedTime
        self.metrics = metrics
        self.params = params
        self.tags = tags
    }
}
