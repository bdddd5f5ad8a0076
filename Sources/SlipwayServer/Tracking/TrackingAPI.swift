import Foundation
import Hummingbird
import SlipwayDomain

// The bodies of Slipway's own tracking and registry API (`/api/v1/experiments`, `/runs`, `/models`): the
// same data the MLflow-compatible API serves, with each item placed in its namespace and project, and the
// lineage MLflow lacks (dataset versions, code, the model versions a run produced). Keys are snake_case.

/// Where an experiment, run or model lives.
struct TrackingPlace: Codable, Sendable, Hashable {
    var namespace: String
    var project: String
}

/// An experiment and where it lives.
struct ExperimentSummary: Codable, Sendable, ResponseEncodable {
    var id: String
    var name: String
    var namespace: String
    var project: String
    var lifecycleStage: String
    /// Milliseconds since the epoch.
    var creationTime: Int64
    var lastUpdateTime: Int64
    var tags: [String: String]
}

/// The latest value of one of a run's metrics. Values that JSON numbers cannot carry travel as `"NaN"`,
/// `"Infinity"` and `"-Infinity"` (``WireDouble``).
struct MetricSummary: Codable, Sendable {
    var key: String
    var value: WireDouble
    var step: Int64
    var timestamp: Int64
}

/// A run as the runs table shows it: identity, state, params, tags and latest metrics.
struct RunSummary: Codable, Sendable {
    var id: String
    var name: String
    var experimentId: String
    var status: String
    var lifecycleStage: String
    var user: String
    var startTime: Int64
    var endTime: Int64?
    var parentRunId: String?
    var params: [String: String]
    var metrics: [MetricSummary]
    var tags: [String: String]
}

/// A page of runs with the token for the next one.
struct RunList: Codable, Sendable, ResponseEncodable {
    var items: [RunSummary]
    var nextPageToken: String?
}

/// A dataset a run used. `dataset` is filled when the input names a Slipway dataset version the caller may see.
struct RunInputView: Codable, Sendable {
    /// A Slipway dataset version: its place, name and number.
    struct DatasetVersionRef: Codable, Sendable, Hashable {
        var namespace: String
        var project: String
        var dataset: String
        var version: Int
    }

    var name: String
    var digest: String
    var sourceType: String
    var source: String
    var context: String?
    var dataset: DatasetVersionRef?
}

/// Where a run's code came from, read from the tags MLflow and Slipway write.
struct RunCodeView: Codable, Sendable {
    /// `mlflow.source.name`: the script or notebook.
    var sourceName: String?
    /// `mlflow.source.git.commit`.
    var gitCommit: String?
    /// `mlflow.source.git.repoURL`.
    var gitRepository: String?
    /// `slipway.code.digest`: the SHA-256 of the code archive a job ran, when a job ran it.
    var snapshotDigest: String?
}

/// A model version registered from a run.
struct ModelVersionRef: Codable, Sendable, Hashable {
    var name: String
    var version: Int
    var stage: String
    var approved: Bool
}

/// An MLflow 3 logged model a run produced.
struct LoggedModelRef: Codable, Sendable {
    var id: String
    var name: String
    var status: String
}

/// `GET /api/v1/runs/{run}`: a run with everything logged to it and its lineage both ways.
struct RunView: Codable, Sendable, ResponseEncodable {
    var run: RunSummary
    var experiment: ExperimentSummary
    var inputs: [RunInputView]
    var code: RunCodeView
    var childRunIds: [String]
    var loggedModels: [LoggedModelRef]
    var modelVersions: [ModelVersionRef]
    /// The training job that ran it, when one did (jobs arrive with the compute area).
    var job: String?
}

/// One point of a metric's history.
struct MetricPointView: Codable, Sendable {
    var step: Int64
    var timestamp: Int64
    var value: WireDouble
}

/// `GET /api/v1/runs/{run}/metrics/{key}`: every point logged for one metric, in step order.
struct MetricHistoryView: Codable, Sendable, ResponseEncodable {
    var key: String
    var points: [MetricPointView]
}

/// One entry of a run's artifact folder.
struct ArtifactEntry: Codable, Sendable {
    /// The path relative to the run's artifact root.
    var path: String
    var name: String
    var isDir: Bool
    var size: Int64?
}

/// `GET /api/v1/runs/{run}/artifacts`: the direct children of one folder of a run's artifacts.
struct ArtifactListing: Codable, Sendable, ResponseEncodable {
    var path: String
    var files: [ArtifactEntry]
}

/// A registered model and where it lives.
struct ModelSummary: Codable, Sendable {
    var name: String
    var namespace: String
    var project: String
    var description: String
    var latestVersion: Int?
    var aliases: [String: Int]
    var tags: [String: String]
    var creationTime: Int64
    var lastUpdatedTime: Int64
}

/// A model version with its source and lineage: the run it came from and that run's datasets.
struct ModelVersionView: Codable, Sendable, ResponseEncodable {
    var name: String
    var version: Int
    var stage: String
    var approved: Bool
    var description: String
    var user: String
    var source: String
    var storageLocation: String
    var aliases: [String]
    var tags: [String: String]
    var creationTime: Int64
    var lastUpdatedTime: Int64
    var runId: String?
    var loggedModelId: String?
    /// The run it came from, if the caller may see it.
    var run: RunSummary?
    var experiment: ExperimentSummary?
    /// The dataset versions that run used.
    var inputs: [RunInputView]
}

/// `GET /api/v1/models/{model}`: a model with all its versions.
struct ModelView: Codable, Sendable, ResponseEncodable {
    var model: ModelSummary
    var versions: [ModelVersionView]
}

/// A list of registered models.
struct ModelList: Codable, Sendable, ResponseEncodable {
    var items: [ModelSummary]
}

/// A list of experiments.
struct ExperimentList: Codable, Sendable, ResponseEncodable {
    var items: [ExperimentSummary]
}
