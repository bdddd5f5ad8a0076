import Foundation
import Hummingbird
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore

/// The web UI of tracking and the registry: experiments with their runs table, a run with charts and its
/// artifacts, runs compared side by side, and registered models with their lineage. Access rules are the
/// API's (``TrackingCatalog``); every chart is SVG drawn here.
struct TrackingPages: Sendable {
    let pages: PageRenderer
    let catalog: TrackingCatalog
    let api: TrackingController

    /// Metrics charted on one page at most, and the largest text artifact previewed.
    static let chartLimit = 12
    static let previewBytes = 64 << 10

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("experiments", use: experimentsPage)
        group.get("experiments/{experiment}", use: experimentPage)
        group.get("runs/{run}", use: runPage)
        group.get("compare", use: comparePage)
        group.get("models", use: modelsPage)
        group.get("models/{model}", use: modelPage)
        group.get("models/{model}/versions/{version}", use: versionPage)
    }

    // MARK: - Experiments

    @Sendable func experimentsPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try api.access.caller(context)
        var names = TrackingCatalog.PlaceNames()
        var rows: [ExperimentsPage.Row] = []
        for experiment in try await catalog.store.tracking.experiments(inNamespaces: try await catalog.visibleNamespaces(caller))
        where experiment.lifecycleStage == .active {
            let summary = try await catalog.summary(experiment, names: &names)
            rows.append(
                .init(
                    id: summary.id, name: summary.name, namespace: summary.namespace, project: summary.project,
                    updated: Self.time(summary.lastUpdateTime)))
        }
        return pages.render("experiments", ExperimentsPage(layout: .make(context.caller, section: "/experiments"), experiments: rows))
    }

    @Sendable func experimentPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try api.access.caller(context)
        let experiment = try await catalog.experiment(try context.parameters.require("experiment"), caller: caller)
        var names = TrackingCatalog.PlaceNames()
        let summary = try await catalog.summary(experiment, names: &names)
        let parameters = FormQuery(request)
        let query = RunQuery(parameters)
        var problem: String?
        var runs: [RunDetail] = []
        do {
            try query.validate()
            runs = try await catalog.runs(of: experiment, filter: query.filter, orderBy: query.orderBy, view: try query.runView())
        } catch let error as APIError where error.status == .badRequest {
            problem = error.message
        }
        // Columns: the chosen metrics and params, or the first few of each when none were chosen.
        let allMetrics = Set(runs.flatMap { $0.metrics.map(\.key) }).sorted()
        let allParams = Set(runs.flatMap { $0.params.map(\.key) }).sorted()
        let chosen = parameters["columns"] != nil
        let metricColumns = chosen ? parameters.all("metric").filter(allMetrics.contains) : Array(allMetrics.prefix(5))
        let paramColumns = chosen ? parameters.all("param").filter(allParams.contains) : Array(allParams.prefix(5))

        let shown = Array(runs.prefix(500))
        let base = "/experiments/\(experiment.id)"
        var kept: [(String, String)] = [("filter", query.filter), ("view", query.view), ("columns", "1")]
        kept += metricColumns.map { ("metric", $0) } + paramColumns.map { ("param", $0) }
        // The first order clause, without backquotes, decides which header shows an arrow.
        let current = query.orderBy.first.map { $0.replacingOccurrences(of: "`", with: "").lowercased() }
        func sortLink(_ key: String, label: String? = nil) -> ExperimentRunsPage.Header {
            let plain = key.replacingOccurrences(of: "`", with: "").lowercased()
            let descending = current == "\(plain) desc"
            let ascending = current == plain || current == "\(plain) asc"
            let next = descending ? "\(key) ASC" : "\(key) DESC"
            return .init(
                label: label ?? key.replacingOccurrences(of: "`", with: ""), href: base + Self.query(kept + [("order_by", next)]),
                arrow: descending ? "▼" : ascending ? "▲" : "")
        }
        var headers = [
            sortLink("attributes.run_name", label: "Run"), sortLink("attributes.status", label: "Status"),
            sortLink("attributes.start_time", label: "Started"),
        ]
        headers += metricColumns.map { sortLink("metrics.`\($0)`") } + paramColumns.map { sortLink("params.`\($0)`") }
        let rows = shown.map { detail in
            let metrics = Dictionary(detail.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            let params = Dictionary(detail.params.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            return ExperimentRunsPage.Row(
                id: detail.info.runID, name: detail.info.name, status: detail.info.status.rawValue,
                started: Self.time(detail.info.startTime), duration: Self.duration(detail.info),
                cells: metricColumns.map { metrics[$0].map(Self.number) ?? "" } + paramColumns.map { params[$0] ?? "" },
                deleted: detail.info.lifecycleStage == .deleted)
        }
        let page = ExperimentRunsPage(
            layout: .make(context.caller, section: "/experiments"), experiment: summary, filter: query.filter,
            orderBy: query.orderBy.joined(separator: ", "),
            views: TrackingCatalog.RunSelection.allCases.map {
                .init(value: $0.rawValue, label: $0.rawValue.replacingOccurrences(of: "_", with: " "), selected: $0.rawValue == query.view)
            },
            problem: problem.map { [$0] } ?? [],
            metricChoices: allMetrics.map { .init(key: $0, checked: metricColumns.contains($0)) },
            paramChoices: allParams.map { .init(key: $0, checked: paramColumns.contains($0)) },
            headers: headers, rows: rows, count: runs.count, truncated: runs.count > shown.count, shownCount: shown.count)
        return pages.render("experiment", page, status: problem == nil ? .ok : .badRequest)
    }

    // MARK: - A run

    @Sendable func runPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try api.access.caller(context)
        let (detail, experiment) = try await catalog.run(try context.parameters.require("run"), caller: caller)
        let view = try await catalog.view(detail, experiment: experiment, caller: caller)
        let runID = detail.info.runID

        var charts: [RunDetailPage.Chart] = []
        for metric in detail.metrics.sorted(by: { $0.key < $1.key }).prefix(Self.chartLimit) {
            let history = try await catalog.store.tracking.metricHistory(runID: runID, key: metric.key)
            guard history.count > 1 else { continue }
            let chart = MetricChart(
                title: metric.key, series: [.init(label: detail.info.name, points: history.map { (Double($0.step), $0.value) })])
            charts.append(.init(key: metric.key, svg: chart.svg))
        }

        // The artifact browser: a folder's entries, and a preview of the chosen file.
        let parameters = FormQuery(request)
        let folder = try TrackingCatalog.artifactPath(parameters["path"] ?? "")
        let entries = try await catalog.artifacts(of: detail.info, folder: folder).map { entry in
            RunDetailPage.Entry(
                name: entry.name, isDir: entry.isDir, size: entry.size.map(Self.bytes) ?? "",
                href: "/runs/\(runID)" + Self.query(entry.isDir ? [("path", entry.path)] : [("path", folder), ("file", entry.path)]) + "#artifacts")
        }
        var crumbs = [RunDetailPage.Crumb(name: "artifacts", href: "/runs/\(runID)#artifacts")]
        var walked: [String] = []
        for part in folder.split(separator: "/") {
            walked.append(String(part))
            crumbs.append(.init(name: String(part), href: "/runs/\(runID)" + Self.query([("path", walked.joined(separator: "/"))]) + "#artifacts"))
        }
        var preview: [RunDetailPage.Preview] = []
        if let file = parameters["file"], !file.isEmpty {
            preview = [try await self.preview(of: detail.info, path: try TrackingCatalog.artifactPath(file))]
        }

        let userTags = detail.tags.filter { !$0.key.hasPrefix("mlflow.") }.sorted { $0.key < $1.key }
        let systemTags = detail.tags.filter { $0.key.hasPrefix("mlflow.") }.sorted { $0.key < $1.key }
        let code = [
            ("Source", view.code.sourceName), ("Git commit", view.code.gitCommit), ("Repository", view.code.gitRepository),
            ("Code snapshot", view.code.snapshotDigest),
        ].compactMap { label, value in value.map { RunDetailPage.Pair(key: label, value: $0) } }
        let page = RunDetailPage(
            layout: .make(context.caller, section: "/experiments"), run: view.run, experiment: view.experiment,
            started: Self.time(detail.info.startTime), duration: Self.duration(detail.info),
            params: detail.params.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: $0.value) },
            metrics: detail.metrics.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: Self.number($0.value), step: $0.step) },
            charts: charts, tags: userTags.map { .init(key: $0.key, value: $0.value) },
            systemTags: systemTags.map { .init(key: $0.key, value: $0.value) },
            inputs: view.inputs.map { input in
                RunDetailPage.Input(input)
            },
            code: code, job: view.job.map { [RunDetailPage.Link(name: $0, href: "/jobs/\(Self.segment($0))")] } ?? [],
            parent: view.run.parentRunId.map { [$0] } ?? [], children: view.childRunIds,
            loggedModels: view.loggedModels, modelVersions: view.modelVersions.map { .init($0) },
            crumbs: crumbs, entries: entries, preview: preview)
        return pages.render("run", page)
    }

    /// Up to 64 KiB of a text or JSON artifact (JSON pretty-printed), or an image shown from the API.
    private func preview(of info: RunInfo, path: String) async throws -> RunDetailPage.Preview {
        guard let file = try await catalog.artifactFile(of: info, path: path), let digest = BlobDigest(hex: file.digest) else {
            throw APIError.notFound("run '\(info.runID)' has no artifact '\(path)'")
        }
        let type = TrackingCatalog.mediaType(of: path)
        let content = "/api/v1/runs/\(info.runID)/artifacts/content" + Self.query([("path", path)])
        var preview = RunDetailPage.Preview(
            name: path, size: Self.bytes(file.size), download: content, image: [], text: [], truncated: false, binary: false)
        if type.hasPrefix("image/") {
            preview.image = [content]
        } else if type.hasPrefix("text/") || type == "application/json" {
            var bytes: [UInt8] = []
            for try await chunk in try await api.blobs.read(digest, chunkSize: 16 << 10) {
                bytes += chunk.readableBytesView
                if bytes.count >= Self.previewBytes { break }
            }
            preview.truncated = file.size > Int64(Self.previewBytes)
            let data = Data(bytes.prefix(Self.previewBytes))
            if type == "application/json", !preview.truncated,
                let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
                let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
            {
                preview.text = [String(decoding: pretty, as: UTF8.self)]
            } else {
                preview.text = [String(decoding: data, as: UTF8.self)]
            }
        } else {
            preview.binary = true
        }
        return preview
    }

    // MARK: - Comparing runs

    @Sendable func comparePage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try api.access.caller(context)
        var ids: [String] = []
        for id in FormQuery(request).all("runs") where !ids.contains(id) { ids.append(id) }
        guard (2...20).contains(ids.count) else {
            throw APIError.badRequest("invalid_parameter", "choose from 2 to 20 runs to compare (you chose \(ids.count))")
        }
        var runs: [RunDetail] = []
        for id in ids { runs.append(try await catalog.run(id, caller: caller).0) }

        let paramKeys = Set(runs.flatMap { $0.params.map(\.key) }).sorted()
        let params = runs.map { Dictionary($0.params.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }) }
        let paramRows = paramKeys.map { key in
            let values = params.map { $0[key] ?? "—" }
            return ComparePage.Row(key: key, values: values, differs: Set(values).count > 1)
        }
        let metricKeys = Set(runs.flatMap { $0.metrics.map(\.key) }).sorted()
        let metrics = runs.map { Dictionary($0.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }) }
        let metricRows = metricKeys.map { key in
            let values = metrics.map { $0[key].map(Self.number) ?? "—" }
            return ComparePage.Row(key: key, values: values, differs: Set(values).count > 1)
        }
        var charts: [RunDetailPage.Chart] = []
        for key in metricKeys.prefix(Self.chartLimit) {
            var series: [MetricChart.Series] = []
            for run in runs where run.metrics.contains(where: { $0.key == key }) {
                let history = try await catalog.store.tracking.metricHistory(runID: run.info.runID, key: key)
                series.append(.init(label: run.info.name, points: history.map { (Double($0.step), $0.value) }))
            }
            charts.append(.init(key: key, svg: MetricChart(title: key, series: series).svg))
        }
        let page = ComparePage(
            layout: .make(context.caller, section: "/experiments"),
            runs: runs.enumerated().map { index, run in
                .init(
                    id: run.info.runID, name: run.info.name, status: run.info.status.rawValue, experimentId: run.info.experimentID,
                    colour: MetricChart.palette[index % MetricChart.palette.count])
            },
            params: paramRows, metrics: metricRows, charts: charts, differing: paramRows.filter(\.differs).count)
        return pages.render("compare", page)
    }

    // MARK: - The registry

    @Sendable func modelsPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try api.access.caller(context)
        let search = FormQuery(request)["search"] ?? ""
        try validText(search, field: "search", limit: 200)
        let needle = search.lowercased()
        let models = try await catalog.models(caller: caller).filter {
            needle.isEmpty || $0.name.lowercased().contains(needle) || $0.description.lowercased().contains(needle)
        }
        return pages.render(
            "models",
            ModelsPage(
                layout: .make(context.caller, section: "/models"), search: search, searched: search.isEmpty ? [] : [search],
                models: models.map {
                    .init(
                        name: $0.name, href: "/models/\(Self.segment($0.name))", namespace: $0.namespace, project: $0.project,
                        latest: $0.latestVersion.map { "v\($0)" } ?? "—",
                        aliases: $0.aliases.sorted { $0.key < $1.key }.map { "@\($0.key) → v\($0.value)" }.joined(separator: ", "),
                        description: $0.description, updated: Self.time($0.lastUpdatedTime))
                }))
    }

    @Sendable func modelPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let view = try await api.model(request, context: context)
        return pages.render(
            "model",
            ModelPage(
                layout: .make(context.caller, section: "/models"), model: view.model, href: "/models/\(Self.segment(view.model.name))",
                aliases: view.model.aliases.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: "v\($0.value)") },
                tags: view.model.tags.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: $0.value) },
                versions: view.versions.map {
                    .init(
                        version: $0.version, stage: $0.stage, approved: $0.approved, aliases: $0.aliases.map { "@\($0)" }.joined(separator: " "),
                        run: $0.runId.map { [$0] } ?? [], created: Self.time($0.creationTime), user: $0.user, description: $0.description)
                }))
    }

    @Sendable func versionPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let view = try await api.modelVersion(request, context: context)
        return pages.render(
            "model_version",
            ModelVersionDetailPage(
                layout: .make(context.caller, section: "/models"), version: view, modelHref: "/models/\(Self.segment(view.name))",
                created: Self.time(view.creationTime),
                aliases: view.aliases.map { "@\($0)" }.joined(separator: " "),
                tags: view.tags.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: $0.value) },
                run: view.run.map { [$0] } ?? [], experiment: view.experiment.map { [$0] } ?? [],
                hiddenRun: view.run == nil && view.runId != nil, fromFiles: view.runId == nil,
                inputs: view.inputs.map { input in
                    RunDetailPage.Input(input)
                }))
    }

    // MARK: - Formatting

    /// `?a=1&b=x%20y`, with every value percent-encoded; empty values are left out.
    static func query(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let parts = pairs.filter { !$0.1.isEmpty }.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    /// A name as one URL path segment.
    static func segment(_ name: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name
    }

    static func time(_ millis: Int64) -> String { Date(timeIntervalSince1970: Double(millis) / 1000).pageText }

    static func duration(_ info: RunInfo) -> String {
        guard let end = info.endTime, end >= info.startTime else { return info.status == .running ? "running" : "" }
        let seconds = Double(end - info.startTime) / 1000
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        if seconds < 3600 { return String(format: "%.1f min", seconds / 60) }
        return String(format: "%.1f h", seconds / 3600)
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "∞" : "−∞" }
        if value == value.rounded(), abs(value) < 1e12 { return String(Int64(value)) }
        return String(format: "%.6g", value)
    }

    static func bytes(_ size: Int64) -> String {
        ByteCountFormatter.string(fromByteCount: size, countStyle: .binary)
    }
}

// MARK: - Page models

struct ExperimentsPage: Sendable {
    struct Row: Sendable {
        var id: String
        var name: String
        var namespace: String
        var project: String
        var updated: String
    }
    var layout: LayoutView
    var experiments: [Row]
}

struct ExperimentRunsPage: Sendable {
    struct Choice: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }
    struct Column: Sendable {
        var key: String
        var checked: Bool
    }
    struct Header: Sendable {
        var label: String
        var href: String
        var arrow: String
    }
    struct Row: Sendable {
        var id: String
        var name: String
        var status: String
        var started: String
        var duration: String
        var cells: [String]
        var deleted: Bool
    }
    var layout: LayoutView
    var experiment: ExperimentSummary
    var filter: String
    var orderBy: String
    var views: [Choice]
    var problem: [String]
    var metricChoices: [Column]
    var paramChoices: [Column]
    var headers: [Header]
    var rows: [Row]
    var count: Int
    var truncated: Bool
    var shownCount: Int
}

struct RunDetailPage: Sendable {
    struct Pair: Sendable {
        var key: String
        var value: String
    }
    struct Link: Sendable {
        var name: String
        var href: String
    }
    struct Metric: Sendable {
        var key: String
        var value: String
        var step: Int64
    }
    struct Chart: Sendable {
        var key: String
        var svg: String
    }
    /// A dataset input; `href` (none or one) links a Slipway dataset version the caller may read.
    struct Input: Sendable {
        var name: String
        var source: String
        var context: [String]
        var href: [String]
        init(_ input: RunInputView) {
            name = input.name
            source = input.source
            context = input.context.map { [$0] } ?? []
            href = input.dataset.map { ["/namespaces/\($0.namespace)/projects/\($0.project)/datasets/\($0.dataset)?version=\($0.version)"] } ?? []
        }
    }
    struct Version: Sendable {
        var name: String
        var version: Int
        var stage: String
        var approved: Bool
        var href: String
        init(_ reference: ModelVersionRef) {
            name = reference.name
            version = reference.version
            stage = reference.stage
            approved = reference.approved
            href = "/models/\(TrackingPages.segment(reference.name))/versions/\(reference.version)"
        }
    }
    struct Crumb: Sendable {
        var name: String
        var href: String
    }
    struct Entry: Sendable {
        var name: String
        var isDir: Bool
        var size: String
        var href: String
    }
    struct Preview: Sendable {
        var name: String
        var size: String
        var download: String
        /// The image's address, when it is one; the text shown, when it is text.
        var image: [String]
        var text: [String]
        var truncated: Bool
        var binary: Bool
    }
    var layout: LayoutView
    var run: RunSummary
    var experiment: ExperimentSummary
    var started: String
    var duration: String
    var params: [Pair]
    var metrics: [Metric]
    var charts: [Chart]
    var tags: [Pair]
    var systemTags: [Pair]
    var inputs: [Input]
    var code: [Pair]
    /// The job that ran it (its page), for a run made by a training job.
    var job: [Link]
    var parent: [String]
    var children: [String]
    var loggedModels: [LoggedModelRef]
    var modelVersions: [Version]
    var crumbs: [Crumb]
    var entries: [Entry]
    var preview: [Preview]
}

struct ComparePage: Sendable {
    struct Run: Sendable {
        var id: String
        var name: String
        var status: String
        var experimentId: String
        var colour: String
    }
    struct Row: Sendable {
        var key: String
        var values: [String]
        var differs: Bool
    }
    var layout: LayoutView
    var runs: [Run]
    var params: [Row]
    var metrics: [Row]
    var charts: [RunDetailPage.Chart]
    var differing: Int
}

struct ModelsPage: Sendable {
    struct Row: Sendable {
        var name: String
        var href: String
        var namespace: String
        var project: String
        var latest: String
        var aliases: String
        var description: String
        var updated: String
    }
    var layout: LayoutView
    var search: String
    var searched: [String]
    var models: [Row]
}

struct ModelPage: Sendable {
    struct Version: Sendable {
        var version: Int
        var stage: String
        var approved: Bool
        var aliases: String
        var run: [String]
        var created: String
        var user: String
        var description: String
    }
    var layout: LayoutView
    var model: ModelSummary
    var href: String
    var aliases: [RunDetailPage.Pair]
    var tags: [RunDetailPage.Pair]
    var versions: [Version]
}

struct ModelVersionDetailPage: Sendable {
    var layout: LayoutView
    var version: ModelVersionView
    var modelHref: String
    var created: String
    var aliases: String
    var tags: [RunDetailPage.Pair]
    var run: [RunSummary]
    var experiment: [ExperimentSummary]
    var hiddenRun: Bool
    var fromFiles: Bool
    var inputs: [RunDetailPage.Input]
}
