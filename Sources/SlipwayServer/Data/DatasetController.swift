import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayBlobs
import SlipwayData
import SlipwayDomain
import SlipwayStore

/// Datasets in projects and their immutable versions: create, import a version, browse records, export.
struct DatasetController: Sendable {
    let store: MetadataStore
    let blobs: any BlobStore
    let access: AccessPolicy
    let importer: VersionImporter

    static let base = "namespaces/{namespace}/projects/{project}/datasets"

    func register(on api: RouterGroup<AppRequestContext>) {
        api.get("datasets", use: search)
        api.get(RouterPath(stringLiteral: Self.base), use: list)
        api.post(RouterPath(stringLiteral: Self.base), use: create)
        api.get(RouterPath(stringLiteral: Self.base + "/{dataset}"), use: show)
        api.get(RouterPath(stringLiteral: Self.base + "/{dataset}/versions"), use: versions)
        api.post(RouterPath(stringLiteral: Self.base + "/{dataset}/versions"), use: createVersion)
        api.get(RouterPath(stringLiteral: Self.base + "/{dataset}/versions/{version}"), use: version)
        api.get(RouterPath(stringLiteral: Self.base + "/{dataset}/versions/{version}/records"), use: records)
        api.get(RouterPath(stringLiteral: Self.base + "/{dataset}/versions/{version}/export"), use: export)
        api.get(RouterPath(stringLiteral: Self.base + "/{dataset}/versions/{version}/lineage"), use: lineage)
        api.get(RouterPath(stringLiteral: Self.base + "/{dataset}/diff"), use: diff)
        api.put(RouterPath(stringLiteral: Self.base + "/{dataset}/versions/{version}/state"), use: setState)
        api.patch(RouterPath(stringLiteral: Self.base + "/{dataset}"), use: update)
        api.delete(RouterPath(stringLiteral: Self.base + "/{dataset}"), use: delete)
    }

    /// A dataset with the caller's standing, once resolved from the path.
    struct Target: Sendable {
        var access: NamespaceAccess
        var project: Project
        var dataset: Dataset
    }

    /// Resolves the dataset in the path and checks the caller's role on it (``AccessPolicy/datasetRole``): public
    /// datasets are readable by every signed-in user, private ones only by their project's members and the
    /// namespace's maintainers and owners. One the caller may not see answers 404, like a missing one.
    func target(_ context: AppRequestContext, requires role: Role) async throws -> Target {
        let namespaceName = try context.parameters.require("namespace")
        let projectName = try context.parameters.require("project")
        let datasetName = try context.parameters.require("dataset")
        let caller = try access.caller(context)
        let namespaceMissing = APIError.notFound("namespace '\(namespaceName)' does not exist")
        guard let namespace = try await store.namespaces.namespace(named: namespaceName) else { throw namespaceMissing }
        let namespaceRole = try await caller.role(in: namespace.id, store: store)
        guard let project = try await store.projects.project(named: projectName, in: namespace) else {
            throw namespaceRole == nil ? namespaceMissing : APIError.notFound("project '\(namespaceName)/\(projectName)' does not exist")
        }
        guard let dataset = try await store.datasets.dataset(named: datasetName, in: project),
            let granted = try await access.datasetRole(caller, visibility: dataset.visibility, in: project, namespaceRole: namespaceRole)
        else {
            throw namespaceRole == nil
                ? namespaceMissing : APIError.notFound("dataset '\(namespaceName)/\(projectName)/\(datasetName)' does not exist")
        }
        guard granted.includes(role) else {
            // Outsiders reading a public dataset learn nothing about the namespace beyond it.
            if namespaceRole == nil { throw namespaceMissing }
            throw APIError.forbidden(
                "your role on dataset '\(namespaceName)/\(projectName)/\(datasetName)' is \(granted); this needs \(role) or higher")
        }
        return Target(access: NamespaceAccess(namespace: namespace, caller: caller, role: granted), project: project, dataset: dataset)
    }

    /// Datasets the caller may read across namespaces (`?search=` text); a job's token searches its namespace only.
    @Sendable func search(_ request: Request, context: AppRequestContext) async throws -> ItemList<DatasetListing> {
        let caller = try access.caller(context)
        let text = request.uri.queryParameters["search"].map(String.init)
        try validText(text, field: "search", limit: 200)
        return ItemList(
            items: try await store.datasets.search(
                text, visibleTo: caller.user.id, seesEverything: caller.user.isAdmin, onlyIn: caller.jobScope?.namespaceID))
    }

    /// The project's datasets the caller may see.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<Dataset> {
        let (access, project) = try await self.access.project(context, requires: .viewer)
        let privateToo = try await self.access.seesPrivateDatasets(access.caller, in: project, namespaceRole: access.role)
        return ItemList(items: try await store.datasets.list(in: project, includingPrivate: privateToo))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Created<Dataset> {
        let (access, project) = try await self.access.project(context, requires: .developer)
        let body = try await request.decodeJSON(CreateDatasetRequest.self, context: context)
        let name = try validName(body.name, field: "name")
        try validText(body.description, field: "description", limit: 4000)
        let visibility = body.visibility ?? .private
        if visibility == .private {
            let role = try await self.access.datasetRole(access.caller, visibility: .private, in: project, namespaceRole: access.role)
            guard role?.includes(.developer) == true else {
                throw APIError.forbidden(
                    "a private dataset is seen only by the members of project '\(access.namespace.name)/\(project.name)' and the "
                        + "namespace's maintainers and owners, and you could not push to it: ask a maintainer to add you as a developer "
                        + "(slipway project member add \(access.namespace.name)/\(project.name) \(access.caller.user.username) --role developer), "
                        + "or create it with visibility namespace")
            }
        }
        return Created(
            value: try await store.datasets.create(
                in: project, name: name, description: body.description ?? "", taskType: body.taskType, visibility: visibility,
                by: access.caller.auditActor))
    }

    /// Changes a dataset's description (developers) or visibility (maintainers of the dataset: the namespace's, or the
    /// project's).
    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Dataset {
        let body = try await request.decodeJSON(UpdateDatasetRequest.self, context: context)
        return try await update(body, context: context)
    }

    func update(_ body: UpdateDatasetRequest, context: AppRequestContext) async throws -> Dataset {
        try validText(body.description, field: "description", limit: 4000)
        guard body.description != nil || body.visibility != nil else {
            throw APIError.invalidField("visibility", "give description and/or visibility to change")
        }
        let target = try await target(context, requires: body.visibility == nil ? .developer : .maintainer)
        return try await store.datasets.update(
            target.dataset, description: body.description, visibility: body.visibility, by: target.access.caller.auditActor)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Dataset {
        try await target(context, requires: .viewer).dataset
    }

    @Sendable func versions(_ request: Request, context: AppRequestContext) async throws -> ItemList<DatasetVersion> {
        let target = try await target(context, requires: .viewer)
        return ItemList(items: try await store.datasets.versions(of: target.dataset))
    }

    /// Imports an uploaded file as the next version.
    @Sendable func createVersion(_ request: Request, context: AppRequestContext) async throws -> Created<DatasetVersionDetail> {
        let target = try await target(context, requires: .developer)
        let body = try await request.decodeJSON(CreateVersionRequest.self, context: context)
        try validText(body.message, field: "message", limit: 4000)
        let (store, importer) = (self.store, self.importer)
        return try await importer.whileImporting(into: target.dataset.namespaceID) {
            let result = try await importer.importVersion(of: target.dataset, from: body.source)
            let manifestJSON = String(decoding: try APICoding.encoder().encode(result.manifest), as: UTF8.self)
            let version = try await store.datasets.addVersion(
                to: target.dataset, manifestJSON: manifestJSON, recordCount: result.manifest.recordCount, message: body.message ?? "",
                digests: result.digests, by: target.access.caller.auditActor)
            return Created(value: DatasetVersionDetail(version: version, manifest: result.manifest))
        }
    }

    @Sendable func version(_ request: Request, context: AppRequestContext) async throws -> DatasetVersionDetail {
        let (_, stored) = try await storedVersion(context)
        return DatasetVersionDetail(version: stored.version, manifest: try Self.manifest(stored))
    }

    /// The records of a version, `limit` (at most 1000) from `offset`.
    @Sendable func records(_ request: Request, context: AppRequestContext) async throws -> RecordPage {
        let (_, stored) = try await storedVersion(context)
        let manifest = try Self.manifest(stored)
        let offset = try Self.integer(request, "offset", default: 0, range: 0...Int.max)
        let limit = try Self.integer(request, "limit", default: 100, range: 1...1000)
        let items = try await ManifestRecords(blobs: blobs).page(of: manifest, offset: offset, limit: limit)
        return RecordPage(items: items, offset: offset, total: manifest.recordCount)
    }

    /// The whole version as CSV or JSON Lines, streamed shard by shard.
    @Sendable func export(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (target, stored) = try await storedVersion(context)
        let manifest = try Self.manifest(stored)
        let formatText = request.uri.queryParameters["format"].map(String.init) ?? "jsonl"
        guard let format = DataFormat(rawValue: formatText), format == .csv || format == .jsonl else {
            throw APIError.badRequest("invalid_parameter", "query parameter 'format' must be one of: csv, jsonl")
        }
        let blobs = self.blobs
        let body = ResponseBody { writer in
            if format == .csv { try await writer.write(ByteBuffer(string: TableExporter.csvHeader(schema: manifest.schema))) }
            try await ManifestRecords(blobs: blobs).forEachShard(in: manifest) { records in
                var text = ""
                for record in records {
                    text += format == .csv ? TableExporter.csvLine(record, schema: manifest.schema) : try TableExporter.jsonLine(record)
                }
                try await writer.write(ByteBuffer(string: text))
            }
            try await writer.finish(nil)
        }
        let filename = "\(target.dataset.name)-v\(stored.version.number).\(format.rawValue)"
        return Response(
            status: .ok,
            headers: [
                .contentType: format == .csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
                .contentDisposition: "attachment; filename=\"\(filename)\"",
            ],
            body: body)
    }

    /// The runs that used the version and the model versions registered from them, as far as the caller may see.
    @Sendable func lineage(_ request: Request, context: AppRequestContext) async throws -> DatasetLineage {
        let (target, stored) = try await storedVersion(context)
        return try await lineage(of: target, version: stored.version.number, caller: try access.caller(context))
    }

    func lineage(of target: Target, version: Int, caller: Caller) async throws -> DatasetLineage {
        let source = "\(target.access.namespace.name)/\(target.project.name)/\(target.dataset.name)@\(version)"
        var runs: [DatasetLineage.RunUse] = []
        var experiments: [String: Experiment?] = [:]
        for (run, input) in try await store.tracking.runs(usingSource: source, sourceType: DatasetLineage.sourceType) {
            if experiments[run.experimentID] == nil { experiments[run.experimentID] = try await store.tracking.experiment(id: run.experimentID) }
            guard let experiment = experiments[run.experimentID] ?? nil else { continue }
            if try await caller.role(in: experiment.namespaceID, store: store) == nil { continue }
            runs.append(
                DatasetLineage.RunUse(
                    runId: run.runID, runName: run.name, experimentId: experiment.id, experimentName: experiment.name, status: run.status.rawValue,
                    startTime: run.startTime, context: input.tags.first { $0.key == "mlflow.data.context" }?.value))
        }
        let models = try await store.registry.versions(fromRuns: runs.map(\.runId)).map {
            DatasetLineage.ModelUse(name: $0.name, version: $0.version, runId: $0.runID ?? "", stage: $0.stage.rawValue)
        }
        return DatasetLineage(source: source, runs: runs.sorted { $0.startTime > $1.startTime }, modelVersions: models)
    }

    /// Moves a version forward in its life; maintainers only, since it changes what others may use.
    @Sendable func setState(_ request: Request, context: AppRequestContext) async throws -> DatasetVersion {
        let target = try await target(context, requires: .maintainer)
        let body = try await request.decodeJSON(VersionStateRequest.self, context: context)
        let text = try context.parameters.require("version")
        guard let number = text == "latest" ? target.dataset.latestVersion : Int(text) else {
            throw APIError.notFound("dataset '\(target.dataset.name)' has no version '\(text.prefix(40))'")
        }
        return try await store.datasets.setState(body.state, of: number, in: target.dataset, by: target.access.caller.auditActor)
    }

    /// Deletes the dataset with all its versions (maintainers); its blobs go at the next garbage collection.
    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let target = try await target(context, requires: .maintainer)
        try await store.datasets.delete(target.dataset, by: target.access.caller.auditActor)
        return Response(status: .noContent)
    }

    /// Records added, removed and changed between versions `from` and `to` (query parameters; numbers or `latest`).
    @Sendable func diff(_ request: Request, context: AppRequestContext) async throws -> VersionDiff {
        let target = try await target(context, requires: .viewer)
        func version(_ name: String) async throws -> StoredVersion {
            guard let text = request.uri.queryParameters[Substring(name)].map(String.init) else {
                throw APIError.badRequest("invalid_parameter", "query parameters 'from' and 'to' name the versions to compare")
            }
            return try await storedVersion(text, of: target.dataset)
        }
        return try await diff(from: try await version("from"), to: try await version("to"))
    }

    /// Compares two stored versions record by record.
    func diff(from: StoredVersion, to: StoredVersion) async throws -> VersionDiff {
        var differ = VersionDiffer(from: from.version.number, to: to.version.number)
        let records = ManifestRecords(blobs: blobs)
        try await records.forEach(in: try Self.manifest(from)) { try differ.indexOld($0) }
        try await records.forEach(in: try Self.manifest(to)) { try differ.compareNew($0) }
        return differ.finish()
    }

    private func storedVersion(_ context: AppRequestContext) async throws -> (Target, StoredVersion) {
        let target = try await target(context, requires: .viewer)
        return (target, try await storedVersion(try context.parameters.require("version"), of: target.dataset))
    }

    func storedVersion(_ text: String, of dataset: Dataset) async throws -> StoredVersion {
        let number = text == "latest" ? dataset.latestVersion : Int(text)
        guard let number, let stored = try await store.datasets.version(number, of: dataset) else {
            throw APIError.notFound("dataset '\(dataset.name)' has no version '\(text.prefix(40))'")
        }
        guard stored.version.state != .deleted else {
            throw APIError(.gone, code: "version_deleted", "version \(number) of '\(dataset.name)' was deleted; its records are no longer available")
        }
        return stored
    }

    static func manifest(_ stored: StoredVersion) throws -> DatasetManifest {
        try APICoding.decoder().decode(DatasetManifest.self, from: Data(stored.manifestJSON.utf8))
    }

    static func integer(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters[Substring(name)] else { return value }
        guard let number = Int(String(text)), range.contains(number) else {
            throw APIError.badRequest(
                "invalid_parameter", "query parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

extension DatasetVersionDetail: ResponseEncodable {}

extension Dataset: ResponseEncodable {}
extension DatasetListing: ResponseEncodable {}
extension DatasetVersion: ResponseEncodable {}
extension RecordPage: ResponseEncodable {}
extension VersionDiff: ResponseEncodable {}
extension DatasetLineage: ResponseEncodable {}

extension DatasetLineage {
    /// The MLflow dataset source type under which runs name Slipway dataset versions.
    static let sourceType = "slipway"
}
