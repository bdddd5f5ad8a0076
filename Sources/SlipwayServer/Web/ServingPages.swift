import Foundation
import Hummingbird
import NIOCore
import SlipwayDomain
import SlipwayServing
import SlipwayStore

/// The web UI of the Serving area: the deployments the user may see, and a deployment's page with its traffic split,
/// replicas, revisions (with rollback), live request and latency charts (drawn by `/static/deployment.js` from
/// `GET /api/v1/deployments/{name}/metrics`) and a "try it" form that sends a request through the gateway and shows the
/// answer. Access rules are the API's: pages call ``DeploymentController``.
struct ServingPages: Sendable {
    let pages: PageRenderer
    let deployments: DeploymentController
    let inference: InferenceController

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("deployments", use: listPage)
        group.get("deployments/{deployment}", use: deploymentPage)
        group.post("deployments/{deployment}/try", use: tryIt)
        group.post("deployments/{deployment}/rollback", use: rollback)
        group.post("deployments/{deployment}/scale", use: scale)
    }

    @Sendable func listPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let listed = try await deployments.list(request, context: context).items
        let page = DeploymentsPage(layout: .make(context.caller, section: "/deployments"), deployments: listed.map(DeploymentsPage.Row.init))
        return pages.render("deployments", page)
    }

    @Sendable func deploymentPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await deploymentPage(request, context: context, flash: nil, tried: nil, status: .ok)
    }

    private func deploymentPage(
        _ request: Request, context: AppRequestContext, flash: LayoutView.Flash?, tried: DeploymentPage.Tried?, status: HTTPResponse.Status
    ) async throws -> Response {
        let (deployment, role) = try await deployments.deployment(context, requires: .viewer)
        let detail = try await deployments.detail(of: deployment)
        var example = tried?.request ?? ""
        if tried == nil { example = await exampleRequest(deployment.name) }
        let page = DeploymentPage(
            layout: .make(context.caller, section: "/deployments", flash: flash), detail: detail, canChange: role.includes(.developer),
            example: example, tried: tried)
        return pages.render("deployment", page, status: status)
    }

    /// A request the form starts with: each declared input as zeros, `-1` dimensions as 1.
    func exampleRequest(_ name: String) async -> String {
        guard let (_, metadata) = try? await deployments.gateway.metadata(deployment: name, version: nil) else {
            return #"{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [[0, 0, 0, 0]]}]}"#
        }
        let inputs = metadata.inputs.map { spec -> [String: Any] in
            let shape = spec.shape.map { $0 < 0 ? 1 : $0 }
            func zeros(_ dimensions: ArraySlice<Int>) -> Any {
                guard let first = dimensions.first else { return spec.datatype == "BYTES" ? "" : spec.datatype == "BOOL" ? false : 0 }
                return Array(repeating: zeros(dimensions.dropFirst()), count: min(first, 256))
            }
            return ["name": spec.name, "datatype": spec.datatype, "shape": shape, "data": zeros(shape[...])]
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["inputs": inputs], options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends the form's request through the gateway, as `POST /v2/models/{name}/infer` would, and shows the answer.
    @Sendable func tryIt(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try deployments.access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        let (deployment, _) = try await deployments.deployment(context, requires: .viewer)
        let body = form["request"] ?? ""
        var version: Int?
        if let text = form.text("version") {
            guard let given = Int(text) else { throw APIError.invalidField("version", "must be a model version number, not '\(text.prefix(40))'") }
            version = given
        }
        let started = ContinuousClock.now
        do {
            let (answer, _) = try await inference.answer(
                deployment: deployment.name, version: version, body: ByteBuffer(string: body), headerLength: nil, started: started)
            let elapsed = ContinuousClock.now - started
            let pretty = (try? JSONSerialization.jsonObject(with: answer)).flatMap {
                try? JSONSerialization.data(withJSONObject: $0, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            } ?? answer
            let tried = DeploymentPage.Tried(
                request: body, answer: String(decoding: pretty, as: UTF8.self), failed: false,
                status: "200 in \(String(format: "%.1f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)) ms")
            return try await deploymentPage(request, context: context, flash: nil, tried: tried, status: .ok)
        } catch {
            let (status, message) = Self.describe(error)
            let tried = DeploymentPage.Tried(request: body, answer: message, failed: true, status: "\(status)")
            return try await deploymentPage(request, context: context, flash: nil, tried: tried, status: .ok)
        }
    }

    static func describe(_ error: any Error) -> (Int, String) {
        switch error {
        case let error as GatewayError: (error.status, error.message)
        case let error as WorkerError: (error.status, error.message)
        case let error as APIError: (Int(error.status.code), error.message)
        default: (500, "the gateway failed: \(error)")
        }
    }

    @Sendable func rollback(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await change(request, context: context) { form in
            let (deployment, _) = try await deployments.deployment(context, requires: .developer)
            // No revision given: the one before; one given that is not a number changes nothing.
            let number: Int
            if let text = form.text("revision") {
                guard let given = Int(text) else { throw APIError.invalidField("revision", "must be a revision number, not '\(text.prefix(40))'") }
                number = given
            } else {
                number = deployment.revision - 1
            }
            let revised = try await deployments.rollback(deployment, to: number, context: context)
            return "Rolling back to revision \(number): revision \(revised.revision) starts beside the serving one."
        }
    }

    @Sendable func scale(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await change(request, context: context) { form in
            let (deployment, _) = try await deployments.deployment(context, requires: .developer)
            guard let minimum = form.text("min_replicas").flatMap(Int.init), let maximum = form.text("max_replicas").flatMap(Int.init) else {
                throw APIError.invalidField("min_replicas", "give the fewest and most replicas as whole numbers")
            }
            _ = try await deployments.scale(deployment, minimum: minimum, maximum: maximum, context: context)
            return "Scaled to \(minimum)–\(maximum) replicas per version."
        }
    }

    /// Runs a form's change, then shows the page with what happened.
    private func change(_ request: Request, context: AppRequestContext, _ body: @Sendable (FormBody) async throws -> String) async throws
        -> Response
    {
        let caller = try deployments.access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        do {
            let message = try await body(form)
            return try await deploymentPage(request, context: context, flash: .init(kind: "info", message: message), tried: nil, status: .ok)
        } catch let error as APIError where error.status != .notFound {
            return try await deploymentPage(
                request, context: context, flash: .init(kind: "error", message: error.message), tried: nil, status: error.status)
        }
    }
}

// MARK: - Page models

struct DeploymentsPage: Sendable {
    struct Row: Sendable {
        var name: String
        var project: String
        var state: String
        var reason: String
        var revision: String
        var models: String
        var replicas: String
        var production: Bool
        var isPublic: Bool

        init(_ deployment: Deployment) {
            name = deployment.name
            project = "\(deployment.namespace)/\(deployment.project)"
            state = deployment.state.rawValue
            reason = deployment.reason
            revision = deployment.servingRevision.map { $0 == deployment.revision ? "\($0)" : "\($0) → \(deployment.revision)" } ?? "– → \(deployment.revision)"
            models = deployment.spec.models.map { "\($0.model) v\($0.version)" }.joined(separator: ", ")
            replicas = deployment.spec.models.map { String(deployment.desiredReplicas[modelVersionKey($0.model, $0.version)] ?? 0) }
                .joined(separator: " + ") + " (\(deployment.spec.minReplicas)–\(deployment.spec.maxReplicas) each)"
            production = deployment.production
            isPublic = deployment.isPublic
        }
    }

    var layout: LayoutView
    var deployments: [Row]
}

struct DeploymentPage: Sendable {
    struct Split: Sendable {
        var label: String
        var version: Int
        var weight: Int
        var percent: String
        var ready: Int
        var desired: Int
    }
    struct ReplicaRow: Sendable {
        var id: String
        var shortID: String
        var revision: Int
        var model: String
        var state: String
        var node: String
        var address: String
        var restarts: Int
        var reason: String
    }
    struct RevisionRow: Sendable {
        var number: Int
        var created: String
        var by: String
        var reason: String
        var models: String
        var serving: Bool
        var newest: Bool
        var canRollBack: Bool
    }
    struct Tried: Sendable {
        var request: String
        var answer: String
        var failed: Bool
        var status: String
    }

    var layout: LayoutView
    var name: String
    var project: String
    var namespace: String
    var projectName: String
    var state: String
    var reason: String
    var production: Bool
    var isPublic: Bool
    var description: String
    var endpoint: String
    var servingRevision: String
    var revision: Int
    var resources: String
    var batching: String
    var minReplicas: Int
    var maxReplicas: Int
    var splits: [Split]
    var replicas: [ReplicaRow]
    var revisions: [RevisionRow]
    var canChange: Bool
    var example: String
    var tried: [Tried]
    var versions: [Split]

    init(layout: LayoutView, detail: DeploymentDetail, canChange: Bool, example: String, tried: Tried?) {
        let deployment = detail.deployment
        self.layout = layout
        name = deployment.name
        namespace = deployment.namespace
        projectName = deployment.project
        project = "\(deployment.namespace)/\(deployment.project)"
        state = deployment.state.rawValue
        reason = deployment.reason
        production = deployment.production
        isPublic = deployment.isPublic
        description = deployment.description
        endpoint = detail.inferencePath + "/infer"
        servingRevision = deployment.servingRevision.map(String.init) ?? "none yet"
        revision = deployment.revision
        resources = ComputePages.resources(deployment.spec.resources) + " per replica"
        let batching = deployment.spec.effectiveBatching
        self.batching = batching.maxBatchSize <= 1
            ? "off" : "up to \(batching.maxBatchSize) rows, waiting at most \(batching.maxQueueDelayMicroseconds) µs"
        minReplicas = deployment.spec.minReplicas
        maxReplicas = deployment.spec.maxReplicas
        let total = max(1, deployment.spec.models.reduce(0) { $0 + $1.weight })
        splits = deployment.spec.models.map { entry in
            let key = modelVersionKey(entry.model, entry.version)
            return Split(
                label: "\(entry.model) v\(entry.version)", version: entry.version, weight: entry.weight,
                percent: ComputePages.number((Double(entry.weight) * 1000 / Double(total)).rounded() / 10),
                ready: detail.replicas.filter {
                    $0.model == entry.model && $0.version == entry.version && $0.state == .ready && $0.revision == (deployment.servingRevision ?? deployment.revision)
                }.count,
                desired: deployment.desiredReplicas[key] ?? 0)
        }
        versions = splits
        replicas = detail.replicas.map {
            ReplicaRow(
                id: $0.id.uuidString.lowercased(), shortID: String($0.id.uuidString.lowercased().prefix(8)), revision: $0.revision,
                model: "\($0.model) v\($0.version)", state: $0.state.rawValue, node: $0.node ?? "–", address: $0.address ?? "–", restarts: $0.restarts,
                reason: $0.reason)
        }
        revisions = detail.revisions.map {
            RevisionRow(
                number: $0.number, created: $0.createdAt.pageSecondsText, by: $0.createdBy, reason: $0.reason,
                models: $0.spec.models.map { "\($0.model) v\($0.version) (\($0.weight))" }.joined(separator: ", "),
                serving: $0.number == deployment.servingRevision, newest: $0.number == deployment.revision,
                canRollBack: canChange && $0.number < deployment.revision)
        }
        self.canChange = canChange
        self.example = example
        self.tried = tried.map { [$0] } ?? []
    }
}
