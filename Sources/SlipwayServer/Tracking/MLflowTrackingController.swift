import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayDomain
import SlipwayStore
import SlipwayTracking

/// The MLflow tracking REST API (`/api/2.0/mlflow/…`, also under `/ajax-api/2.0/mlflow`), so the stock
/// `mlflow` client works unchanged with `MLFLOW_TRACKING_URI` pointing at Slipway. Experiments live in
/// projects: a name `namespace/project/experiment` places one; a plain name lands in the `default`
/// namespace's `default` project. Every call checks the caller's role in the experiment's namespace.
struct MLflowTrackingController: Sendable {
    let store: MetadataStore
    let now: @Sendable () -> Date

    /// The namespace and project that experiments with plain names (and the Default experiment "0") live in.
    static let defaultNamespace = "default"
    static let defaultProject = "default"
    static let artifactRoot = "mlflow-artifacts:"

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("experiments/create", use: createExperiment)
        group.get("experiments/get", use: getExperiment)
        group.get("experiments/get-by-name", use: getExperimentByName)
        group.post("experiments/search", use: searchExperiments)
        group.get("experiments/search", use: searchExperiments)
        group.post("experiments/delete", use: deleteExperiment)
        group.post("experiments/restore", use: restoreExperiment)
        group.post("experiments/update", use: updateExperiment)
        group.post("experiments/set-experiment-tag", use: setExperimentTag)
        group.post("experiments/delete-experiment-tag", use: deleteExperimentTag)
        group.post("runs/log-model", use: logModel)
        group.post("runs/create", use: createRun)
        group.get("runs/get", use: getRun)
        group.post("runs/update", use: updateRun)
        group.post("runs/delete", use: deleteRun)
        group.post("runs/restore", use: restoreRun)
        group.post("runs/log-parameter", use: logParameter)
        group.post("runs/log-metric", use: logMetric)
        group.post("runs/log-batch", use: logBatch)
        group.post("runs/set-tag", use: setTag)
        group.post("runs/delete-tag", use: deleteTag)
        group.post("runs/log-inputs", use: logInputs)
        group.post("runs/search", use: searchRuns)
        group.get("metrics/get-history", use: metricHistory)
    }

    // MARK: - Experiments

    @Sendable func createExperiment(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.CreateExperiment.self, request, context)
        guard let name = body.name?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            throw MLflowError.invalid("Missing value for required parameter 'name'")
        }
        guard name.count <= 500, !name.contains("\0") else { throw MLflowError.invalid("an experiment name is at most 500 characters") }
        let caller = try caller(context)
        let project = try await project(forExperimentNamed: name, caller: caller)
        if try await store.tracking.experiment(named: name) != nil {
            throw MLflowError.exists("Experiment '\(name)' already exists.")
        }
        let tags = try Self.keyValues(body.tags, what: "tag")
        do {
            let experiment = try await store.tracking.createExperiment(
                id: nil, name: name, in: project, artifactRoot: Self.artifactRoot, tags: tags, by: caller.auditActor)
            return try MLflowWire.response(["experiment_id": experiment.id])
        } catch let error as StoreError where error.isAlreadyExists {
            throw MLflowError.exists("Experiment '\(name)' already exists.")
        }
    }

    @Sendable func getExperiment(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.ExperimentID.self, request, context)
        let experiment = try await experiment(body.experimentId, context, requires: .viewer)
        return try MLflowWire.response(["experiment": MLflowWire.Experiment(experiment)])
    }

    @Sendable func getExperimentByName(_ request: Request, context: AppRequestContext) async throws -> Response {
        let name = Self.queryValue(request, "experiment_name") ?? ""
        guard !name.isEmpty else { throw MLflowError.invalid("Missing value for required parameter 'experiment_name'") }
        let caller = try caller(context)
        if name == "Default" { try await ensureDefaultExperiment(caller: caller) }
        guard let experiment = try await store.tracking.experiment(named: name), try await role(of: caller, in: experiment) != nil else {
            throw MLflowError.notFound("Could not find experiment with name '\(name)'")
        }
        return try MLflowWire.response(["experiment": MLflowWire.Experiment(experiment)])
    }

    @Sendable func searchExperiments(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.SearchExperiments.self, request, context, lists: ["order_by"])
        let caller = try caller(context)
        let stages = try Self.stages(body.viewType)
        let filter = try Self.parse { try ExperimentFilter.parse(body.filter ?? "") }
        let ordering = try Self.parse { try ExperimentOrdering.parse(body.orderBy ?? []) }
        let maxResults = try Self.maxResults(body.maxResults, default: 1000, limit: 50_000)
        let visible = try await visibleNamespaces(caller)
        var matching = try await store.tracking.experiments(inNamespaces: visible).filter { stages.contains($0.lifecycleStage) }
            .map { (experiment: $0, fields: ExperimentSearchFields($0)) }
            .filter { filter.matches($0.fields) }
        matching = ordering.sorted(matching, by: \.fields)
        let page = try Self.page(
            matching, token: body.pageToken, maxResults: maxResults,
            query: "experiments|\(body.filter ?? "")|\((body.orderBy ?? []).joined(separator: ","))|\(body.viewType ?? "")")
        return try MLflowWire.response(
            ExperimentPage(experiments: page.items.map { MLflowWire.Experiment($0.experiment) }, nextPageToken: page.next))
    }

    @Sendable func deleteExperiment(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await setLifecycle(request, context, .deleted)
    }

    @Sendable func restoreExperiment(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await setLifecycle(request, context, .active)
    }

    private func setLifecycle(_ request: Request, _ context: AppRequestContext, _ stage: LifecycleStage) async throws -> Response {
        let body = try await Self.decode(MLflowWire.ExperimentID.self, request, context)
        let experiment = try await experiment(body.experimentId, context, requires: .developer)
        if experiment.id == "0", stage == .deleted { throw MLflowError.invalid("Cannot delete the default experiment '0'.") }
        try await store.tracking.updateExperiment(id: experiment.id, name: nil, lifecycleStage: stage, by: try caller(context).auditActor)
        return MLflowWire.empty
    }

    @Sendable func updateExperiment(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.UpdateExperiment.self, request, context)
        let experiment = try await experiment(body.experimentId, context, requires: .developer)
        guard let newName = body.newName?.trimmingCharacters(in: .whitespaces), !newName.isEmpty, newName.count <= 500 else {
            throw MLflowError.invalid("Missing value for required parameter 'new_name'")
        }
        let caller = try caller(context)
        let target = try await project(forExperimentNamed: newName, caller: caller)
        guard target.id == experiment.projectID else {
            throw MLflowError.invalid("renaming cannot move an experiment to another project ('\(newName)')")
        }
        try await store.tracking.updateExperiment(id: experiment.id, name: newName, lifecycleStage: nil, by: caller.auditActor)
        return MLflowWire.empty
    }

    @Sendable func setExperimentTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.SetExperimentTag.self, request, context)
        let experiment = try await experiment(body.experimentId, context, requires: .developer)
        let tag = try Self.keyValue(body.key, body.value, what: "tag")
        try await store.tracking.setExperimentTag(id: experiment.id, tag)
        return MLflowWire.empty
    }

    @Sendable func deleteExperimentTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.SetExperimentTag.self, request, context)
        let experiment = try await experiment(body.experimentId, context, requires: .developer)
        let key = try Self.key(body.key, what: "tag")
        guard try await store.tracking.deleteExperimentTag(id: experiment.id, key: key) else {
            throw MLflowError.notFound("No tag with name: \(key) in experiment with id \(experiment.id)")
        }
        return MLflowWire.empty
    }

    // MARK: - Runs

    struct LogModelRequest: Decodable {
        var runId: String?
        var modelJson: String?
    }

    /// MLflow 2's model history: each logged model's description is appended to the run's
    /// `mlflow.log-model.history` tag, a JSON list.
    @Sendable func logModel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(LogModelRequest.self, request, context)
        let runID = try await activeRun(body.runId, context).runID
        guard let json = body.modelJson, let model = try? JSONSerialization.jsonObject(with: Data(json.utf8)), model is [String: Any] else {
            throw MLflowError.invalid("model_json must be a JSON object describing the model")
        }
        var history: [Any] = []
        if let detail = try await store.tracking.run(id: runID),
            let existing = detail.tags.first(where: { $0.key == "mlflow.log-model.history" })?.value,
            let list = try? JSONSerialization.jsonObject(with: Data(existing.utf8)) as? [Any]
        {
            history = list
        }
        history.append(model)
        let value = String(decoding: try JSONSerialization.data(withJSONObject: history, options: [.sortedKeys]), as: UTF8.self)
        try Self.check(value, what: "model history", limit: 1_000_000)
        try await store.tracking.log(runID: runID, metrics: [], params: [], tags: [KeyValue(key: "mlflow.log-model.history", value: value)])
        return MLflowWire.empty
    }

    @Sendable func createRun(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.CreateRun.self, request, context)
        let caller = try caller(context)
        let experimentID = body.experimentId ?? "0"
        if experimentID == "0" { try await ensureDefaultExperiment(caller: caller) }
        let experiment: Experiment
        do {
            experiment = try await self.experiment(experimentID, context, requires: .developer)
        } catch let error as MLflowError where error.code == "RESOURCE_DOES_NOT_EXIST" && experimentID == "0" {
            throw MLflowError.notFound(
                "No Experiment with id=0 exists for you: MLflow's Default experiment lives in the '\(Self.defaultNamespace)' namespace, which you are not a member of. Name an experiment (mlflow.set_experiment(\"namespace/project/name\")) or ask an administrator to add you to '\(Self.defaultNamespace)'."
            )
        }
        guard experiment.lifecycleStage == .active else {
            throw MLflowError.invalid("The experiment \(experiment.id) must be in the 'active' state to create runs in it.")
        }
        var tags = try Self.keyValues(body.tags, what: "tag")
        let runID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let name = body.runName ?? tags.first { $0.key == "mlflow.runName" }?.value ?? Self.generatedRunName(runID)
        if !tags.contains(where: { $0.key == "mlflow.runName" }) { tags.append(KeyValue(key: "mlflow.runName", value: name)) }
        if !tags.contains(where: { $0.key == "mlflow.user" }) {
            tags.append(KeyValue(key: "mlflow.user", value: caller.user.username.value))
        }
        let info = RunInfo(
            runID: runID, experimentID: experiment.id, name: name, userID: caller.user.username.value, status: .running,
            startTime: body.startTime?.value ?? Self.millis(now()), endTime: nil,
            artifactURI: "\(experiment.artifactLocation)/\(runID)/artifacts", lifecycleStage: .active)
        try await store.tracking.createRun(info, tags: tags)
        guard let detail = try await store.tracking.run(id: runID) else { throw MLflowError.notFound("Run '\(runID)' not found") }
        return MLflowJSONWriter.response(MLflowJSONWriter.runJSON(detail))
    }

    @Sendable func getRun(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.RunID.self, request, context)
        let (info, _) = try await run(body.id, context, requires: .viewer)
        guard let detail = try await store.tracking.run(id: info.runID) else { throw MLflowError.notFound("Run with id=\(info.runID) not found") }
        return MLflowJSONWriter.response(MLflowJSONWriter.runJSON(detail))
    }

    @Sendable func updateRun(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.UpdateRun.self, request, context)
        let (info, _) = try await run(body.runId ?? body.runUuid, context, requires: .developer)
        let status = try body.status.map { text in
            guard let status = RunStatus(rawValue: text) else {
                throw MLflowError.invalid(
                    "Invalid value '\(text.prefix(40))' for parameter 'status': one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED")
            }
            return status
        }
        if let name = body.runName { try Self.check(name, what: "run name", limit: 250) }
        try await store.tracking.updateRun(id: info.runID, status: status, endTime: body.endTime?.value, name: body.runName)
        guard let updated = try await store.tracking.runInfo(id: info.runID) else { throw MLflowError.notFound("run vanished") }
        return try MLflowWire.response(["run_info": MLflowWire.RunInfo(updated)])
    }

    @Sendable func deleteRun(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.RunID.self, request, context)
        let (info, _) = try await run(body.id, context, requires: .developer)
        try await store.tracking.setRunLifecycle(id: info.runID, .deleted)
        return MLflowWire.empty
    }

    @Sendable func restoreRun(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.RunID.self, request, context)
        let (info, _) = try await run(body.id, context, requires: .developer)
        try await store.tracking.setRunLifecycle(id: info.runID, .active)
        return MLflowWire.empty
    }

    @Sendable func logParameter(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.LogParam.self, request, context)
        let runID = try await activeRun(body.runId ?? body.runUuid, context).runID
        try await log(runID, metrics: [], params: [try Self.keyValue(body.key, body.value, what: "param", valueLimit: 6000)], tags: [])
        return MLflowWire.empty
    }

    @Sendable func logMetric(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.LogMetric.self, request, context)
        let runID = try await activeRun(body.runId ?? body.runUuid, context).runID
        guard let value = body.value else { throw MLflowError.invalid("Missing value for required parameter 'value'") }
        guard let timestamp = body.timestamp else { throw MLflowError.invalid("Missing value for required parameter 'timestamp'") }
        let key = try Self.key(body.key, what: "metric")
        try await log(
            runID, metrics: [MetricPoint(key: key, value: value.value, timestamp: timestamp.value, step: body.step?.value ?? 0)], params: [], tags: []
        )
        return MLflowWire.empty
    }

    @Sendable func logBatch(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.LogBatch.self, request, context)
        let run = try await activeRun(body.runId, context)
        let runID = run.runID
        let metrics = body.metrics ?? []
        let params = body.params ?? []
        let tags = body.tags ?? []
        guard metrics.count <= 1000, params.count <= 100, tags.count <= 100, metrics.count + params.count + tags.count <= 1000 else {
            throw MLflowError.invalid("A batch logging request can contain at most 1000 metrics, 100 params and 100 tags, 1000 in all")
        }
        let points = try metrics.map { metric in
            guard let timestamp = metric.timestamp else { throw MLflowError.invalid("metric '\(metric.key)' has no timestamp") }
            return MetricPoint(
                key: try Self.key(metric.key, what: "metric"), value: metric.value.value, timestamp: timestamp.value, step: metric.step?.value ?? 0)
        }
        var modelMetrics: [(modelID: String, metric: LoggedModelMetric)] = []
        for (metric, point) in zip(metrics, points) {
            guard let modelID = metric.modelId, !modelID.isEmpty else { continue }
            guard let model = try await store.loggedModels.model(id: modelID), model.experimentID == run.experimentID else {
                throw MLflowError.notFound("Logged model with ID '\(modelID.prefix(80))' not found in the run's experiment")
            }
            modelMetrics.append(
                (
                    model.modelID,
                    LoggedModelMetric(point: point, runID: runID, datasetName: metric.datasetName ?? "", datasetDigest: metric.datasetDigest ?? "")
                ))
        }
        try await log(
            runID, metrics: points, params: try params.map { try Self.keyValue($0.key, $0.value, what: "param", valueLimit: 6000) },
            tags: try Self.keyValues(tags, what: "tag"))
        try await store.loggedModels.logMetrics(modelMetrics)
        return MLflowWire.empty
    }

    @Sendable func setTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.SetTag.self, request, context)
        let (info, _) = try await run(body.runId ?? body.runUuid, context, requires: .developer)
        let tag = try Self.keyValue(body.key, body.value, what: "tag")
        try await store.tracking.log(runID: info.runID, metrics: [], params: [], tags: [tag])
        if tag.key == "mlflow.runName" { try await store.tracking.updateRun(id: info.runID, status: nil, endTime: nil, name: tag.value) }
        return MLflowWire.empty
    }

    @Sendable func deleteTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.DeleteTag.self, request, context)
        let (info, _) = try await run(body.runId, context, requires: .developer)
        let key = try Self.key(body.key, what: "tag")
        guard try await store.tracking.deleteTag(runID: info.runID, key: key) else {
            throw MLflowError.notFound("No tag with name: \(key) in run with id \(info.runID)")
        }
        return MLflowWire.empty
    }

    @Sendable func logInputs(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.LogInputs.self, request, context)
        let runID = try await activeRun(body.runId, context).runID
        let inputs = try (body.datasets ?? []).map { input in
            let dataset = input.dataset
            try Self.check(dataset.name, what: "dataset name", limit: 500)
            try Self.check(dataset.digest, what: "dataset digest", limit: 36)
            return RunDatasetInput(
                name: dataset.name, digest: dataset.digest, sourceType: dataset.sourceType, source: dataset.source, schema: dataset.schema,
                profile: dataset.profile, tags: try Self.keyValues(input.tags, what: "input tag"))
        }
        // MLflow 3's model inputs: each must be a logged model the caller can see.
        var models: [String] = []
        for input in body.models ?? [] {
            guard let id = input.modelId, !id.isEmpty else { throw MLflowError.invalid("Missing value for required parameter 'model_id'") }
            models.append(try await loggedModel(id, context, requires: .viewer).modelID)
        }
        try await store.tracking.logInputs(runID: runID, inputs, models: models)
        return MLflowWire.empty
    }

    @Sendable func searchRuns(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await Self.decode(MLflowWire.SearchRuns.self, request, context, lists: ["experiment_ids", "order_by"])
        let caller = try caller(context)
        let stages = try Self.stages(body.runViewType)
        let filter = try Self.parse { try RunFilter.parse(body.filter ?? "") }
        let ordering = try Self.parse { try RunOrdering.parse(body.orderBy ?? []) }
        let maxResults = try Self.maxResults(body.maxResults, default: 1000, limit: 50_000)
        var experimentIDs: [String] = []
        for id in body.experimentIds ?? [] {
            guard let experiment = try await store.tracking.experiment(id: id), try await role(of: caller, in: experiment) != nil else {
                throw MLflowError.notFound("No Experiment with id=\(id.prefix(40)) exists")
            }
            experimentIDs.append(experiment.id)
        }
        // Filter and order over just the values they read, then load the returned page in full.
        let keys = filter.keys.union(ordering.keys)
        func names(_ kind: SearchKey.Kind) -> Set<String> { Set(keys.filter { $0.kind == kind }.map(\.name)) }
        let selection = RunFieldSelection(
            metrics: names(.metric), params: names(.param), tags: names(.tag), inputs: keys.contains { $0.kind == .dataset })
        var matching = try await store.tracking.runs(inExperiments: experimentIDs, lifecycle: stages, selecting: selection)
            .map { (runID: $0.info.runID, fields: RunSearchFields($0)) }
            .filter { filter.matches($0.fields) }
        matching = ordering.sorted(matching, by: \.fields)
        let page = try Self.page(
            matching, token: body.pageToken, maxResults: maxResults,
            query:
                "runs|\(experimentIDs.joined(separator: ","))|\(body.filter ?? "")|\((body.orderBy ?? []).joined(separator: ","))|\(body.runViewType ?? "")"
        )
        let ids = page.items.map(\.runID)
        var details: [String: RunDetail] = [:]
        for detail in try await store.tracking.runs(ids: ids) { details[detail.info.runID] = detail }
        return MLflowJSONWriter.response(MLflowJSONWriter.runPageJSON(ids.compactMap { details[$0] }, nextPageToken: page.next))
    }

    @Sendable func metricHistory(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = FormQuery(request)
        let runID = query["run_id"] ?? query["run_uuid"]
        let (info, _) = try await run(runID, context, requires: .viewer)
        let key = try Self.key(query["metric_key"], what: "metric")
        let maxResults = try Self.maxResults(
            query["max_results"].flatMap { Int64($0) }.map(WireInt.init), default: 25_000, limit: 25_000)
        let history = try await store.tracking.metricHistory(runID: info.runID, key: key)
        let page = try Self.page(
            history, token: query["page_token"], maxResults: maxResults,
            query: "history|\(info.runID)|\(key)")
        return MLflowJSONWriter.response(MLflowJSONWriter.metricPageJSON(page.items, nextPageToken: page.next))
    }

    // MARK: - Access

    func caller(_ context: AppRequestContext) throws -> Caller {
        guard let caller = context.caller else { throw MLflowError.unauthenticated("sign in first") }
        return caller
    }

    func role(of caller: Caller, in experiment: Experiment) async throws -> Role? {
        try await caller.role(in: experiment.namespaceID, store: store)
    }

    /// The experiment, if the caller may see it, with the role `required`. Non-members learn nothing: 404.
    /// The logged model `id`, if the caller has `required` in its experiment's namespace; otherwise, and when there is
    /// no such model, `RESOURCE_DOES_NOT_EXIST` (an outsider learns nothing of other namespaces' models).
    func loggedModel(_ id: String, _ context: AppRequestContext, requires required: Role) async throws -> LoggedModel {
        let missing = MLflowError.notFound("Logged model with ID '\(id.prefix(80))' not found")
        guard id.utf8.count <= 64, let model = try await store.loggedModels.model(id: id) else { throw missing }
        do {
            _ = try await experiment(model.experimentID, context, requires: required)
        } catch let error as MLflowError where error.code == "RESOURCE_DOES_NOT_EXIST" {
            throw missing
        }
        return model
    }

    func experiment(_ id: String?, _ context: AppRequestContext, requires required: Role) async throws -> Experiment {
        guard let id, !id.isEmpty else { throw MLflowError.invalid("Missing value for required parameter 'experiment_id'") }
        let caller = try caller(context)
        guard let experiment = try await store.tracking.experiment(id: id), let role = try await role(of: caller, in: experiment) else {
            throw MLflowError.notFound("No Experiment with id=\(id.prefix(40)) exists")
        }
        guard role.includes(required) else {
            throw MLflowError.denied("your role in the experiment's namespace is \(role); this needs \(required) or higher")
        }
        return experiment
    }

    /// The run (its own row, not what is logged to it) and its experiment, if the caller has `required` there.
    /// Non-members learn nothing: 404.
    func run(_ id: String?, _ context: AppRequestContext, requires required: Role) async throws -> (RunInfo, Experiment) {
        guard let id, !id.isEmpty else { throw MLflowError.invalid("Missing value for required parameter 'run_id'") }
        guard id.count <= 64, let info = try await store.tracking.runInfo(id: id) else {
            throw MLflowError.notFound("Run with id=\(id.prefix(64)) not found")
        }
        do {
            return (info, try await experiment(info.experimentID, context, requires: required))
        } catch let error as MLflowError where error.code == "RESOURCE_DOES_NOT_EXIST" {
            throw MLflowError.notFound("Run with id=\(id) not found")
        }
    }

    /// A run that may be written to: active, and the caller a developer.
    func activeRun(_ id: String?, _ context: AppRequestContext) async throws -> RunInfo {
        let (info, _) = try await run(id, context, requires: .developer)
        guard info.lifecycleStage == .active else {
            throw MLflowError.invalid("The run \(info.runID) must be in the 'active' state. Current state is deleted.")
        }
        return info
    }

    private func log(_ runID: String, metrics: [MetricPoint], params: [KeyValue], tags: [KeyValue]) async throws {
        do {
            try await store.tracking.log(runID: runID, metrics: metrics, params: params, tags: tags)
        } catch let error as StoreError where error.code == "param_changed" {
            throw MLflowError.invalid(error.description)
        }
    }

    /// Namespaces whose experiments the caller sees (`nil`: all, for administrators).
    private func visibleNamespaces(_ caller: Caller) async throws -> [UUID]? {
        try await caller.visibleNamespaces(store: store)
    }

    /// Where an experiment called `name` lives: `namespace/project/experiment` names its project; any other name
    /// lands in the default project. The caller must be a developer there.
    func project(forExperimentNamed name: String, caller: Caller) async throws -> Project {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let (namespaceName, projectName) =
            parts.count == 3 && parts.allSatisfy({ !$0.isEmpty }) ? (parts[0], parts[1]) : (Self.defaultNamespace, Self.defaultProject)
        if namespaceName == Self.defaultNamespace, projectName == Self.defaultProject {
            try await ensureDefaultProject(caller: caller)
        }
        guard let namespace = try await store.namespaces.namespace(named: namespaceName) else {
            throw MLflowError.notFound("namespace '\(namespaceName)' does not exist (experiment names of the form namespace/project/name place them)")
        }
        let role = try await caller.role(in: namespace.id, store: store)
        guard let role else { throw MLflowError.notFound("namespace '\(namespaceName)' does not exist") }
        guard role.includes(.developer) else {
            throw MLflowError.denied("your role in namespace '\(namespaceName)' is \(role); creating experiments needs developer or higher")
        }
        guard let project = try await store.projects.project(named: projectName, in: namespace) else {
            throw MLflowError.notFound("project '\(namespaceName)/\(projectName)' does not exist")
        }
        return project
    }

    /// Creates the `default` namespace and project on first use. Only an administrator may create the
    /// namespace; once it exists, its developers (and higher) may have the default project made in it.
    /// - Throws: PERMISSION_DENIED when there is no default namespace and the caller is not an administrator,
    ///   or the caller's role there is below developer; RESOURCE_DOES_NOT_EXIST for a non-member.
    @discardableResult
    private func ensureDefaultProject(caller: Caller) async throws -> Project {
        let namespace: Namespace
        if let existing = try await store.namespaces.namespace(named: Self.defaultNamespace) {
            namespace = existing
            guard let role = try await caller.role(in: existing.id, store: store) else {
                throw MLflowError.notFound("namespace '\(Self.defaultNamespace)' does not exist")
            }
            guard role.includes(.developer) else {
                throw MLflowError.denied(
                    "your role in namespace '\(Self.defaultNamespace)' is \(role); creating experiments needs developer or higher")
            }
        } else {
            guard caller.user.isAdmin else {
                throw MLflowError.denied(
                    "there is no default namespace yet; ask an administrator, or name the experiment namespace/project/experiment")
            }
            do {
                namespace = try await store.namespaces.create(
                    name: try ResourceName(validating: Self.defaultNamespace), displayName: "Default",
                    description: "Where MLflow experiments with plain names live", owner: caller.user.id, by: caller.auditActor)
            } catch let error as StoreError where error.isAlreadyExists {
                guard let raced = try await store.namespaces.namespace(named: Self.defaultNamespace) else { throw error }
                namespace = raced
            }
        }
        if let project = try await store.projects.project(named: Self.defaultProject, in: namespace) { return project }
        do {
            return try await store.projects.create(
                in: namespace, name: try ResourceName(validating: Self.defaultProject), description: "MLflow experiments with plain names",
                by: caller.auditActor)
        } catch let error as StoreError where error.isAlreadyExists {
            guard let project = try await store.projects.project(named: Self.defaultProject, in: namespace) else { throw error }
            return project
        }
    }

    /// MLflow's Default experiment, id "0", which clients use when they name none: made on first use by a
    /// caller who may create experiments in the default project. For anyone else nothing is made, and the
    /// lookup that follows answers as for any experiment they cannot see (RESOURCE_DOES_NOT_EXIST).
    private func ensureDefaultExperiment(caller: Caller) async throws {
        if try await store.tracking.experiment(id: "0") != nil { return }
        let project: Project
        do {
            project = try await ensureDefaultProject(caller: caller)
        } catch let error as MLflowError where error.code == "PERMISSION_DENIED" || error.code == "RESOURCE_DOES_NOT_EXIST" {
            return
        }
        do {
            _ = try await store.tracking.createExperiment(
                id: 0, name: "Default", in: project, artifactRoot: Self.artifactRoot, tags: [], by: caller.auditActor)
        } catch let error as StoreError where error.isAlreadyExists {
            // Created meanwhile by another request.
        }
    }

    // MARK: - Request helpers

    /// Decodes a request: a GET's query string (repeated keys for `lists`), or a JSON body.
    static func decode<T: Decodable>(
        _ type: T.Type, _ request: Request, _ context: AppRequestContext, lists: Set<String> = []
    ) async throws -> T {
        var data: Data
        if request.method == .get {
            var object: [String: Any] = [:]
            for (key, value) in formQuery(request) {
                if lists.contains(key) {
                    object[key] = ((object[key] as? [String]) ?? []) + [value]
                } else {
                    object[key] = value
                }
            }
            data = try JSONSerialization.data(withJSONObject: object)
        } else {
            let buffer = try await request.body.collect(upTo: context.maxBodyBytes)
            data = Data(buffer.readableBytesView)
            if !data.contains(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x0d && $0 != 0x09 }) { data = Data("{}".utf8) }
        }
        do {
            // Types that spell their snake_case keys out skip the key conversion, which costs on large bodies.
            let decoder = T.self is any MLflowWireKeyed.Type ? MLflowWire.keyedDecoder : MLflowWire.decoder()
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw MLflowError.invalid("the request is not valid: \(Self.describe(error))")
        }
    }

    /// The query string, form-decoded (``FormQuery``).
    static func formQuery(_ request: Request) -> [(String, String)] { FormQuery(request).pairs }

    /// One query parameter, form-decoded.
    static func queryValue(_ request: Request, _ name: String) -> String? {
        FormQuery(request)[name]
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let at = path(context.codingPath)
            return (at.isEmpty ? "" : "'\(at)': ") + context.debugDescription
        case .keyNotFound(let key, _): return "missing '\(key.stringValue)'"
        @unknown default: return "malformed JSON"
        }
    }

    static func parse<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SearchSyntaxError { throw MLflowError.invalid(error.description) }
    }

    static func stages(_ viewType: String?) throws -> [LifecycleStage] {
        switch viewType ?? "ACTIVE_ONLY" {
        case "ACTIVE_ONLY", "1": return [.active]
        case "DELETED_ONLY", "2": return [.deleted]
        case "ALL", "3": return [.active, .deleted]
        default: throw MLflowError.invalid("Invalid view type '\(viewType!.prefix(40))': ACTIVE_ONLY, DELETED_ONLY or ALL")
        }
    }

    static func maxResults(_ value: WireInt?, default defaultValue: Int, limit: Int) throws -> Int {
        guard let value = value?.value else { return defaultValue }
        guard value >= 1, value <= Int64(limit) else {
            throw MLflowError.invalid("Invalid value \(value) for parameter 'max_results' supplied. It must be between 1 and \(limit)")
        }
        return Int(value)
    }

    static func page<T>(_ items: [T], token: String?, maxResults: Int, query: String) throws -> (items: ArraySlice<T>, next: String?) {
        var offset = 0
        if let token, !token.isEmpty { offset = try parse { try PageToken.decode(token, query: query).offset } }
        let end = min(items.count, offset + maxResults)
        let slice = offset < items.count ? items[offset..<end] : []
        return (slice, end < items.count ? PageToken(offset: end, query: query).encoded : nil)
    }

    static func key(_ key: String?, what: String) throws -> String {
        guard let key, !key.isEmpty else { throw MLflowError.invalid("Missing value for required parameter 'key' (the \(what)'s name)") }
        try check(key, what: "\(what) name", limit: 250)
        guard !key.hasPrefix("/"), !key.utf8.contains(UInt8(ascii: ".")) || !key.split(separator: "/").contains("..") else {
            throw MLflowError.invalid("Invalid \(what) name: '\(key.prefix(80))'. Names may not be absolute paths or contain '..'")
        }
        return key
    }

    static func keyValue(_ key: String?, _ value: String?, what: String, valueLimit: Int = 8000) throws -> KeyValue {
        let key = try Self.key(key, what: what)
        let value = value ?? ""
        try check(value, what: "\(what) '\(key)' value", limit: valueLimit)
        return KeyValue(key: key, value: value)
    }

    /// The most key/value pairs one request may set (MLflow's own log-batch limit is 100 tags): the store writes them in
    /// one statement, and a database bounds how many values one statement binds.
    static let keyValueLimit = 1000

    static func keyValues(_ tags: [MLflowWire.Tag]?, what: String) throws -> [KeyValue] {
        guard (tags?.count ?? 0) <= keyValueLimit else {
            throw MLflowError.invalid("a request sets at most \(keyValueLimit) \(what)s, not \(tags!.count)")
        }
        return try (tags ?? []).map { try keyValue($0.key, $0.value, what: what) }
    }

    static func check(_ text: String, what: String, limit: Int) throws {
        // Counting bytes is cheap and bounds the characters; only a long text needs its characters counted.
        guard text.utf8.count <= limit || text.count <= limit else {
            throw MLflowError.invalid("the \(what) is longer than \(limit) characters")
        }
        guard !text.utf8.contains(0) else { throw MLflowError.invalid("the \(what) contains a NUL character") }
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// A readable default run name, as MLflow gives (`brave-owl-7`), derived from the run id.
    static func generatedRunName(_ runID: String) -> String {
        let adjectives = [
            "able", "bold", "brave", "calm", "clever", "eager", "fair", "gentle", "keen", "lively", "proud", "quick", "sharp", "swift", "wise",
        ]
        let animals = ["ant", "bee", "cat", "crab", "deer", "dove", "fox", "hare", "hawk", "lynx", "mole", "owl", "seal", "wolf", "yak"]
        let bytes = Array(runID.utf8)
        let a = Int(bytes.prefix(8).reduce(0) { ($0 &* 31 &+ Int($1)) & 0xffff }) % adjectives.count
        let b = Int(bytes.dropFirst(8).prefix(8).reduce(0) { ($0 &* 31 &+ Int($1)) & 0xffff }) % animals.count
        return "\(adjectives[a])-\(animals[b])-\(Int(bytes.suffix(4).reduce(0) { ($0 &+ Int($1)) }) % 1000)"
    }
}

struct ExperimentPage: Encodable {
    var experiments: [MLflowWire.Experiment]
    var nextPageToken: String?
}

extension ExperimentSearchFields {
    init(_ experiment: Experiment) {
        self.init(
            experimentID: experiment.id, name: experiment.name, creationTime: experiment.creationTime, lastUpdateTime: experiment.lastUpdateTime,
            lifecycleStage: experiment.lifecycleStage.rawValue, tags: Dictionary(experiment.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        )
    }
}

extension RunSearchFields {
    init(_ detail: RunDetail) {
        self.init(
            runID: detail.info.runID, runName: detail.info.name, experimentID: detail.info.experimentID, status: detail.info.status.rawValue,
            startTime: detail.info.startTime, endTime: detail.info.endTime, artifactURI: detail.info.artifactURI, userID: detail.info.userID,
            lifecycleStage: detail.info.lifecycleStage.rawValue,
            metrics: Dictionary(detail.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }),
            params: Dictionary(detail.params.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }),
            tags: Dictionary(detail.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }),
            datasets: detail.inputs.map { input in
                DatasetInputFields(name: input.name, digest: input.digest, context: input.tags.first { $0.key == "mlflow.data.context" }?.value)
            })
    }
}
