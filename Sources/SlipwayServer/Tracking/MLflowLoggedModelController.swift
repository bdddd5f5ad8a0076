import Foundation
import HTTPTypes
import Hummingbird
import SlipwayDomain
import SlipwayStore
import SlipwayTracking

/// MLflow 3 logged models (`/api/2.0/mlflow/logged-models…`, `runs/outputs`): what `log_model` creates
/// before uploading a model's files, then finalizes. Access follows the model's experiment.
struct MLflowLoggedModelController: Sendable {
    let tracking: MLflowTrackingController
    var store: MetadataStore { tracking.store }

    static let statuses = ["LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"]

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("logged-models", use: create)
        group.post("logged-models/search", use: search)
        group.get("logged-models/{model_id}", use: get)
        group.patch("logged-models/{model_id}", use: finalize)
        group.delete("logged-models/{model_id}", use: delete)
        group.patch("logged-models/{model_id}/tags", use: setTags)
        group.delete("logged-models/{model_id}/tags/{tag_key}", use: deleteTag)
        group.post("logged-models/{model_id}/params", use: logParams)
        group.post("runs/outputs", use: logOutputs)
    }

    struct CreateRequest: Decodable {
        var experimentId: String?
        var name: String?
        var modelType: String?
        var sourceRunId: String?
        var params: [MLflowWire.Tag]?
        var tags: [MLflowWire.Tag]?
    }

    struct FinalizeRequest: Decodable {
        var status: String?
    }

    struct TagsRequest: Decodable {
        var tags: [MLflowWire.Tag]?
    }

    struct ParamsRequest: Decodable {
        var params: [MLflowWire.Tag]?
    }

    struct SearchRequest: Decodable {
        struct OrderBy: Decodable {
            var fieldName: String
            var ascending: Bool?
        }
        var experimentIds: [String]?
        var filter: String?
        var maxResults: WireInt?
        var orderBy: [OrderBy]?
        var pageToken: String?
    }

    struct OutputsRequest: Decodable {
        struct Output: Decodable {
            var modelId: String
            var step: WireInt?
        }
        var runId: String?
        var models: [Output]?
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await MLflowTrackingController.decode(CreateRequest.self, request, context)
        let experiment = try await tracking.experiment(body.experimentId, context, requires: .developer)
        let caller = try tracking.caller(context)
        if let runID = body.sourceRunId, !runID.isEmpty { _ = try await tracking.run(runID, context, requires: .developer) }
        let modelID = "m-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let name = body.name.flatMap { $0.isEmpty ? nil : $0 } ?? MLflowTrackingController.generatedRunName(modelID)
        try MLflowTrackingController.check(name, what: "model name", limit: 500)
        let now = MLflowTrackingController.millis(tracking.now())
        let model = LoggedModel(
            modelID: modelID, experimentID: experiment.id, name: name, artifactURI: "\(experiment.artifactLocation)/models/\(modelID)/artifacts",
            status: "LOGGED_MODEL_PENDING", statusMessage: "", creator: caller.user.username.value, modelType: body.modelType ?? "",
            sourceRunID: body.sourceRunId.flatMap { $0.isEmpty ? nil : $0 }, lifecycleStage: .active, creationTime: now, lastUpdatedTime: now,
            tags: try MLflowTrackingController.keyValues(body.tags, what: "tag"),
            params: try (body.params ?? []).map { try MLflowTrackingController.keyValue($0.key, $0.value, what: "param", valueLimit: 6000) },
            metrics: [])
        try await store.loggedModels.create(model)
        return try MLflowWire.response(["model": try await wire(modelID)])
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(context, requires: .viewer)
        return try MLflowWire.response(["model": WireLoggedModel(model)])
    }

    @Sendable func finalize(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(context, requires: .developer)
        let body = try await MLflowTrackingController.decode(FinalizeRequest.self, request, context)
        guard let status = body.status, Self.statuses.contains(status) else {
            throw MLflowError.invalid("status must be one of \(Self.statuses.joined(separator: ", "))")
        }
        try await store.loggedModels.setStatus(id: model.modelID, status: status)
        return try MLflowWire.response(["model": try await wire(model.modelID)])
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(context, requires: .developer)
        try await store.loggedModels.markDeleted(id: model.modelID)
        return MLflowWire.empty
    }

    @Sendable func setTags(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(context, requires: .developer)
        let body = try await MLflowTrackingController.decode(TagsRequest.self, request, context)
        try await store.loggedModels.setTags(id: model.modelID, try MLflowTrackingController.keyValues(body.tags, what: "tag"))
        return MLflowWire.empty
    }

    @Sendable func deleteTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(context, requires: .developer)
        let key = try context.parameters.require("tag_key").removingPercentEncoding ?? ""
        guard try await store.loggedModels.deleteTag(id: model.modelID, key: key) else {
            throw MLflowError.notFound("No tag with key '\(key.prefix(200))' on model \(model.modelID)")
        }
        return MLflowWire.empty
    }

    @Sendable func logParams(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(context, requires: .developer)
        let body = try await MLflowTrackingController.decode(ParamsRequest.self, request, context)
        let params = try (body.params ?? []).map { try MLflowTrackingController.keyValue($0.key, $0.value, what: "param", valueLimit: 6000) }
        do {
            try await store.loggedModels.logParams(id: model.modelID, params)
        } catch let error as StoreError where error.code == "param_changed" {
            throw MLflowError.invalid(error.description)
        }
        return MLflowWire.empty
    }

    @Sendable func search(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await MLflowTrackingController.decode(SearchRequest.self, request, context)
        let caller = try tracking.caller(context)
        let filter = try MLflowTrackingController.parse { try LoggedModelFilter.parse(body.filter ?? "") }
        let orderItems = (body.orderBy ?? []).map { "\($0.fieldName) \($0.ascending == false ? "DESC" : "ASC")" }
        let ordering = try MLflowTrackingController.parse { try LoggedModelOrdering.parse(orderItems) }
        let maxResults = try MLflowTrackingController.maxResults(body.maxResults, default: 100, limit: 10_000)
        var experimentIDs: [String] = []
        for id in body.experimentIds ?? [] {
            guard let experiment = try await store.tracking.experiment(id: id), try await tracking.role(of: caller, in: experiment) != nil else {
                throw MLflowError.notFound("No Experiment with id=\(id.prefix(40)) exists")
            }
            experimentIDs.append(experiment.id)
        }
        let models = try await store.loggedModels.models(inExperiments: experimentIDs)
            .map { (model: $0, fields: LoggedModelSearchFields($0)) }
            .filter { filter.matches($0.fields) }
        let sorted = ordering.sorted(models, by: \.fields)
        let page = try MLflowTrackingController.page(
            sorted, token: body.pageToken, maxResults: maxResults,
            query: "models|\(experimentIDs.joined(separator: ","))|\(body.filter ?? "")|\(orderItems.joined(separator: ","))")
        return try MLflowWire.response(LoggedModelPage(models: page.items.map { WireLoggedModel($0.model) }, nextPageToken: page.next))
    }

    @Sendable func logOutputs(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await MLflowTrackingController.decode(OutputsRequest.self, request, context)
        let runID = try await tracking.activeRun(body.runId, context).runID
        var outputs: [(modelID: String, step: Int64)] = []
        for output in body.models ?? [] {
            // Only a model the caller may see: a run must not link (or probe for) another namespace's models.
            outputs.append((try await tracking.loggedModel(output.modelId, context, requires: .viewer).modelID, output.step?.value ?? 0))
        }
        try await store.loggedModels.recordOutputs(runID: runID, outputs)
        return MLflowWire.empty
    }

    /// The model in the path, if the caller has `required` in its experiment's namespace.
    private func model(_ context: AppRequestContext, requires required: Role) async throws -> LoggedModel {
        try await tracking.loggedModel(try context.parameters.require("model_id"), context, requires: required)
    }

    private func wire(_ id: String) async throws -> WireLoggedModel {
        guard let model = try await store.loggedModels.model(id: id) else { throw MLflowError.notFound("Logged model '\(id)' not found") }
        return WireLoggedModel(model)
    }
}

/// A logged model on the wire: `{info, data: {params, metrics}}`.
struct WireLoggedModel: Encodable {
    struct Info: Encodable {
        var modelId: String
        var experimentId: String
        var name: String
        var creationTimestampMs: Int64
        var lastUpdatedTimestampMs: Int64
        var artifactUri: String
        var status: String
        var statusMessage: String
        var modelType: String
        var sourceRunId: String?
        var tags: [MLflowWire.Tag]
    }
    struct Metric: Encodable {
        var key: String
        var value: WireDouble
        var timestamp: Int64
        var step: Int64
        var runId: String
        var modelId: String
        var datasetName: String?
        var datasetDigest: String?
    }
    struct DataPart: Encodable {
        var params: [MLflowWire.Tag]
        var metrics: [Metric]
    }
    var info: Info
    var data: DataPart

    init(_ model: LoggedModel) {
        info = Info(
            modelId: model.modelID, experimentId: model.experimentID, name: model.name, creationTimestampMs: model.creationTime,
            lastUpdatedTimestampMs: model.lastUpdatedTime, artifactUri: model.artifactURI, status: model.status,
            statusMessage: model.statusMessage, modelType: model.modelType, sourceRunId: model.sourceRunID,
            tags: model.tags.map { MLflowWire.Tag(key: $0.key, value: $0.value) })
        data = DataPart(
            params: model.params.map { MLflowWire.Tag(key: $0.key, value: $0.value) },
            metrics: model.metrics.map { metric in
                Metric(
                    key: metric.point.key, value: WireDouble(metric.point.value), timestamp: metric.point.timestamp, step: metric.point.step,
                    runId: metric.runID, modelId: model.modelID, datasetName: metric.datasetName.isEmpty ? nil : metric.datasetName,
                    datasetDigest: metric.datasetDigest.isEmpty ? nil : metric.datasetDigest)
            })
    }
}

struct LoggedModelPage: Encodable {
    var models: [WireLoggedModel]
    var nextPageToken: String?
}

extension LoggedModelSearchFields {
    init(_ model: LoggedModel) {
        var latest: [String: MetricPoint] = [:]
        for metric in model.metrics {
            if let current = latest[metric.point.key],
                (current.step, current.timestamp) > (metric.point.step, metric.point.timestamp)
            {
                continue
            }
            latest[metric.point.key] = metric.point
        }
        self.init(
            modelID: model.modelID, name: model.name, status: model.status, modelType: model.modelType, sourceRunID: model.sourceRunID ?? "",
            creationTime: model.creationTime, lastUpdatedTime: model.lastUpdatedTime, metrics: latest.mapValues(\.value),
            params: Dictionary(model.params.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }),
            tags: Dictionary(model.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }))
    }
}
