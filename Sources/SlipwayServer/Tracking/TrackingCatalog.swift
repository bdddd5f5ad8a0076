import Foundation
import SlipwayDomain
import SlipwayStore
import SlipwayTracking

/// Reads experiments, runs and registered models for Slipway's own API and the web UI, with the caller's
/// rights applied, and assembles the lineage between them: a model version knows its run, a run knows its
/// dataset versions, code and the model versions it produced.
///
/// What a caller may not see answers 404, exactly like what does not exist. Administrators see everything.
struct TrackingCatalog: Sendable {
    let store: MetadataStore

    /// Namespace and project names by id, filled as items are placed.
    struct PlaceNames: Sendable {
        fileprivate var namespaces: [UUID: Namespace] = [:]
        fileprivate var projects: [UUID: String] = [:]
        fileprivate var loaded = false
    }

    // MARK: - Access

    func role(of caller: Caller, in namespaceID: UUID) async throws -> Role? {
        try await caller.role(in: namespaceID, store: store)
    }

    /// Namespaces whose experiments and models the caller sees (`nil`: all, for administrators).
    func visibleNamespaces(_ caller: Caller) async throws -> [UUID]? {
        try await caller.visibleNamespaces(store: store)
    }

    /// The namespace and project names of an item.
    func place(_ namespaceID: UUID, _ projectID: UUID, names: inout PlaceNames) async throws -> TrackingPlace {
        if !names.loaded {
            for (namespace, _) in try await store.namespaces.list(memberID: nil) { names.namespaces[namespace.id] = namespace }
            names.loaded = true
        }
        guard let namespace = names.namespaces[namespaceID] else { return TrackingPlace(namespace: "?", project: "?") }
        if names.projects[projectID] == nil {
            for project in try await store.projects.list(in: namespace) { names.projects[project.id] = project.name.value }
        }
        return TrackingPlace(namespace: namespace.name.value, project: names.projects[projectID] ?? "?")
    }

    /// The experiment `id`, if the caller may see it.
    func experiment(_ id: String, caller: Caller) async throws -> Experiment {
        guard id.count <= 40, let experiment = try await store.tracking.experiment(id: id),
            try await role(of: caller, in: experiment.namespaceID) != nil
        else { throw APIError.notFound("experiment '\(id.prefix(40))' does not exist") }
        return experiment
    }

    /// The run `id` and its experiment, if the caller may see them.
    func run(_ id: String, caller: Caller) async throws -> (RunDetail, Experiment) {
        guard id.count <= 64, let detail = try await store.tracking.run(id: id),
            let experiment = try await store.tracking.experiment(id: detail.info.experimentID),
            try await role(of: caller, in: experiment.namespaceID) != nil
        else { throw APIError.notFound("run '\(id.prefix(64))' does not exist") }
        return (detail, experiment)
    }

    /// The registered model `name`, if the caller may see it.
    func model(_ name: String, caller: Caller) async throws -> RegisteredModel {
        guard name.count <= 500, let model = try await store.registry.model(named: name),
            try await role(of: caller, in: model.namespaceID) != nil
        else { throw APIError.notFound("model '\(name.prefix(200))' does not exist") }
        return model
    }

    // MARK: - Experiments and runs

    func summary(_ experiment: Experiment, names: inout PlaceNames) async throws -> ExperimentSummary {
        let place = try await place(experiment.namespaceID, experiment.projectID, names: &names)
        return ExperimentSummary(
            id: experiment.id, name: experiment.name, namespace: place.namespace, project: place.project,
            lifecycleStage: experiment.lifecycleStage.rawValue, creationTime: experiment.creationTime,
            lastUpdateTime: experiment.lastUpdateTime, tags: Self.dictionary(experiment.tags))
    }

    /// Which runs to show: MLflow's view types, spelled as Slipway's query values.
    enum RunSelection: String, Sendable, CaseIterable {
        case active = "active_only"
        case deleted = "deleted_only"
        case all

        var stages: [LifecycleStage] {
            switch self {
            case .active: [.active]
            case .deleted: [.deleted]
            case .all: [.active, .deleted]
            }
        }
    }

    /// The runs of `experiment` matching MLflow's filter grammar, in `orderBy` order.
    /// - Throws: 400 `invalid_filter` for a filter or ordering that does not parse.
    func runs(of experiment: Experiment, filter: String, orderBy: [String], view: RunSelection) async throws -> [RunDetail] {
        let parsedFilter: RunFilter
        let ordering: RunOrdering
        do {
            parsedFilter = try RunFilter.parse(filter)
            ordering = try RunOrdering.parse(orderBy)
        } catch let error as SearchSyntaxError {
            throw APIError.badRequest("invalid_filter", error.description)
        }
        let matching = try await store.tracking.runs(inExperiments: [experiment.id], lifecycle: view.stages)
            .map { (detail: $0, fields: RunSearchFields($0)) }
            .filter { parsedFilter.matches($0.fields) }
        return ordering.sorted(matching, by: \.fields).map(\.detail)
    }

    static func summary(_ detail: RunDetail) -> RunSummary {
        let tags = dictionary(detail.tags)
        return RunSummary(
            id: detail.info.runID, name: detail.info.name, experimentId: detail.info.experimentID, status: detail.info.status.rawValue,
            lifecycleStage: detail.info.lifecycleStage.rawValue, user: detail.info.userID, startTime: detail.info.startTime,
            endTime: detail.info.endTime, parentRunId: tags["mlflow.parentRunId"], params: dictionary(detail.params),
            metrics: detail.metrics.sorted { $0.key < $1.key }.map {
                MetricSummary(key: $0.key, value: WireDouble($0.value), step: $0.step, timestamp: $0.timestamp)
            },
            tags: tags)
    }

    /// A run with its lineage: the dataset versions it used, its code, its children, the models it logged
    /// and the model versions registered from it.
    func view(_ detail: RunDetail, experiment: Experiment, caller: Caller) async throws -> RunView {
        var names = PlaceNames()
        let tags = Self.dictionary(detail.tags)
        let children = try await store.tracking.runs(inExperiments: [experiment.id], lifecycle: [.active, .deleted])
            .filter { child in child.tags.contains { $0.key == "mlflow.parentRunId" && $0.value == detail.info.runID } }
            .map(\.info.runID)
        let logged = try await store.loggedModels.models(inExperiments: [experiment.id]).filter { $0.sourceRunID == detail.info.runID }
        let versions = try await store.registry.versions(fromRuns: [detail.info.runID])
        return RunView(
            run: Self.summary(detail), experiment: try await summary(experiment, names: &names),
            inputs: try await inputs(detail, caller: caller),
            code: RunCodeView(
                sourceName: tags["mlflow.source.name"], gitCommit: tags["mlflow.source.git.commit"],
                gitRepository: tags["mlflow.source.git.repoURL"], snapshotDigest: tags["slipway.code.digest"]),
            childRunIds: children, loggedModels: logged.map { LoggedModelRef(id: $0.modelID, name: $0.name, status: $0.status) },
            modelVersions: versions.map { ModelVersionRef(name: $0.name, version: $0.version, stage: $0.stage.rawValue, approved: $0.approved) },
            job: tags["slipway.job"])
    }

    /// A run's dataset inputs, each Slipway dataset version resolved to its place when the caller may read it.
    func inputs(_ detail: RunDetail, caller: Caller) async throws -> [RunInputView] {
        var views: [RunInputView] = []
        for input in detail.inputs {
            var reference: RunInputView.DatasetVersionRef?
            if input.sourceType == DatasetLineage.sourceType { reference = try await datasetVersion(input.source, caller: caller) }
            views.append(
                RunInputView(
                    name: input.name, digest: input.digest, sourceType: input.sourceType, source: input.source,
                    context: input.tags.first { $0.key == "mlflow.data.context" }?.value, dataset: reference))
        }
        return views
    }

    /// `NAMESPACE/PROJECT/DATASET@VERSION`, when that dataset exists and the caller may read it.
    private func datasetVersion(_ source: String, caller: Caller) async throws -> RunInputView.DatasetVersionRef? {
        guard let at = source.lastIndex(of: "@"), let number = Int(source[source.index(after: at)...]) else { return nil }
        let parts = source[..<at].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let namespace = try await store.namespaces.namespace(named: parts[0]),
            let project = try await store.projects.project(named: parts[1], in: namespace),
            let dataset = try await store.datasets.dataset(named: parts[2], in: project)
        else { return nil }
        let namespaceRole = try await role(of: caller, in: namespace.id)
        guard
            try await AccessPolicy(store: store).datasetRole(caller, visibility: dataset.visibility, in: project, namespaceRole: namespaceRole) != nil
        else { return nil }
        return RunInputView.DatasetVersionRef(namespace: parts[0], project: parts[1], dataset: parts[2], version: number)
    }

    // MARK: - Registry

    func summary(_ model: RegisteredModel, latest: Int?, names: inout PlaceNames) async throws -> ModelSummary {
        let place = try await place(model.namespaceID, model.projectID, names: &names)
        return ModelSummary(
            name: model.name, namespace: place.namespace, project: place.project, description: model.description, latestVersion: latest,
            aliases: model.aliases, tags: Self.dictionary(model.tags), creationTime: model.creationTime,
            lastUpdatedTime: model.lastUpdatedTime)
    }

    /// The registered models the caller sees, optionally only one project's, with their latest version numbers.
    func models(caller: Caller, in project: Project? = nil) async throws -> [ModelSummary] {
        let namespaces: [UUID]? = if let project { [project.namespaceID] } else { try await visibleNamespaces(caller) }
        var models = try await store.registry.models(inNamespaces: namespaces)
        if let project { models = models.filter { $0.projectID == project.id } }
        var latest: [String: Int] = [:]
        for version in try await store.registry.allVersions(inNamespaces: namespaces) {
            latest[version.name] = max(latest[version.name] ?? 0, version.version)
        }
        var names = PlaceNames()
        var summaries: [ModelSummary] = []
        for model in models.sorted(by: { $0.name < $1.name }) {
            summaries.append(try await summary(model, latest: latest[model.name], names: &names))
        }
        return summaries
    }

    /// A model version with its lineage: the run it came from (when the caller may see it) and that run's datasets.
    func view(_ version: ModelVersion, of model: RegisteredModel, caller: Caller, withLineage: Bool) async throws -> ModelVersionView {
        var view = ModelVersionView(
            name: version.name, version: version.version, stage: version.stage.rawValue, approved: version.approved,
            description: version.description, user: version.userID, source: version.source, storageLocation: version.storageLocation,
            aliases: model.aliases.filter { $0.value == version.version }.map(\.key).sorted(), tags: Self.dictionary(version.tags),
            creationTime: version.creationTime, lastUpdatedTime: version.lastUpdatedTime, runId: version.runID,
            loggedModelId: version.modelID, run: nil, experiment: nil, inputs: [])
        if withLineage, let runID = version.runID, let (detail, experiment) = try? await run(runID, caller: caller) {
            var names = PlaceNames()
            view.run = Self.summary(detail)
            view.experiment = try await summary(experiment, names: &names)
            view.inputs = try await inputs(detail, caller: caller)
        }
        return view
    }

    // MARK: - Artifacts

    /// The artifact-store path of a run's artifact root: `mlflow-artifacts:/5/<run>/artifacts` → `5/<run>/artifacts`.
    static func artifactRoot(_ info: RunInfo) -> String {
        String(info.artifactURI.dropFirst(MLflowTrackingController.artifactRoot.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    /// Checks a path inside a run's artifacts: relative, no `..`, `.`, empty parts, NUL or backslashes.
    /// - Throws: 400 `invalid_path`.
    static func artifactPath(_ path: String) throws -> String {
        let trimmed = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if trimmed.isEmpty { return "" }
        guard trimmed.utf8.count <= ArtifactFile.maximumPathBytes else {
            throw APIError.badRequest("invalid_path", "an artifact path is at most \(ArtifactFile.maximumPathBytes) bytes (UTF-8)")
        }
        guard
            trimmed.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({
                !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") && !$0.contains("\\")
            })
        else {
            throw APIError.badRequest("invalid_path", "'\(path.prefix(200))' is not a path inside the run's artifacts: no '..', '.' or empty parts")
        }
        return trimmed
    }

    /// The direct children of the folder `path` (relative to the run's artifact root).
    func artifacts(of info: RunInfo, folder path: String) async throws -> [ArtifactEntry] {
        let root = Self.artifactRoot(info)
        let folder = path.isEmpty ? root + "/" : root + "/" + path + "/"
        var entries: [String: ArtifactEntry] = [:]
        for file in try await store.artifacts.files(under: folder) {
            let rest = file.path.dropFirst(folder.count)
            let prefix = path.isEmpty ? "" : path + "/"
            if let slash = rest.firstIndex(of: "/") {
                let name = String(rest[..<slash])
                entries[name] = ArtifactEntry(path: prefix + name, name: name, isDir: true, size: nil)
            } else {
                entries[String(rest)] = ArtifactEntry(path: prefix + rest, name: String(rest), isDir: false, size: file.size)
            }
        }
        return entries.values.sorted { ($0.isDir ? 0 : 1, $0.name) < ($1.isDir ? 0 : 1, $1.name) }
    }

    /// The stored file at `path` in a run's artifacts, if there is one.
    func artifactFile(of info: RunInfo, path: String) async throws -> ArtifactFile? {
        guard !path.isEmpty else { return nil }
        return try await store.artifacts.file(at: Self.artifactRoot(info) + "/" + path)
    }

    /// The media type to serve an artifact with, from its extension; unknown kinds are served as bytes.
    static func mediaType(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "gif": "image/gif"
        case "webp": "image/webp"
        case "json": "application/json"
        case "txt", "log", "md", "yaml", "yml", "csv", "py", "toml", "cfg", "ini": "text/plain; charset=utf-8"
        case "": path.hasSuffix("MLmodel") ? "text/plain; charset=utf-8" : "application/octet-stream"
        default: "application/octet-stream"
        }
    }

    static func dictionary(_ pairs: [KeyValue]) -> [String: String] {
        Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }
}
