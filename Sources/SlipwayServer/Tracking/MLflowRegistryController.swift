import Foundation
import HTTPTypes
import Hummingbird
import SlipwayDomain
import SlipwayStore
import SlipwayTracking

/// MLflow's model registry REST API: registered models and versions, tags, aliases, stages, and the
/// download URI that `models:/name/1` and `models:/name@alias` resolve through.
///
/// A registered model lives in a project: `namespace.project.model` (three dot-separated parts, the
/// Unity Catalog convention) places it; any other name lands in the default project. A version's files
/// must be in Slipway's artifact store (`runs:/…`, `models:/m-…` or `mlflow-artifacts:/…`).
struct MLflowRegistryController: Sendable {
    let tracking: MLflowTrackingController
    var store: MetadataStore { tracking.store }

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("registered-models/create", use: createModel)
        group.get("registered-models/get", use: getModel)
        group.post("registered-models/rename", use: renameModel)
        group.patch("registered-models/update", use: updateModel)
        group.delete("registered-models/delete", use: deleteModel)
        group.get("registered-models/search", use: searchModels)
        group.post("registered-models/set-tag", use: setModelTag)
        group.delete("registered-models/delete-tag", use: deleteModelTag)
        group.post("registered-models/get-latest-versions", use: latestVersions)
        group.get("registered-models/get-latest-versions", use: latestVersions)
        group.post("registered-models/alias", use: setAlias)
        group.delete("registered-models/alias", use: deleteAlias)
        group.get("registered-models/alias", use: versionByAlias)
        group.post("model-versions/create", use: createVersion)
        group.get("model-versions/get", use: getVersion)
        group.patch("model-versions/update", use: updateVersion)
        group.delete("model-versions/delete", use: deleteVersion)
        group.get("model-versions/search", use: searchVersions)
        group.post("model-versions/set-tag", use: setVersionTag)
        group.delete("model-versions/delete-tag", use: deleteVersionTag)
        group.post("model-versions/transition-stage", use: transitionStage)
        group.get("model-versions/get-download-uri", use: downloadURI)
    }

    /// Every request body of the registry: the fields each call uses.
    struct Body: Decodable {
        var name: String?
        var newName: String?
        var description: String?
        var tags: [MLflowWire.Tag]?
        var key: String?
        var value: String?
        var alias: String?
        var version: String?
        var stages: [String]?
        var stage: String?
        var archiveExistingVersions: Bool?
        var source: String?
        var runId: String?
        var runLink: String?
        var modelId: String?
        var filter: String?
        var maxResults: WireInt?
        var orderBy: [String]?
        var pageToken: String?

        enum CodingKeys: String, CodingKey {
            case name, newName, description, tags, key, value, alias, version, stages, stage, archiveExistingVersions, source, runId, runLink
            case modelId, filter, maxResults, orderBy, pageToken
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            newName = try container.decodeIfPresent(String.self, forKey: .newName)
            description = try container.decodeIfPresent(String.self, forKey: .description)
            tags = try container.decodeIfPresent([MLflowWire.Tag].self, forKey: .tags)
            key = try container.decodeIfPresent(String.self, forKey: .key)
            value = try container.decodeIfPresent(String.self, forKey: .value)
            alias = try container.decodeIfPresent(String.self, forKey: .alias)
            // Versions travel as strings, but numbers are accepted too.
            if let text = try? container.decodeIfPresent(String.self, forKey: .version) {
                version = text
            } else {
                version = try container.decodeIfPresent(WireInt.self, forKey: .version).map { String($0.value) }
            }
            stages = try container.decodeIfPresent([String].self, forKey: .stages)
            stage = try container.decodeIfPresent(String.self, forKey: .stage)
            if let flag = try? container.decodeIfPresent(Bool.self, forKey: .archiveExistingVersions) {
                archiveExistingVersions = flag
            } else {
                archiveExistingVersions = try container.decodeIfPresent(String.self, forKey: .archiveExistingVersions).map { $0 == "true" }
            }
            source = try container.decodeIfPresent(String.self, forKey: .source)
            runId = try container.decodeIfPresent(String.self, forKey: .runId)
            runLink = try container.decodeIfPresent(String.self, forKey: .runLink)
            modelId = try container.decodeIfPresent(String.self, forKey: .modelId)
            filter = try container.decodeIfPresent(String.self, forKey: .filter)
            maxResults = try container.decodeIfPresent(WireInt.self, forKey: .maxResults)
            orderBy = try container.decodeIfPresent([String].self, forKey: .orderBy)
            pageToken = try container.decodeIfPresent(String.self, forKey: .pageToken)
        }
    }

    private func body(_ request: Request, _ context: AppRequestContext) async throws -> Body {
        try await MLflowTrackingController.decode(Body.self, request, context, lists: ["stages", "order_by"])
    }

    // MARK: - Registered models

    @Sendable func createModel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let name = try Self.modelName(body.name)
        let caller = try tracking.caller(context)
        let project = try await project(forModelNamed: name, caller: caller)
        do {
            try await store.registry.createModel(
                name: name, in: project, description: body.description ?? "", tags: try MLflowTrackingController.keyValues(body.tags, what: "tag"),
                by: caller.auditActor)
        } catch let error as StoreError where error.isAlreadyExists {
            throw MLflowError.exists("Registered Model (name=\(name)) already exists.")
        }
        return try MLflowWire.response(["registered_model": try await wireModel(name)])
    }

    @Sendable func getModel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(try await body(request, context).name, context, requires: .viewer)
        return try MLflowWire.response(["registered_model": try await wireModel(model.name)])
    }

    @Sendable func renameModel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .developer)
        let newName = try Self.modelName(body.newName)
        let target = try await project(forModelNamed: newName, caller: try tracking.caller(context))
        guard target.id == model.projectID else { throw MLflowError.invalid("renaming cannot move a model to another project ('\(newName)')") }
        do {
            try await store.registry.renameModel(model.name, to: newName, by: try tracking.caller(context).auditActor)
        } catch let error as StoreError where error.isAlreadyExists {
            throw MLflowError.exists("Registered Model (name=\(newName)) already exists.")
        }
        return try MLflowWire.response(["registered_model": try await wireModel(newName)])
    }

    @Sendable func updateModel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .developer)
        if let description = body.description {
            try MLflowTrackingController.check(description, what: "description", limit: 50_000)
            try await store.registry.updateModel(model.name, description: description)
        }
        return try MLflowWire.response(["registered_model": try await wireModel(model.name)])
    }

    @Sendable func deleteModel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let model = try await model(try await body(request, context).name, context, requires: .maintainer)
        try await store.registry.deleteModel(model.name, by: try tracking.caller(context).auditActor)
        return MLflowWire.empty
    }

    @Sendable func searchModels(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let filter = try MLflowTrackingController.parse { try RegistryFilter.parse(body.filter ?? "") }
        let ordering = try MLflowTrackingController.parse { try RegistryOrdering.parse(body.orderBy ?? []) }
        let maxResults = try MLflowTrackingController.maxResults(body.maxResults, default: 100, limit: 1000)
        let models = try await store.registry.models(inNamespaces: try await visibleNamespaces(context))
            .map { (model: $0, fields: RegistrySearchFields($0)) }
            .filter { filter.matches($0.fields) }
        let page = try MLflowTrackingController.page(
            ordering.sorted(models, by: \.fields), token: body.pageToken, maxResults: maxResults,
            query: "registered|\(body.filter ?? "")|\((body.orderBy ?? []).joined(separator: ","))")
        var wire: [WireRegisteredModel] = []
        for entry in page.items { wire.append(try await wireModel(entry.model.name)) }
        return try MLflowWire.response(RegisteredModelPage(registeredModels: wire, nextPageToken: page.next))
    }

    @Sendable func setModelTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .developer)
        try await store.registry.setModelTag(model.name, try MLflowTrackingController.keyValue(body.key, body.value, what: "tag"))
        return MLflowWire.empty
    }

    @Sendable func deleteModelTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .developer)
        let key = try MLflowTrackingController.key(body.key, what: "tag")
        guard try await store.registry.deleteModelTag(model.name, key: key) else {
            throw MLflowError.notFound("No tag with key '\(key)' on registered model '\(model.name)'")
        }
        return MLflowWire.empty
    }

    /// The newest version in each of `stages` (every stage when none is named).
    @Sendable func latestVersions(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .viewer)
        let stages = try (body.stages ?? []).map { text in
            guard let stage = ModelStage(caseInsensitive: text) else {
                throw MLflowError.invalid(
                    "Invalid Model Version stage: \(text.prefix(40)). Value must be one of None, Staging, Production, Archived.")
            }
            return stage
        }
        let latest = Self.latestPerStage(try await store.registry.versions(of: model.name), stages: stages.isEmpty ? nil : Set(stages))
        return try MLflowWire.response(["model_versions": latest.map { WireModelVersion($0, aliases: model.aliases) }])
    }

    @Sendable func setAlias(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .developer)
        let alias = try Self.alias(body.alias)
        let number = try Self.versionNumber(body.version)
        do {
            try await store.registry.setAlias(model.name, alias: alias, version: number)
        } catch let error as StoreError where error.isNotFound {
            throw MLflowError.notFound("Model Version (name=\(model.name), version=\(number)) not found")
        }
        return MLflowWire.empty
    }

    @Sendable func deleteAlias(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .developer)
        let alias = try Self.alias(body.alias)
        guard try await store.registry.deleteAlias(model.name, alias: alias) else {
            throw MLflowError.notFound("Registered model alias \(alias) not found.")
        }
        return MLflowWire.empty
    }

    @Sendable func versionByAlias(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .viewer)
        let alias = try Self.alias(body.alias)
        guard let number = model.aliases[alias], let version = try await store.registry.version(model.name, number) else {
            throw MLflowError.notFound("Registered model alias \(alias) not found.")
        }
        return try MLflowWire.response(["model_version": WireModelVersion(version, aliases: model.aliases)])
    }

    // MARK: - Versions

    @Sendable func createVersion(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let model = try await model(body.name, context, requires: .developer)
        let caller = try tracking.caller(context)
        guard let source = body.source, !source.isEmpty else { throw MLflowError.invalid("Missing value for required parameter 'source'") }
        try MLflowTrackingController.check(source, what: "source", limit: 4000)
        var runID = body.runId.flatMap { $0.isEmpty ? nil : $0 }
        var modelID = body.modelId.flatMap { $0.isEmpty ? nil : $0 }
        let storage: String
        if source.hasPrefix("models:/m-") {
            let id = String(source.dropFirst("models:/".count).prefix { $0 != "/" })
            guard let logged = try await store.loggedModels.model(id: id) else { throw MLflowError.notFound("Logged model '\(id)' not found") }
            _ = try await tracking.experiment(logged.experimentID, context, requires: .viewer)
            storage = logged.artifactURI + String(source.dropFirst("models:/".count + id.count))
            modelID = modelID ?? logged.modelID
            runID = runID ?? logged.sourceRunID
        } else if source.hasPrefix("runs:/") {
            let rest = source.dropFirst("runs:/".count)
            let id = String(rest.prefix { $0 != "/" })
            let (run, _) = try await tracking.run(id, context, requires: .viewer)
            let path = rest.dropFirst(id.count).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            storage = run.artifactURI + (path.isEmpty ? "" : "/" + path)
            runID = runID ?? run.runID
        } else if source.hasPrefix(MLflowTrackingController.artifactRoot) {
            let path = String(source.dropFirst(MLflowTrackingController.artifactRoot.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            _ = try MLflowArtifactController.path(path.split(separator: "/").map(Substring.init))
            _ = try await tracking.experiment(String(path.prefix { $0 != "/" }), context, requires: .viewer)
            storage = source
        } else {
            throw MLflowError.invalid(
                "the model's files must be in Slipway's artifact store: a runs:/, models:/m-… or mlflow-artifacts:/ URI, not '\(source.prefix(200))'")
        }
        if let runID { _ = try await tracking.run(runID, context, requires: .viewer) }
        let now = MLflowTrackingController.millis(tracking.now())
        let version = try await store.registry.createVersion(
            ModelVersion(
                name: model.name, version: 0, creationTime: now, lastUpdatedTime: now, description: body.description ?? "",
                userID: caller.user.username.value, stage: .none, source: source, runID: runID, runLink: body.runLink, modelID: modelID,
                storageLocation: storage, approved: false, tags: try MLflowTrackingController.keyValues(body.tags, what: "tag")),
            by: caller.auditActor)
        return try MLflowWire.response(["model_version": WireModelVersion(version, aliases: model.aliases)])
    }

    @Sendable func getVersion(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (model, version) = try await version(try await body(request, context), context, requires: .viewer)
        return try MLflowWire.response(["model_version": WireModelVersion(version, aliases: model.aliases)])
    }

    @Sendable func updateVersion(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let (model, version) = try await version(body, context, requires: .developer)
        if let description = body.description {
            try MLflowTrackingController.check(description, what: "description", limit: 50_000)
            try await store.registry.updateVersion(model.name, version.version, description: description)
        }
        guard let updated = try await store.registry.version(model.name, version.version) else { throw MLflowError.notFound("version vanished") }
        return try MLflowWire.response(["model_version": WireModelVersion(updated, aliases: model.aliases)])
    }

    @Sendable func deleteVersion(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (model, version) = try await version(try await body(request, context), context, requires: .maintainer)
        try await store.registry.deleteVersion(model.name, version.version, by: try tracking.caller(context).auditActor)
        return MLflowWire.empty
    }

    @Sendable func searchVersions(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let filter = try MLflowTrackingController.parse { try RegistryFilter.parse(body.filter ?? "") }
        let ordering = try MLflowTrackingController.parse { try RegistryOrdering.parse(body.orderBy ?? []) }
        let maxResults = try MLflowTrackingController.maxResults(body.maxResults, default: 10_000, limit: 200_000)
        let namespaces = try await visibleNamespaces(context)
        var aliases: [String: [String: Int]] = [:]
        for model in try await store.registry.models(inNamespaces: namespaces) { aliases[model.name] = model.aliases }
        let versions = try await store.registry.allVersions(inNamespaces: namespaces)
            .map { (version: $0, fields: RegistrySearchFields($0)) }
            .filter { filter.matches($0.fields) }
        let page = try MLflowTrackingController.page(
            ordering.sorted(versions, by: \.fields), token: body.pageToken, maxResults: maxResults,
            query: "versions|\(body.filter ?? "")|\((body.orderBy ?? []).joined(separator: ","))")
        return try MLflowWire.response(
            ModelVersionPage(
                modelVersions: page.items.map { WireModelVersion($0.version, aliases: aliases[$0.version.name] ?? [:]) }, nextPageToken: page.next))
    }

    @Sendable func setVersionTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let (model, version) = try await version(body, context, requires: .developer)
        try await store.registry.setVersionTag(model.name, version.version, try MLflowTrackingController.keyValue(body.key, body.value, what: "tag"))
        return MLflowWire.empty
    }

    @Sendable func deleteVersionTag(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        let (model, version) = try await version(body, context, requires: .developer)
        let key = try MLflowTrackingController.key(body.key, what: "tag")
        guard try await store.registry.deleteVersionTag(model.name, version.version, key: key) else {
            throw MLflowError.notFound("No tag with key '\(key)' on model version \(model.name)/\(version.version)")
        }
        return MLflowWire.empty
    }

    /// Moves a version to a stage; Production needs a maintainer (it changes what serves traffic).
    @Sendable func transitionStage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await body(request, context)
        guard let text = body.stage, let stage = ModelStage(caseInsensitive: text) else {
            throw MLflowError.invalid(
                "Invalid Model Version stage: \((body.stage ?? "").prefix(40)). Value must be one of None, Staging, Production, Archived.")
        }
        let (model, version) = try await version(body, context, requires: stage == .production ? .maintainer : .developer)
        try await store.registry.transition(
            model.name, version.version, to: stage, archiveOthers: body.archiveExistingVersions ?? false, by: try tracking.caller(context).auditActor)
        guard let updated = try await store.registry.version(model.name, version.version) else { throw MLflowError.notFound("version vanished") }
        return try MLflowWire.response(["model_version": WireModelVersion(updated, aliases: model.aliases)])
    }

    @Sendable func downloadURI(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (_, version) = try await version(try await body(request, context), context, requires: .viewer)
        return try MLflowWire.response(["artifact_uri": version.storageLocation])
    }

    // MARK: - Access and helpers

    private func visibleNamespaces(_ context: AppRequestContext) async throws -> [UUID]? {
        let caller = try tracking.caller(context)
        return try await caller.visibleNamespaces(store: store)
    }

    private func model(_ name: String?, _ context: AppRequestContext, requires required: Role) async throws -> RegisteredModel {
        guard let name, !name.isEmpty else { throw MLflowError.invalid("Missing value for required parameter 'name'") }
        let caller = try tracking.caller(context)
        guard let model = try await store.registry.model(named: name) else {
            throw MLflowError.notFound("Registered Model with name=\(name.prefix(200)) not found")
        }
        let role = try await caller.role(in: model.namespaceID, store: store)
        guard let role else { throw MLflowError.notFound("Registered Model with name=\(name.prefix(200)) not found") }
        guard role.includes(required) else {
            throw MLflowError.denied("your role in the model's namespace is \(role); this needs \(required) or higher")
        }
        return model
    }

    private func version(_ body: Body, _ context: AppRequestContext, requires required: Role) async throws -> (RegisteredModel, ModelVersion) {
        let model = try await model(body.name, context, requires: required)
        let number = try Self.versionNumber(body.version)
        guard let version = try await store.registry.version(model.name, number) else {
            throw MLflowError.notFound("Model Version (name=\(model.name), version=\(number)) not found")
        }
        return (model, version)
    }

    private func project(forModelNamed name: String, caller: Caller) async throws -> Project {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) {
            return try await tracking.project(forExperimentNamed: parts.joined(separator: "/"), caller: caller)
        }
        return try await tracking.project(forExperimentNamed: name, caller: caller)
    }

    private func wireModel(_ name: String) async throws -> WireRegisteredModel {
        guard let model = try await store.registry.model(named: name) else { throw MLflowError.notFound("Registered Model \(name) not found") }
        let latest = Self.latestPerStage(try await store.registry.versions(of: name), stages: nil)
        return WireRegisteredModel(model, latest: latest)
    }

    static func latestPerStage(_ versions: [ModelVersion], stages: Set<ModelStage>?) -> [ModelVersion] {
        var latest: [ModelStage: ModelVersion] = [:]
        for version in versions where stages?.contains(version.stage) ?? true {
            if let current = latest[version.stage], current.version > version.version { continue }
            latest[version.stage] = version
        }
        return latest.values.sorted { $0.version < $1.version }
    }

    static func modelName(_ name: String?) throws -> String {
        guard let name = name?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            throw MLflowError.invalid("Missing value for required parameter 'name'")
        }
        try MLflowTrackingController.check(name, what: "model name", limit: 256)
        guard !name.contains("/"), !name.contains(":") else {
            throw MLflowError.invalid("Invalid model name '\(name.prefix(80))': it may not contain '/' or ':' (models:/ URIs use them)")
        }
        return name
    }

    static func alias(_ alias: String?) throws -> String {
        guard let alias, !alias.isEmpty, alias.count <= 255, alias.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw MLflowError.invalid("An alias is 1 to 255 letters, digits, '_' or '-'")
        }
        guard !(alias.lowercased() == "latest"), !(alias.lowercased().hasPrefix("v") && Int(alias.dropFirst()) != nil) else {
            throw MLflowError.invalid("'\(alias)' is reserved and cannot be an alias")
        }
        return alias
    }

    static func versionNumber(_ text: String?) throws -> Int {
        guard let text, let number = Int(text), number > 0 else {
            throw MLflowError.invalid("Parameter 'version' must be a positive integer, not '\((text ?? "").prefix(40))'")
        }
        return number
    }
}

struct WireModelVersion: Encodable {
    struct Alias: Encodable {
        var alias: String
        var version: String
    }
    var name: String
    var version: String
    var creationTimestamp: Int64
    var lastUpdatedTimestamp: Int64
    var userId: String
    var currentStage: String
    var description: String
    var source: String
    var runId: String?
    var runLink: String?
    var modelId: String?
    var status: String
    var statusMessage: String
    var tags: [MLflowWire.Tag]
    var aliases: [String]

    init(_ version: ModelVersion, aliases: [String: Int]) {
        name = version.name
        self.version = String(version.version)
        creationTimestamp = version.creationTime
        lastUpdatedTimestamp = version.lastUpdatedTime
        userId = version.userID
        currentStage = version.stage.rawValue
        description = version.description
        source = version.source
        runId = version.runID
        runLink = version.runLink
        modelId = version.modelID
        status = "READY"
        statusMessage = ""
        tags = version.tags.map { MLflowWire.Tag(key: $0.key, value: $0.value) }
        self.aliases = aliases.filter { $0.value == version.version }.map(\.key).sorted()
    }
}

struct WireRegisteredModel: Encodable {
    var name: String
    var creationTimestamp: Int64
    var lastUpdatedTimestamp: Int64
    var description: String
    var latestVersions: [WireModelVersion]
    var tags: [MLflowWire.Tag]
    var aliases: [WireModelVersion.Alias]

    init(_ model: RegisteredModel, latest: [ModelVersion]) {
        name = model.name
        creationTimestamp = model.creationTime
        lastUpdatedTimestamp = model.lastUpdatedTime
        description = model.description
        latestVersions = latest.map { WireModelVersion($0, aliases: model.aliases) }
        tags = model.tags.map { MLflowWire.Tag(key: $0.key, value: $0.value) }
        aliases = model.aliases.sorted { $0.key < $1.key }.map { WireModelVersion.Alias(alias: $0.key, version: String($0.value)) }
    }
}

struct RegisteredModelPage: Encodable {
    var registeredModels: [WireRegisteredModel]
    var nextPageToken: String?
}

struct ModelVersionPage: Encodable {
    var modelVersions: [WireModelVersion]
    var nextPageToken: String?
}

extension RegistrySearchFields {
    init(_ model: RegisteredModel) {
        self.init(
            name: model.name, creationTime: model.creationTime, lastUpdatedTime: model.lastUpdatedTime,
            tags: Dictionary(model.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }))
    }

    init(_ version: ModelVersion) {
        self.init(
            name: version.name, version: String(version.version), runID: version.runID, source: version.source,
            creationTime: version.creationTime, lastUpdatedTime: version.lastUpdatedTime,
            tags: Dictionary(version.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }))
    }
}
