import Foundation
import Hummingbird
import SlipwayData
import SlipwayDomain
import SlipwayStore

/// The web UI of the Data area: a project's datasets, a dataset with its versions and statistics,
/// a record browser, and the diff between two versions. Access rules are the API's (``DatasetController``).
struct DataPages: Sendable {
    let pages: PageRenderer
    let store: MetadataStore
    let datasets: DatasetController
    /// The project page also lists the project's experiments and models.
    let tracking: TrackingCatalog

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("datasets", use: searchPage)
        group.get("namespaces/{namespace}/projects/{project}", use: projectPage)
        group.get("namespaces/{namespace}/projects/{project}/datasets/{dataset}", use: datasetPage)
        group.post("namespaces/{namespace}/projects/{project}/datasets/{dataset}/visibility", use: setVisibility)
        group.get("namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions/{version}/records", use: recordsPage)
        group.get("namespaces/{namespace}/projects/{project}/datasets/{dataset}/diff", use: diffPage)
    }

    /// Datasets the user may read across namespaces, found by name or description.
    @Sendable func searchPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try datasets.access.caller(context)
        let text = request.uri.queryParameters["search"].map(String.init) ?? ""
        try validText(text, field: "search", limit: 200)
        let found = try await store.datasets.search(
            text, visibleTo: caller.user.id, seesEverything: caller.user.isAdmin, onlyIn: caller.jobScope?.namespaceID)
        let rows = found.map {
            ProjectPage.Row(
                namespace: $0.namespace, project: $0.project, name: $0.dataset.name.value, task: $0.dataset.taskType.rawValue,
                visibility: $0.dataset.visibility.rawValue, latest: $0.dataset.latestVersion.map { "v\($0)" } ?? "—",
                description: $0.dataset.description)
        }
        return pages.render(
            "datasets", DatasetSearchPage(layout: .make(context.caller, section: "/datasets"), search: text, datasets: rows))
    }

    @Sendable func projectPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (access, project) = try await datasets.access.project(context, requires: .viewer)
        let namespace = access.namespace.name.value
        let privateToo = try await datasets.access.seesPrivateDatasets(access.caller, in: project, namespaceRole: access.role)
        let rows = try await store.datasets.list(in: project, includingPrivate: privateToo).map {
            ProjectPage.Row(
                namespace: namespace, project: project.name.value, name: $0.name.value, task: $0.taskType.rawValue,
                visibility: $0.visibility.rawValue, latest: $0.latestVersion.map { "v\($0)" } ?? "—", description: $0.description)
        }
        var names = TrackingCatalog.PlaceNames()
        var experiments: [ExperimentSummary] = []
        for experiment in try await store.tracking.experiments(inNamespaces: [project.namespaceID])
        where experiment.projectID == project.id && experiment.lifecycleStage == .active {
            experiments.append(try await tracking.summary(experiment, names: &names))
        }
        let models = try await tracking.models(caller: access.caller, in: project).map {
            ProjectPage.Model(
                name: $0.name, href: "/models/\(TrackingPages.segment($0.name))", latest: $0.latestVersion.map { "v\($0)" } ?? "—",
                description: $0.description)
        }
        return pages.render(
            "project",
            ProjectPage(
                layout: .make(context.caller, section: "/namespaces"), namespace: namespace,
                project: .init(name: project.name.value, description: project.description), datasets: rows, experiments: experiments,
                models: models))
    }

    @Sendable func datasetPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await datasetPage(request, context: context, flash: nil, status: .ok)
    }

    /// The visibility form of the dataset page (maintainers of the dataset): changes it through the API's rules.
    @Sendable func setVisibility(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try datasets.access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        do {
            guard let text = form.text("visibility"), let visibility = Visibility(rawValue: text) else {
                throw APIError.invalidField("visibility", "must be private, namespace or public")
            }
            _ = try await datasets.update(UpdateDatasetRequest(visibility: visibility), context: context)
            // After making it private, someone who cannot see private datasets would get a 404 here: show the project.
            guard let target = try? await datasets.target(context, requires: .viewer) else {
                let namespace = try context.parameters.require("namespace")
                return ComputePages.redirect("/namespaces/\(namespace)/projects/\(try context.parameters.require("project"))")
            }
            return ComputePages.redirect(Self.base(target))
        } catch let error as APIError where error.status != .notFound {
            return try await datasetPage(request, context: context, flash: .init(kind: "error", message: error.message), status: error.status)
        }
    }

    private func datasetPage(
        _ request: Request, context: AppRequestContext, flash: LayoutView.Flash?, status: HTTPResponse.Status
    ) async throws -> Response {
        let target = try await datasets.target(context, requires: .viewer)
        let versions = try await store.datasets.versions(of: target.dataset)
        let selectedNumber = request.uri.queryParameters["version"].flatMap { Int(String($0)) } ?? target.dataset.latestVersion
        var selected: DatasetPage.VersionView?
        if let selectedNumber, let stored = try await store.datasets.version(selectedNumber, of: target.dataset) {
            selected = .init(try DatasetController.manifest(stored), number: selectedNumber)
            let lineage = try await datasets.lineage(of: target, version: selectedNumber, caller: try datasets.access.caller(context))
            selected?.runs = lineage.runs.map {
                .init(id: $0.runId, name: $0.runName, experiment: $0.experimentName, status: $0.status, context: $0.context ?? "")
            }
            selected?.models = lineage.modelVersions.map {
                .init(
                    name: $0.name, version: $0.version, stage: $0.stage,
                    href: "/models/\(TrackingPages.segment($0.name))/versions/\($0.version)")
            }
            selected?.hasLineage = !lineage.runs.isEmpty
            selected?.hasModels = !lineage.modelVersions.isEmpty
        } else if request.uri.queryParameters["version"] != nil {
            throw APIError.notFound("dataset '\(target.dataset.name)' has no such version")
        }
        let base = Self.base(target)
        let canChangeVisibility = target.access.role.includes(.maintainer) && target.access.caller.jobScope == nil
        let page = DatasetPage(
            layout: .make(context.caller, section: "/namespaces", flash: flash), namespace: target.access.namespace.name.value,
            project: target.project.name.value, base: base,
            dataset: .init(
                name: target.dataset.name.value, task: target.dataset.taskType.rawValue, visibility: target.dataset.visibility.rawValue,
                description: target.dataset.description),
            versions: versions.map { version in
                .init(
                    number: version.number, state: version.state.rawValue, records: version.recordCount, created: version.createdAt.pageText,
                    by: version.createdBy, message: version.message, selected: version.number == selectedNumber,
                    isPrevious: version.number == (selectedNumber ?? 0) - 1)
            },
            canDiff: versions.count > 1, version: selected.map { [$0] } ?? [],
            visibilityChoices: canChangeVisibility
                ? Visibility.allCases.map { .init(value: $0.rawValue, selected: $0 == target.dataset.visibility) } : [],
            canChangeVisibility: canChangeVisibility)
        return pages.render("dataset", page, status: status)
    }

    @Sendable func recordsPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let target = try await datasets.target(context, requires: .viewer)
        let stored = try await datasets.storedVersion(try context.parameters.require("version"), of: target.dataset)
        let manifest = try DatasetController.manifest(stored)
        let pageSize = 50
        let offset = max(0, request.uri.queryParameters["offset"].flatMap { Int(String($0)) } ?? 0)
        let columns = manifest.schema.fields.map(\.name)
        let records = try await ManifestRecords(blobs: datasets.blobs).page(of: manifest, offset: offset, limit: pageSize)
        let rows = records.map { record in
            RecordsPage.Row(
                id: record.id, thumbnail: Self.thumbnail(record, namespace: target.access.namespace.name.value),
                cells: columns.map { record.fields[$0]?.description ?? "" },
                labels: record.annotations.map { annotation in
                    switch annotation.kind {
                    case .classLabel: annotation.label ?? ""
                    case .box: "□ \(annotation.label ?? "")"
                    case .text: "“\(annotation.text ?? "")”"
                    }
                })
        }
        let base = Self.base(target)
        let here = "\(base)/versions/\(stored.version.number)/records"
        return pages.render(
            "records",
            RecordsPage(
                layout: .make(context.caller, section: "/namespaces"), namespace: target.access.namespace.name.value,
                project: target.project.name.value, dataset: target.dataset.name.value, base: base, version: stored.version.number,
                first: rows.isEmpty ? 0 : offset + 1, last: offset + rows.count, total: manifest.recordCount,
                hasImages: rows.contains { !$0.thumbnail.isEmpty }, columns: columns, rows: rows,
                previous: offset > 0 ? "\(here)?offset=\(max(0, offset - pageSize))" : "",
                next: offset + rows.count < manifest.recordCount ? "\(here)?offset=\(offset + pageSize)" : ""))
    }

    @Sendable func diffPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let target = try await datasets.target(context, requires: .viewer)
        let query = request.uri.queryParameters
        guard let from = query["from"].map(String.init), let to = query["to"].map(String.init) else {
            throw APIError.badRequest("invalid_parameter", "choose the two versions to compare")
        }
        let diff = try await datasets.diff(
            from: try await datasets.storedVersion(from, of: target.dataset), to: try await datasets.storedVersion(to, of: target.dataset))
        let classes = Set(diff.classCountsBefore.keys).union(diff.classCountsAfter.keys).sorted().map { name in
            let before = diff.classCountsBefore[name] ?? 0
            let after = diff.classCountsAfter[name] ?? 0
            return DiffPage.ClassRow(name: name, before: before, after: after, change: after >= before ? "+\(after - before)" : "\(after - before)")
        }
        return pages.render(
            "diff",
            DiffPage(
                layout: .make(context.caller, section: "/namespaces"), dataset: target.dataset.name.value, base: Self.base(target),
                from: diff.from, to: diff.to, added: diff.added, removed: diff.removed, changed: diff.changed, unchanged: diff.unchanged,
                samples: [("Added", diff.addedSample), ("Removed", diff.removedSample), ("Changed", diff.changedSample)]
                    .filter { !$0.1.isEmpty }.map { DiffPage.Sample(kind: $0.0, count: $0.1.count, ids: $0.1) },
                classes: classes))
    }

    /// An image record's thumbnail (the file itself, scaled by the browser) with its boxes drawn over it.
    static func thumbnail(_ record: DatasetRecord, namespace: String) -> [RecordsPage.Thumbnail] {
        guard let file = record.file, file.mediaType.hasPrefix("image/") else { return [] }
        let boxes = record.annotations.compactMap { annotation -> RecordsPage.Box? in
            guard annotation.kind == .box, let box = annotation.box else { return nil }
            return RecordsPage.Box(x: box.x, y: box.y, w: box.width, h: box.height, label: annotation.label ?? "")
        }
        let width = record.fields["width"]?.doubleValue ?? 0
        let height = record.fields["height"]?.doubleValue ?? 0
        return [
            RecordsPage.Thumbnail(
                src: "/api/v1/namespaces/\(namespace)/blobs/\(file.sha256)", width: width, height: height,
                hasBoxes: !boxes.isEmpty && width > 0 && height > 0, boxes: boxes)
        ]
    }

    static func base(_ target: DatasetController.Target) -> String {
        "/namespaces/\(target.access.namespace.name)/projects/\(target.project.name)/datasets/\(target.dataset.name)"
    }
}

struct ProjectPage: Sendable {
    struct ProjectView: Sendable {
        var name: String
        var description: String
    }
    struct Row: Sendable {
        var namespace: String
        var project: String
        var name: String
        var task: String
        var visibility: String
        var latest: String
        var description: String
    }
    var layout: LayoutView
    var namespace: String
    struct Model: Sendable {
        var name: String
        var href: String
        var latest: String
        var description: String
    }
    var project: ProjectView
    var datasets: [Row]
    var experiments: [ExperimentSummary]
    var models: [Model]
}

struct DatasetSearchPage: Sendable {
    var layout: LayoutView
    var search: String
    var datasets: [ProjectPage.Row]
}

struct DatasetPage: Sendable {
    struct VisibilityChoice: Sendable {
        var value: String
        var selected: Bool
    }
    struct DatasetView: Sendable {
        var name: String
        var task: String
        var visibility: String
        var description: String
    }
    struct VersionRow: Sendable {
        var number: Int
        var state: String
        var records: Int
        var created: String
        var by: String
        var message: String
        var selected: Bool
        var isPrevious: Bool
    }
    struct ClassBar: Sendable {
        var name: String
        var count: Int
        var percent: Int
    }
    struct FieldRow: Sendable {
        var name: String
        var type: String
        var count: Int
        var missing: Int
        var minimum: String
        var maximum: String
        var mean: String
    }
    struct RunUse: Sendable {
        var id: String
        var name: String
        var experiment: String
        var status: String
        var context: String
    }
    struct ModelUse: Sendable {
        var name: String
        var version: Int
        var stage: String
        /// The registry page of the version.
        var href: String
    }
    struct VersionView: Sendable {
        var number: Int
        var records: Int
        var hasLineage = false
        var hasModels = false
        var runs: [RunUse] = []
        var models: [ModelUse] = []
        var hasClasses: Bool
        var classes: [ClassBar]
        var fields: [FieldRow]

        init(_ manifest: DatasetManifest, number: Int) {
            self.number = number
            records = manifest.recordCount
            let counts = manifest.statistics.classCounts.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }
            let largest = max(counts.first?.value ?? 1, 1)
            classes = counts.map { ClassBar(name: $0.key, count: $0.value, percent: Int((Double($0.value) / Double(largest) * 100).rounded())) }
            hasClasses = !classes.isEmpty
            func format(_ value: Double?) -> String { value.map { String(format: "%g", $0) } ?? "" }
            fields = manifest.schema.fields.map { field in
                let summary = manifest.statistics.fields[field.name]
                return FieldRow(
                    name: field.name, type: field.type.rawValue, count: summary?.count ?? 0, missing: summary?.missing ?? 0,
                    minimum: format(summary?.minimum), maximum: format(summary?.maximum), mean: format(summary?.mean))
            }
        }
    }
    var layout: LayoutView
    var namespace: String
    var project: String
    var base: String
    var dataset: DatasetView
    var versions: [VersionRow]
    var canDiff: Bool
    var version: [VersionView]
    /// The visibility form's options, for those who may change it (empty otherwise).
    var visibilityChoices: [VisibilityChoice]
    /// Whether the form is shown (stored: templates read stored properties only).
    var canChangeVisibility: Bool
}

struct RecordsPage: Sendable {
    struct Box: Sendable {
        var x: Double
        var y: Double
        var w: Double
        var h: Double
        var label: String
    }
    struct Thumbnail: Sendable {
        var src: String
        var width: Double
        var height: Double
        var hasBoxes: Bool
        var boxes: [Box]
    }
    struct Row: Sendable {
        var id: String
        var thumbnail: [Thumbnail]
        var cells: [String]
        var labels: [String]
    }
    var layout: LayoutView
    var namespace: String
    var project: String
    var dataset: String
    var base: String
    var version: Int
    var first: Int
    var last: Int
    var total: Int
    var hasImages: Bool
    var columns: [String]
    var rows: [Row]
    var previous: String
    var next: String
}

struct DiffPage: Sendable {
    struct ClassRow: Sendable {
        var name: String
        var before: Int
        var after: Int
        var change: String
    }
    var layout: LayoutView
    var dataset: String
    var base: String
    var from: Int
    var to: Int
    var added: Int
    var removed: Int
    var changed: Int
    var unchanged: Int
    struct Sample: Sendable {
        var kind: String
        var count: Int
        var ids: [String]
    }
    var samples: [Sample]
    var classes: [ClassRow]
}
