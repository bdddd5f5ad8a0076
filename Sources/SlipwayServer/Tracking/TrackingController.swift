import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore
import SlipwayTracking

/// Slipway's own API over tracking and the registry (`/api/v1/experiments`, `/runs`, `/models`): the data the
/// MLflow-compatible API writes, placed in namespaces and projects, with lineage both ways. Read-only: writes
/// go through the MLflow API, which every MLflow client already speaks.
struct TrackingController: Sendable {
    let catalog: TrackingCatalog
    let access: AccessPolicy
    let blobs: any BlobStore

    func register(on api: RouterGroup<AppRequestContext>) {
        api.get("namespaces/{namespace}/projects/{project}/experiments", use: projectExperiments)
        api.get("namespaces/{namespace}/projects/{project}/models", use: projectModels)
        api.get("experiments/{experiment}", use: experiment)
        api.get("experiments/{experiment}/runs", use: runs)
        api.get("runs/{run}", use: run)
        api.get("runs/{run}/metrics", use: metricHistory)
        api.get("runs/{run}/artifacts", use: artifacts)
        api.get("runs/{run}/artifacts/content", use: artifactContent)
        api.get("models", use: models)
        api.get("models/{model}", use: model)
        api.get("models/{model}/versions/{version}", use: modelVersion)
    }

    private func project(_ context: AppRequestContext) async throws -> Project {
        try await access.project(context, requires: .viewer).1
    }

    @Sendable func projectExperiments(_ request: Request, context: AppRequestContext) async throws -> ExperimentList {
        let project = try await project(context)
        var names = TrackingCatalog.PlaceNames()
        var items: [ExperimentSummary] = []
        for experiment in try await catalog.store.tracking.experiments(inNamespaces: [project.namespaceID])
        where experiment.projectID == project.id {
            items.append(try await catalog.summary(experiment, names: &names))
        }
        return ExperimentList(items: items)
    }

    @Sendable func projectModels(_ request: Request, context: AppRequestContext) async throws -> ModelList {
        let project = try await project(context)
        return ModelList(items: try await catalog.models(caller: try access.caller(context), in: project))
    }

    @Sendable func experiment(_ request: Request, context: AppRequestContext) async throws -> ExperimentSummary {
        let experiment = try await catalog.experiment(try context.parameters.require("experiment"), caller: try access.caller(context))
        var names = TrackingCatalog.PlaceNames()
        return try await catalog.summary(experiment, names: &names)
    }

    /// The runs of an experiment, filtered and ordered with MLflow's grammar, a page at a time.
    @Sendable func runs(_ request: Request, context: AppRequestContext) async throws -> RunList {
        let experiment = try await catalog.experiment(try context.parameters.require("experiment"), caller: try access.caller(context))
        let query = RunQuery(FormQuery(request))
        try query.validate()
        let matching = try await catalog.runs(of: experiment, filter: query.filter, orderBy: query.orderBy, view: try query.runView())
        let fingerprint = "v1runs|\(experiment.id)|\(query.filter)|\(query.orderBy.joined(separator: ","))|\(query.view)"
        var offset = 0
        if let token = query.pageToken, !token.isEmpty {
            do {
                offset = try PageToken.decode(token, query: fingerprint).offset
            } catch let error as SearchSyntaxError {
                throw APIError.badRequest("invalid_page_token", error.description)
            }
        }
        let limit = try query.limit()
        let end = min(matching.count, offset + limit)
        let page = offset < matching.count ? matching[offset..<end] : []
        return RunList(
            items: page.map(TrackingCatalog.summary),
            nextPageToken: end < matching.count ? PageToken(offset: end, query: fingerprint).encoded : nil)
    }

    @Sendable func run(_ request: Request, context: AppRequestContext) async throws -> RunView {
        let caller = try access.caller(context)
        let (detail, experiment) = try await catalog.run(try context.parameters.require("run"), caller: caller)
        return try await catalog.view(detail, experiment: experiment, caller: caller)
    }

    @Sendable func metricHistory(_ request: Request, context: AppRequestContext) async throws -> MetricHistoryView {
        let (detail, _) = try await catalog.run(try context.parameters.require("run"), caller: try access.caller(context))
        guard let key = FormQuery(request)["key"], !key.isEmpty else {
            throw APIError.invalidField("key", "is required: the metric's name")
        }
        try validText(key, field: "key", limit: 250)
        guard detail.metrics.contains(where: { $0.key == key }) else {
            throw APIError.notFound("run '\(detail.info.runID)' has no metric '\(key)'")
        }
        let points = try await catalog.store.tracking.metricHistory(runID: detail.info.runID, key: key)
        return MetricHistoryView(
            key: key, points: points.map { MetricPointView(step: $0.step, timestamp: $0.timestamp, value: WireDouble($0.value)) })
    }

    @Sendable func artifacts(_ request: Request, context: AppRequestContext) async throws -> ArtifactListing {
        let (detail, _) = try await catalog.run(try context.parameters.require("run"), caller: try access.caller(context))
        let path = try TrackingCatalog.artifactPath(FormQuery(request)["path"] ?? "")
        let files = try await catalog.artifacts(of: detail.info, folder: path)
        if files.isEmpty, !path.isEmpty {
            throw APIError.notFound("run '\(detail.info.runID)' has no artifact folder '\(path)'")
        }
        return ArtifactListing(path: path, files: files)
    }

    /// One artifact's bytes, typed by extension. Served as an attachment unless it is an image or text, and never
    /// as HTML or SVG, so an uploaded file cannot run script in the UI's origin.
    @Sendable func artifactContent(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (detail, _) = try await catalog.run(try context.parameters.require("run"), caller: try access.caller(context))
        let path = try TrackingCatalog.artifactPath(FormQuery(request)["path"] ?? "")
        guard let file = try await catalog.artifactFile(of: detail.info, path: path), let digest = BlobDigest(hex: file.digest),
            let info = try await blobs.info(digest)
        else { throw APIError.notFound("run '\(detail.info.runID)' has no artifact '\(path)'") }
        let type = TrackingCatalog.mediaType(of: path)
        var headers: HTTPFields = [
            .contentType: type, .contentLength: String(info.size), .eTag: "\"\(digest.hex)\"", .init("X-Content-Type-Options")!: "nosniff",
            .contentSecurityPolicy: "sandbox; default-src 'none'",
        ]
        if type == "application/octet-stream" {
            let name = (path as NSString).lastPathComponent.replacingOccurrences(of: "\"", with: "")
            headers[.contentDisposition] = "attachment; filename=\"\(name)\""
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(asyncSequence: try await blobs.read(digest, chunkSize: 1 << 20)))
    }

    @Sendable func models(_ request: Request, context: AppRequestContext) async throws -> ModelList {
        let search = FormQuery(request)["search"] ?? ""
        try validText(search, field: "search", limit: 200)
        let all = try await catalog.models(caller: try access.caller(context))
        guard !search.isEmpty else { return ModelList(items: all) }
        let needle = search.lowercased()
        return ModelList(items: all.filter { $0.name.lowercased().contains(needle) || $0.description.lowercased().contains(needle) })
    }

    @Sendable func model(_ request: Request, context: AppRequestContext) async throws -> ModelView {
        let caller = try access.caller(context)
        let model = try await catalog.model(try Self.decoded(context.parameters.require("model")), caller: caller)
        let versions = try await catalog.store.registry.versions(of: model.name).sorted { $0.version > $1.version }
        var names = TrackingCatalog.PlaceNames()
        var views: [ModelVersionView] = []
        for version in versions { views.append(try await catalog.view(version, of: model, caller: caller, withLineage: false)) }
        return ModelView(model: try await catalog.summary(model, latest: versions.first?.version, names: &names), versions: views)
    }

    /// A path segment, percent-decoded: model names may hold spaces and other characters.
    static func decoded(_ segment: String) throws -> String {
        guard let text = segment.removingPercentEncoding else { throw APIError.notFound("no model is called '\(segment.prefix(200))'") }
        return text
    }

    @Sendable func modelVersion(_ request: Request, context: AppRequestContext) async throws -> ModelVersionView {
        let caller = try access.caller(context)
        let model = try await catalog.model(try Self.decoded(context.parameters.require("model")), caller: caller)
        let text = try context.parameters.require("version")
        guard let number = Int(text), number > 0, let version = try await catalog.store.registry.version(model.name, number) else {
            throw APIError.notFound("model '\(model.name)' has no version '\(text.prefix(20))'")
        }
        return try await catalog.view(version, of: model, caller: caller, withLineage: true)
    }
}

/// The query of `GET /api/v1/experiments/{experiment}/runs` (also the web runs table's).
struct RunQuery: Sendable {
    /// MLflow's filter grammar: `metrics.acc > 0.9 and params.optimizer = 'adam'`.
    var filter: String
    /// Order clauses, comma-separated in the query: `metrics.acc DESC, start_time`.
    var orderBy: [String]
    var view: String
    var maxResults: String?
    var pageToken: String?

    init(_ query: FormQuery) {
        filter = query["filter"] ?? ""
        orderBy = Self.clauses(query["order_by"] ?? "")
        view = query["view"] ?? TrackingCatalog.RunSelection.active.rawValue
        maxResults = query["max_results"]
        pageToken = query["page_token"]
    }

    /// Splits order clauses on commas outside backquotes and quotes, so `` metrics.`a,b` `` stays one key.
    static func clauses(_ text: String) -> [String] {
        var clauses: [String] = []
        var current = ""
        var quote: Character?
        for character in text {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "`" || character == "\"" || character == "'" {
                quote = character
            } else if character == "," {
                clauses.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        clauses.append(current)
        return clauses.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        try validText(filter, field: "filter", limit: 2000)
        try validText(pageToken, field: "page_token", limit: 500)
        if orderBy.count > 20 { throw APIError.invalidField("order_by", "may have at most 20 clauses") }
    }

    func runView() throws -> TrackingCatalog.RunSelection {
        guard let view = TrackingCatalog.RunSelection(rawValue: view) else {
            throw APIError.invalidField("view", "must be one of \(TrackingCatalog.RunSelection.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return view
    }

    func limit() throws -> Int {
        guard let maxResults else { return 100 }
        guard let value = Int(maxResults), (1...1000).contains(value) else {
            throw APIError.invalidField("max_results", "must be a whole number from 1 to 1000")
        }
        return value
    }
}
