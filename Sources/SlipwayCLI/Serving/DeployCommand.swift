import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway deploy …`: online services of registered model versions.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy", abstract: "Serve registered models online.",
        discussion: """
            A deployment serves model versions at /v2/models/NAME (the Open Inference Protocol). Each change makes a \
            revision; the new one starts beside the old, which serves until it is ready. See docs/serving.md.
            """,
        subcommands: [Create.self, List.self, Show.self, Update.self, Scale.self, Rollback.self, Delete.self])

    /// Options shared by `create` and `update`: what a revision runs.
    struct SpecOptions: ParsableArguments {
        @Option(name: .customLong("model"), help: "MODEL:VERSION[=WEIGHT], a registered model version and its share of traffic; repeat for a split.")
        var models: [String] = []
        @Option(help: "Fewest replicas per model version.") var min: Int?
        @Option(help: "Most replicas per model version (autoscaling stays between).") var max: Int?
        @Option(help: "CPU cores per replica (default 1).") var cpu: Double?
        @Option(help: "Memory per replica, e.g. 1GiB (default); a worker above it is restarted.") var memory: String?
        @Option(help: "GPUs per replica.") var gpu: Int?
        @Option(help: "Most rows per call to the model (1: no batching; default 32).") var maxBatch: Int?
        @Option(help: "Microseconds a request may wait for others to join its batch (default 0).") var maxDelayUs: Int?
        @Option(help: "Autoscaling's target of requests in flight per replica (default 4).") var targetConcurrency: Double?
        @Option(help: "Milliseconds before a request is answered 504 (default 30000).") var timeoutMs: Int?
        @Option(help: "Requests that may wait per version before 503 (default 256).") var maxQueue: Int?
        @Option(name: .customLong("requirement"), help: "An extra pip requirement for the worker; repeat for more.") var requirements: [String] = []
        @Option(help: "The worker's interpreter (python3 or python3.N).") var python: String?
        @Option(name: .customLong("selector"), help: "KEY=VALUE: place replicas only on nodes with this label; repeat.") var selectors: [String] = []

        func models(required: Bool) throws -> [DeploymentModel]? {
            if models.isEmpty {
                if required { throw ValidationError("name at least one model version: --model digits:3") }
                return nil
            }
            return try models.map { text in
                let (reference, weightText) = text.split(separator: "=", maxSplits: 1).map(String.init).splitPair()
                guard let colon = reference.lastIndex(of: ":"), let version = Int(reference[reference.index(after: colon)...]) else {
                    throw ValidationError("--model must be MODEL:VERSION[=WEIGHT], not '\(text)'")
                }
                var weight = 100
                if let weightText {
                    guard let value = Int(weightText) else { throw ValidationError("the weight in '\(text)' must be a whole number") }
                    weight = value
                }
                return DeploymentModel(model: String(reference[..<colon]), version: version, weight: weight)
            }
        }

        func apply(to spec: inout DeploymentSpec) throws {
            if let min { spec.minReplicas = min }
            if let max { spec.maxReplicas = max } else if spec.maxReplicas < spec.minReplicas { spec.maxReplicas = spec.minReplicas }
            if let resources = try resources(base: spec.resources) { spec.resources = resources }
            if maxBatch != nil || maxDelayUs != nil {
                var batching = spec.batching ?? .standard
                if let maxBatch { batching.maxBatchSize = maxBatch }
                if let maxDelayUs { batching.maxQueueDelayMicroseconds = maxDelayUs }
                spec.batching = batching
            }
            if let targetConcurrency { spec.targetConcurrency = targetConcurrency }
            if let timeoutMs { spec.requestTimeoutMilliseconds = timeoutMs }
            if let maxQueue { spec.maxQueue = maxQueue }
            if let environment = environment(base: spec.environment) { spec.environment = environment }
            if let selector = try selector() { spec.nodeSelector = selector }
        }

        func resources(base: ComputeResources) throws -> ComputeResources? {
            guard cpu != nil || memory != nil || gpu != nil else { return nil }
            var resources = base
            if let cpu { resources.cpu = cpu }
            if let memory {
                guard let bytes = parseBytes(memory) else { throw ValidationError("--memory must look like 512MiB or 2GiB") }
                resources.memoryBytes = bytes
            }
            if let gpu { resources.gpu = gpu }
            return resources
        }

        func environment(base: JobEnvironment?) -> JobEnvironment? {
            guard !requirements.isEmpty || python != nil else { return nil }
            var environment = base ?? JobEnvironment()
            if !requirements.isEmpty { environment.requirements = requirements }
            if let python { environment.python = python }
            return environment
        }

        func selector() throws -> [String: String]? {
            guard !selectors.isEmpty else { return nil }
            var labels: [String: String] = [:]
            for item in selectors {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw ValidationError("--selector must be KEY=VALUE, not '\(item)'") }
                labels[parts[0]] = parts[1]
            }
            return labels
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy model versions as an online service.",
            discussion: """
                  slipway deploy create team/vision digits --model digits:3 --min 1 --max 4 --wait
                  slipway deploy create team/vision fraud --model fraud:7=90 --model fraud:8=10    # a 90/10 canary
                """)
        @Argument(help: "NAMESPACE/PROJECT") var project: String
        @Argument(help: "The deployment's name: the model name inference clients send.") var name: String
        @OptionGroup var spec: SpecOptions
        @Option(help: "What the service is for.") var description: String?
        @Flag(help: "Production: only versions approved for production may be deployed.") var production = false
        @Flag(name: .customLong("public"), help: "Answer inference requests without a token.") var isPublic = false
        @Flag(help: "Wait until the deployment serves.") var wait = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                let (namespace, projectName) = try splitProjectPath(project)
                var deploymentSpec = DeploymentSpec(models: try spec.models(required: true) ?? [])
                try spec.apply(to: &deploymentSpec)
                let body = CreateDeploymentRequest(
                    name: name, description: description, production: production ? true : nil, isPublic: isPublic ? true : nil,
                    spec: deploymentSpec)
                let client = try options.client()
                var detail: DeploymentDetail = try await client.send(
                    .POST, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(projectName))/deployments",
                    body: body)
                if wait { detail = try await DeployCommand.waitUntilServing(detail.deployment.name, revision: 1, client: client) }
                try DeployCommand.print(detail, options: options)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the deployments you can see.")
        @Option(help: "Only those of NAMESPACE/PROJECT.") var project: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                let client = try options.client()
                let listed: ItemList<Deployment>
                if let project {
                    let (namespace, name) = try splitProjectPath(project)
                    listed = try await client.send(
                        .GET, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(name))/deployments")
                } else {
                    listed = try await client.send(.GET, "/deployments")
                }
                let deployments = listed.items
                try options.print(
                    deployments, headers: ["NAME", "PROJECT", "STATE", "REVISION", "MODELS", "REPLICAS"],
                    rows: deployments.map { deployment in
                        [
                            deployment.name, "\(deployment.namespace)/\(deployment.project)", deployment.state.rawValue,
                            deployment.servingRevision.map { $0 == deployment.revision ? "\($0)" : "\($0) → \(deployment.revision)" }
                                ?? "– → \(deployment.revision)",
                            deployment.spec.models.map { "\($0.model):\($0.version)" + (deployment.spec.models.count > 1 ? "=\($0.weight)" : "") }
                                .joined(separator: " "),
                            "\(deployment.spec.minReplicas)–\(deployment.spec.maxReplicas)",
                        ]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a deployment: its state, revisions and replicas.")
        @Argument(help: "The deployment.") var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                let detail: DeploymentDetail = try await options.client().send(.GET, "/deployments/\(SlipwayAPIClient.segment(name))")
                try DeployCommand.print(detail, options: options)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change what a deployment runs (a new revision rolls out) or its description and flags.",
            discussion: "  slipway deploy update digits --model digits:4=90 --model digits:3=10 --wait")
        @Argument(help: "The deployment.") var name: String
        @OptionGroup var spec: SpecOptions
        @Option(help: "A new description.") var description: String?
        @Option(help: "true or false: whether it is production.") var production: Bool?
        @Option(name: .customLong("public"), help: "true or false: whether it answers without a token.") var isPublic: Bool?
        @Flag(help: "Wait until the new revision serves.") var wait = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                let client = try options.client()
                let current: DeploymentDetail = try await client.send(.GET, "/deployments/\(SlipwayAPIClient.segment(name))")
                var merged = current.deployment.spec
                if let models = try spec.models(required: false) { merged.models = models }
                try spec.apply(to: &merged)
                let old = current.deployment.spec
                let changed = merged != old
                // Only what differs goes to the server, so the revision says what changed.
                let body = UpdateDeploymentRequest(
                    description: description, production: production, isPublic: isPublic, models: merged.models != old.models ? merged.models : nil,
                    minReplicas: merged.minReplicas != old.minReplicas ? merged.minReplicas : nil,
                    maxReplicas: merged.maxReplicas != old.maxReplicas ? merged.maxReplicas : nil,
                    resources: merged.resources != old.resources ? merged.resources : nil,
                    batching: merged.batching != old.batching ? merged.batching : nil,
                    targetConcurrency: merged.targetConcurrency != old.targetConcurrency ? merged.targetConcurrency : nil,
                    requestTimeoutMilliseconds: merged.requestTimeoutMilliseconds != old.requestTimeoutMilliseconds
                        ? merged.requestTimeoutMilliseconds : nil,
                    maxQueue: merged.maxQueue != old.maxQueue ? merged.maxQueue : nil,
                    environment: merged.environment != old.environment ? merged.environment : nil,
                    nodeSelector: merged.nodeSelector != old.nodeSelector ? merged.nodeSelector : nil)
                guard changed || description != nil || production != nil || isPublic != nil else {
                    throw CLIError("nothing to change: give --model, --min/--max, resources, batching, --description, --production or --public")
                }
                var detail: DeploymentDetail = try await client.send(.PATCH, "/deployments/\(SlipwayAPIClient.segment(name))", body: body)
                if wait, changed {
                    detail = try await DeployCommand.waitUntilServing(name, revision: detail.deployment.revision, client: client)
                }
                try DeployCommand.print(detail, options: options)
            }
        }
    }

    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the fewest and most replicas per model version.")
        @Argument(help: "The deployment.") var name: String
        @Option(help: "Fewest replicas.") var min: Int?
        @Option(help: "Most replicas.") var max: Int?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                guard min != nil || max != nil else { throw ValidationError("give --min, --max or both") }
                let detail: DeploymentDetail = try await options.client().send(
                    .POST, "/deployments/\(SlipwayAPIClient.segment(name))/scale", body: ScaleDeploymentRequest(minReplicas: min, maxReplicas: max))
                try DeployCommand.print(detail, options: options)
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Go back to the previous revision (or --to N): it becomes a new revision and rolls out.")
        @Argument(help: "The deployment.") var name: String
        @Option(help: "The revision to go back to (default: the one before the newest).") var to: Int?
        @Flag(help: "Wait until it serves.") var wait = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                let client = try options.client()
                var detail: DeploymentDetail = try await client.send(
                    .POST, "/deployments/\(SlipwayAPIClient.segment(name))/rollback", body: RollbackDeploymentRequest(revision: to))
                if wait { detail = try await DeployCommand.waitUntilServing(name, revision: detail.deployment.revision, client: client) }
                try DeployCommand.print(detail, options: options)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a deployment; its replicas stop.")
        @Argument(help: "The deployment.") var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                try await options.client().sendIgnoringResponse(.DELETE, "/deployments/\(SlipwayAPIClient.segment(name))")
                Swift.print("Deleted deployment \(name); its replicas are stopping.")
            }
        }
    }

    /// Polls until `revision` serves, or fails saying why it does not.
    static func waitUntilServing(_ name: String, revision: Int, client: SlipwayAPIClient, timeout: Double = 900) async throws -> DeploymentDetail {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while true {
            let detail: DeploymentDetail = try await client.send(.GET, "/deployments/\(SlipwayAPIClient.segment(name))")
            let deployment = detail.deployment
            if deployment.servingRevision ?? 0 >= revision, deployment.state == .ready || deployment.state == .degraded { return detail }
            if deployment.reason.contains("failed 3 times") { throw CLIError("deployment \(name) cannot start: \(deployment.reason)") }
            if deployment.reason != last {
                FileHandle.standardError.write(Data("\(deployment.state.rawValue): \(deployment.reason)\n".utf8))
                last = deployment.reason
            }
            guard Date() < deadline else { throw CLIError("deployment \(name) did not serve revision \(revision) in time: \(deployment.reason)") }
            try await Task.sleep(for: .seconds(1))
        }
    }

    static func print(_ detail: DeploymentDetail, options: ClientOptions) throws {
        let deployment = detail.deployment
        if options.output == .json {
            try options.print(detail, headers: [], rows: [])
            return
        }
        Swift.print("""
            \(deployment.name)  (\(deployment.namespace)/\(deployment.project))\(deployment.production ? "  production" : "")\(deployment.isPublic ? "  public" : "")
            state:     \(deployment.state.rawValue): \(deployment.reason)
            serving:   revision \(deployment.servingRevision.map(String.init) ?? "–") of \(deployment.revision)
            endpoint:  \(detail.inferencePath)/infer
            models:    \(deployment.spec.models.map { "\($0.model):\($0.version) (weight \($0.weight))" }.joined(separator: ", "))
            replicas:  \(deployment.spec.minReplicas)–\(deployment.spec.maxReplicas) per version, \(deployment.spec.resources.cpu) CPU, \(deployment.spec.resources.memoryBytes >> 20) MiB\(deployment.spec.resources.gpu > 0 ? ", \(deployment.spec.resources.gpu) GPU" : "") each
            batching:  up to \(deployment.spec.effectiveBatching.maxBatchSize) rows, \(deployment.spec.effectiveBatching.maxQueueDelayMicroseconds) µs delay
            """)
        Swift.print("")
        Swift.print(
            Table(
                headers: ["REPLICA", "REVISION", "MODEL", "STATE", "NODE", "ADDRESS", "RESTARTS", "REASON"],
                rows: detail.replicas.map {
                    [
                        String($0.id.uuidString.lowercased().prefix(8)), String($0.revision), "\($0.model):\($0.version)", $0.state.rawValue,
                        $0.node ?? "–", $0.address ?? "–", String($0.restarts), $0.reason,
                    ]
                }
            ).rendered)
        Swift.print("")
        Swift.print(
            Table(
                headers: ["REVISION", "CREATED", "BY", "WHY"],
                rows: detail.revisions.prefix(10).map { [String($0.number), $0.createdAt.shortText, $0.createdBy, $0.reason] }
            ).rendered)
    }
}

extension Array where Element == String {
    /// The first element and the second, if any.
    fileprivate func splitPair() -> (String, String?) { (self.first ?? "", count > 1 ? self[1] : nil) }
}
