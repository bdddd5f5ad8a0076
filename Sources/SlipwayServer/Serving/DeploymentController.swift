import Foundation
import HTTPTypes
import Hummingbird
import SlipwayDomain
import SlipwayServing
import SlipwayStore

extension Deployment: ResponseEncodable {}
extension DeploymentDetail: ResponseEncodable {}
extension DeploymentMetrics: ResponseEncodable {}

/// Online services: deployments of registered model versions, made in a project and served by the gateway at
/// `/v2/models/{name}`. Every change of what runs makes a new immutable revision; the deployment loop
/// (``DeploymentService``) rolls it out, and `rollback` makes a new revision from an older one.
struct DeploymentController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy
    let metrics: GatewayMetrics
    let gateway: InferenceGateway
    let now: @Sendable () -> Date

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post("namespaces/{namespace}/projects/{project}/deployments", use: create)
        api.get("namespaces/{namespace}/projects/{project}/deployments", use: projectDeployments)
        api.get("deployments", use: list)
        api.get("deployments/{deployment}", use: show)
        api.patch("deployments/{deployment}", use: update)
        api.post("deployments/{deployment}/scale", use: scale)
        api.post("deployments/{deployment}/rollback", use: rollback)
        api.delete("deployments/{deployment}", use: delete)
        api.get("deployments/{deployment}/metrics", use: recentMetrics)
    }

    // MARK: - Routes

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Created<DeploymentDetail> {
        let (namespace, project) = try await access.project(context, requires: .developer)
        let body = try await request.decodeJSON(CreateDeploymentRequest.self, context: context)
        let name = try validName(body.name, field: "name").value
        let description = body.description ?? ""
        try validText(description, field: "description", limit: 2000)
        let spec = try Self.validated(body.spec)
        let production = body.production ?? false
        if production, namespace.role < .maintainer {
            throw APIError.forbidden("marking a deployment production needs maintainer or higher in namespace '\(namespace.namespace.name)'")
        }
        if body.isPublic == true, namespace.role < .maintainer {
            // A public deployment answers anyone who can reach the server, token or not.
            throw APIError.forbidden("making a deployment public needs maintainer or higher in namespace '\(namespace.namespace.name)'")
        }
        let models = try await resolve(spec, production: production, context: context)
        let time = now()
        let deployment = Deployment(
            id: UUID(), name: name, namespace: namespace.namespace.name.value, project: project.name.value, description: description,
            production: production, isPublic: body.isPublic ?? false, revision: 1, servingRevision: nil, spec: spec, state: .rollingOut,
            reason: "revision 1: starting replicas", desiredReplicas: Self.initialDesired(spec, previous: [:]),
            createdBy: namespace.caller.user.username.value, createdAt: time, updatedAt: time)
        let revision = DeploymentRevision(
            number: 1, spec: spec, models: models, reason: "created", createdBy: namespace.caller.user.username.value, createdAt: time)
        do {
            try await store.serving.createDeployment(
                deployment, revision: revision, namespaceID: namespace.namespace.id, projectID: project.id, by: namespace.caller.auditActor)
        } catch let error as StoreError where error.isConflict {
            throw APIError.conflict("already_exists", "a deployment named '\(name)' exists already; deployment names are unique on the server")
        }
        return Created(value: try await detail(of: deployment))
    }

    @Sendable func projectDeployments(_ request: Request, context: AppRequestContext) async throws -> ItemList<Deployment> {
        let (_, project) = try await access.project(context, requires: .viewer)
        return ItemList(items: try await store.serving.deployments(namespaceIDs: [project.namespaceID], projectID: project.id))
    }

    /// The deployments of the caller's namespaces, by name.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<Deployment> {
        let caller = try access.caller(context)
        return ItemList(items: try await store.serving.deployments(namespaceIDs: try await caller.visibleNamespaces(store: store), projectID: nil))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> DeploymentDetail {
        try await detail(of: try await deployment(context, requires: .viewer).deployment)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> DeploymentDetail {
        let (deployment, role) = try await deployment(context, requires: .developer)
        let body = try await request.decodeJSON(UpdateDeploymentRequest.self, context: context)
        if let description = body.description { try validText(description, field: "description", limit: 2000) }
        let caller = try access.caller(context)
        if let production = body.production, production != deployment.production, role < .maintainer {
            throw APIError.forbidden("changing whether a deployment is production needs maintainer or higher in its namespace")
        }
        if let isPublic = body.isPublic, isPublic != deployment.isPublic, role < .maintainer {
            throw APIError.forbidden("changing whether a deployment is public needs maintainer or higher in its namespace")
        }
        let production = body.production ?? deployment.production
        var updated = deployment
        if body.changesSpec {
            let spec = try Self.validated(body.applied(to: deployment.spec))
            updated = try await revise(deployment, spec: spec, production: production, reason: Self.describe(body), context: context)
        } else if production && !deployment.production {
            // Becoming production: the versions it serves must be approved.
            _ = try await resolve(deployment.spec, production: true, context: context)
        }
        if body.description != nil || body.production != nil || body.isPublic != nil {
            updated = try await store.serving.updateDeployment(
                id: deployment.id, description: body.description, production: body.production, isPublic: body.isPublic, by: caller.auditActor)
        }
        return try await detail(of: updated)
    }

    @Sendable func scale(_ request: Request, context: AppRequestContext) async throws -> DeploymentDetail {
        let (deployment, _) = try await deployment(context, requires: .developer)
        let body = try await request.decodeJSON(ScaleDeploymentRequest.self, context: context)
        guard body.minReplicas != nil || body.maxReplicas != nil else {
            throw APIError.invalidField("min_replicas", "give min_replicas, max_replicas or both")
        }
        return try await detail(of: try await scale(deployment, minimum: body.minReplicas, maximum: body.maxReplicas, context: context))
    }

    @Sendable func rollback(_ request: Request, context: AppRequestContext) async throws -> DeploymentDetail {
        let (deployment, _) = try await deployment(context, requires: .developer)
        let body = try await request.decodeJSON(RollbackDeploymentRequest.self, context: context, empty: RollbackDeploymentRequest())
        return try await detail(of: try await rollback(deployment, to: body.revision, context: context))
    }

    /// A new revision with other replica counts (the API's `scale` and the page's form).
    func scale(_ deployment: Deployment, minimum: Int?, maximum: Int?, context: AppRequestContext) async throws -> Deployment {
        var spec = deployment.spec
        if let minimum { spec.minReplicas = minimum }
        if let maximum { spec.maxReplicas = maximum }
        if maximum == nil, spec.maxReplicas < spec.minReplicas { spec.maxReplicas = spec.minReplicas }
        spec = try Self.validated(spec)
        return try await revise(
            deployment, spec: spec, production: deployment.production, reason: "scaled to \(spec.minReplicas)–\(spec.maxReplicas) replicas",
            context: context)
    }

    /// A new revision made from revision `number` (default: the one before the newest), with the files it pinned.
    func rollback(_ deployment: Deployment, to number: Int?, context: AppRequestContext) async throws -> Deployment {
        let number = number ?? (deployment.revision - 1)
        guard number >= 1, number < deployment.revision else {
            throw APIError.badRequest(
                "no_previous_revision",
                deployment.revision == 1
                    ? "deployment '\(deployment.name)' has only its first revision; there is nothing to roll back to"
                    : "revision must be from 1 to \(deployment.revision - 1), an older revision of '\(deployment.name)'")
        }
        guard let target = try await store.serving.revision(deploymentID: deployment.id, number: number) else {
            throw APIError.notFound("deployment '\(deployment.name)' has no revision \(number)")
        }
        return try await revise(
            deployment, spec: target.spec, production: deployment.production, reason: "rolled back to revision \(number)", context: context,
            pinned: target.models)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (deployment, _) = try await deployment(context, requires: .maintainer)
        try await store.serving.deleteDeployment(id: deployment.id, by: try access.caller(context).auditActor)
        metrics.forget(deployment: deployment.name)
        return Response(status: .noContent)
    }

    @Sendable func recentMetrics(_ request: Request, context: AppRequestContext) async throws -> DeploymentMetrics {
        let (deployment, _) = try await deployment(context, requires: .viewer)
        let seconds = min(360, max(10, Double(request.uri.queryParameters["seconds"].flatMap { Int($0) } ?? 300)))
        let recent = metrics.recent(deployment: deployment.name, seconds: seconds)
        var versions: [String: [DeploymentMetrics.Bucket]] = [:]
        for (version, buckets) in recent {
            versions[version] = buckets.map {
                DeploymentMetrics.Bucket(
                    start: $0.start, requests: $0.requests, errors: $0.errors, p50Milliseconds: $0.p50Milliseconds, p99Milliseconds: $0.p99Milliseconds,
                    meanBatchSize: $0.meanBatchSize)
            }
        }
        let inFlight = (gateway.inFlight()[deployment.name] ?? [:]).reduce(into: [String: Int]()) { result, entry in
            result[String(entry.key.split(separator: ":").last ?? "")] = entry.value
        }
        return DeploymentMetrics(bucketSeconds: GatewayMetrics.bucketSeconds, versions: versions, inFlight: inFlight)
    }

    // MARK: - Helpers

    /// The `{deployment}` the caller may act on with `required`, and the caller's role.
    func deployment(_ context: AppRequestContext, requires required: Role) async throws -> (deployment: Deployment, role: Role) {
        let caller = try access.caller(context)
        let name = try context.parameters.require("deployment")
        let missing = APIError.notFound("deployment '\(name.prefix(80))' does not exist")
        guard ResourceName.problem(with: name) == nil, let (deployment, namespaceID) = try await store.serving.deployment(named: name),
            let role = try await caller.role(in: namespaceID, store: store)
        else { throw missing }
        guard role.includes(required) else {
            throw APIError.forbidden("your role in namespace '\(deployment.namespace)' is \(role); this needs \(required) or higher")
        }
        return (deployment, role)
    }

    func detail(of deployment: Deployment) async throws -> DeploymentDetail {
        let current = try await store.serving.deployment(id: deployment.id) ?? deployment
        return DeploymentDetail(
            deployment: current, revisions: try await store.serving.revisions(deploymentID: deployment.id),
            replicas: try await store.serving.replicas(deploymentID: deployment.id, includeStopped: false))
    }

    /// Makes the next revision with `spec`; `pinned` reuses an older revision's files (a rollback).
    func revise(
        _ deployment: Deployment, spec: DeploymentSpec, production: Bool, reason: String, context: AppRequestContext,
        pinned: [ResolvedModel]? = nil
    ) async throws -> Deployment {
        let models = try await resolve(spec, production: production, context: context, pinned: pinned)
        let caller = try access.caller(context)
        let revision = DeploymentRevision(
            number: deployment.revision + 1, spec: spec, models: models, reason: reason, createdBy: caller.user.username.value, createdAt: now())
        do {
            return try await store.serving.addRevision(
                deploymentID: deployment.id, revision, expectedRevision: deployment.revision, by: caller.auditActor)
        } catch let error as StoreError where error.isConflict {
            throw APIError.conflict(error.code, error.description)
        }
    }

    /// Checks the spec's model versions exist, may be read by the caller and, for production, are approved; pins their
    /// files.
    func resolve(_ spec: DeploymentSpec, production: Bool, context: AppRequestContext, pinned: [ResolvedModel]? = nil) async throws
        -> [ResolvedModel]
    {
        let caller = try access.caller(context)
        var resolved: [ResolvedModel] = []
        for entry in spec.models {
            let missing = APIError.notFound("model '\(entry.model.prefix(200))' has no version \(entry.version) in the registry")
            guard let model = try await store.registry.model(named: entry.model), try await caller.role(in: model.namespaceID, store: store) != nil,
                let version = try await store.registry.version(entry.model, entry.version)
            else { throw missing }
            if production, !version.approved {
                throw APIError.conflict(
                    "version_not_approved",
                    "deployment is production, but \(entry.model) version \(entry.version) is not approved for production; have a reviewer approve it, or deploy it to a deployment that is not production")
            }
            if let files = pinned?.first(where: { $0.model == entry.model && $0.version == entry.version }) {
                resolved.append(files)
                continue
            }
            let prefix = String(version.storageLocation.dropFirst(MLflowTrackingController.artifactRoot.count))
                .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            let files = try await store.artifacts.files(under: prefix + "/")
            guard !files.isEmpty else {
                throw APIError.badRequest(
                    "model_has_no_files", "\(entry.model) version \(entry.version) has no files at \(version.storageLocation); log the model's files first")
            }
            resolved.append(
                ResolvedModel(
                    model: entry.model, version: entry.version, source: version.storageLocation,
                    files: files.map { ModelFile(path: String($0.path.dropFirst(prefix.count + 1)), sha256: $0.digest, size: $0.size) }))
        }
        return resolved
    }

    /// A sentence naming what an update changed.
    static func describe(_ body: UpdateDeploymentRequest) -> String {
        var changed: [String] = []
        if let models = body.models {
            changed.append("models " + models.map { "\($0.model) v\($0.version) (\($0.weight))" }.joined(separator: ", "))
        }
        if body.minReplicas != nil || body.maxReplicas != nil { changed.append("replicas") }
        if body.resources != nil { changed.append("resources") }
        if body.batching != nil { changed.append("batching") }
        if body.targetConcurrency != nil { changed.append("autoscaling target") }
        if body.requestTimeoutMilliseconds != nil || body.maxQueue != nil { changed.append("limits") }
        if body.environment != nil { changed.append("environment") }
        if body.nodeSelector != nil { changed.append("node selector") }
        return "changed " + changed.joined(separator: ", ")
    }

    /// Each version starts at its minimum (at least one, so a new deployment answers), or keeps what it had.
    static func initialDesired(_ spec: DeploymentSpec, previous: [String: Int]) -> [String: Int] {
        var desired: [String: Int] = [:]
        for entry in spec.models {
            let key = modelVersionKey(entry.model, entry.version)
            desired[key] = min(spec.maxReplicas, max(spec.minReplicas, previous[key] ?? max(1, spec.minReplicas)))
        }
        return desired
    }

    /// The spec with its values checked. - Throws: 400 naming the field.
    static func validated(_ spec: DeploymentSpec) throws -> DeploymentSpec {
        guard !spec.models.isEmpty, spec.models.count <= 10 else {
            throw APIError.invalidField("models", "must list 1 to 10 model versions, as {\"model\": NAME, \"version\": N, \"weight\": W}")
        }
        var versions = Set<Int>()
        for entry in spec.models {
            guard !entry.model.isEmpty, entry.model.count <= 256, !entry.model.contains("\0") else {
                throw APIError.invalidField("models.model", "must name a registered model")
            }
            guard entry.version >= 1 else { throw APIError.invalidField("models.version", "must be a version number, 1 or more") }
            guard (0...1000).contains(entry.weight) else { throw APIError.invalidField("models.weight", "must be from 0 to 1000") }
            guard versions.insert(entry.version).inserted else {
                throw APIError.invalidField(
                    "models", "version \(entry.version) is listed twice; clients address a deployment's versions by number, so each must be distinct")
            }
        }
        guard spec.models.contains(where: { $0.weight > 0 }) else {
            throw APIError.invalidField("models.weight", "at least one model version needs a weight above 0 to take traffic")
        }
        guard (0...64).contains(spec.minReplicas) else { throw APIError.invalidField("min_replicas", "must be from 0 to 64") }
        guard (1...64).contains(spec.maxReplicas), spec.maxReplicas >= spec.minReplicas else {
            throw APIError.invalidField("max_replicas", "must be from 1 to 64 and at least min_replicas (\(spec.minReplicas))")
        }
        let resources = spec.resources
        guard resources.cpu > 0, resources.cpu <= 256, resources.cpu.isFinite else {
            throw APIError.invalidField("resources.cpu", "must be more than 0 and at most 256 cores")
        }
        guard resources.memoryBytes >= 64 << 20, resources.memoryBytes <= 1 << 42 else {
            throw APIError.invalidField("resources.memory_bytes", "must be from 64 MiB to 4 TiB per replica")
        }
        guard (0...16).contains(resources.gpu) else { throw APIError.invalidField("resources.gpu", "must be from 0 to 16 per replica") }
        if let batching = spec.batching {
            guard (1...4096).contains(batching.maxBatchSize) else {
                throw APIError.invalidField("batching.max_batch_size", "must be from 1 (no batching) to 4096 rows")
            }
            guard (0...1_000_000).contains(batching.maxQueueDelayMicroseconds) else {
                throw APIError.invalidField("batching.max_queue_delay_microseconds", "must be from 0 to 1000000 (one second)")
            }
        }
        if let target = spec.targetConcurrency, !(target > 0 && target <= 10_000) {
            throw APIError.invalidField("target_concurrency", "must be more than 0 and at most 10000 requests per replica")
        }
        if let timeout = spec.requestTimeoutMilliseconds, !(1...600_000).contains(timeout) {
            throw APIError.invalidField("request_timeout_milliseconds", "must be from 1 to 600000 (ten minutes)")
        }
        if let queue = spec.maxQueue, !(1...100_000).contains(queue) {
            throw APIError.invalidField("max_queue", "must be from 1 to 100000 waiting requests")
        }
        if let environment = spec.environment {
            if let python = environment.python, python.wholeMatch(of: /python3(\.[0-9]{1,2})?/) == nil {
                throw APIError.invalidField("environment.python", "must name a Python 3 interpreter: python3 or python3.N")
            }
            guard environment.image == nil else {
                throw APIError.invalidField("environment.image", "replicas run in a Python environment built from the model's requirements, not an image")
            }
            guard environment.requirements.count <= 200,
                environment.requirements.allSatisfy({ !$0.isEmpty && $0.count <= 500 && !$0.contains("\n") && !$0.contains("\0") })
            else {
                throw APIError.invalidField("environment.requirements", "must be at most 200 pip requirement lines of at most 500 characters")
            }
        }
        if let selector = spec.nodeSelector {
            guard selector.count <= 20, selector.allSatisfy({ !$0.key.isEmpty && $0.key.count <= 128 && $0.value.count <= 256 }) else {
                throw APIError.invalidField("node_selector", "must be at most 20 labels with keys of 1 to 128 characters")
            }
        }
        return spec
    }
}
