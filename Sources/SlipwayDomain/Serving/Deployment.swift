import Foundation

/// One model version a deployment serves, and its share of the requests that name no version.
public struct DeploymentModel: Codable, Sendable, Hashable {
    /// The registered model's name.
    public var model: String
    /// The registry's version number.
    public var version: Int
    /// Relative share of traffic (90 and 10 send nine requests in ten to the first). 0 serves only requests that
    /// name this version.
    public var weight: Int

    public init(model: String, version: Int, weight: Int = 100) {
        self.model = model
        self.version = version
        self.weight = weight
    }

    enum CodingKeys: String, CodingKey {
        case model, version, weight
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(String.self, forKey: .model)
        version = try container.decode(Int.self, forKey: .version)
        weight = try container.decodeIfPresent(Int.self, forKey: .weight) ?? 100
    }
}

/// How the gateway batches requests for one model version: requests queue until `maxBatchSize` rows are waiting
/// or the first has waited `maxQueueDelayMicroseconds`, whichever comes first; a replica that is busy lets the queue
/// grow, so under load batches fill by themselves.
public struct BatchingPolicy: Codable, Sendable, Hashable {
    /// The most rows (first dimension) one call to the model carries; 1 turns batching off.
    public var maxBatchSize: Int
    /// How long a request may wait for others to join its batch while a replica is free.
    public var maxQueueDelayMicroseconds: Int

    public init(maxBatchSize: Int = 32, maxQueueDelayMicroseconds: Int = 0) {
        self.maxBatchSize = maxBatchSize
        self.maxQueueDelayMicroseconds = maxQueueDelayMicroseconds
    }

    public static let standard = BatchingPolicy()
}

/// What a revision of a deployment runs: the model versions and their traffic split, replicas and their
/// resources, batching and the gateway's limits. Each change makes a new revision; revisions never change.
public struct DeploymentSpec: Codable, Sendable, Hashable {
    public var models: [DeploymentModel]
    /// The fewest replicas of each model version (0 lets a version scale to nothing when idle).
    public var minReplicas: Int
    /// The most replicas of each model version autoscaling may start.
    public var maxReplicas: Int
    /// What each replica (one worker process) is given on its node.
    public var resources: ComputeResources
    public var batching: BatchingPolicy?
    /// Autoscaling's target: requests in flight or queued per replica (default 4).
    public var targetConcurrency: Double?
    /// How long the gateway waits for an answer before answering 504 (default 30 000 ms).
    public var requestTimeoutMilliseconds: Int?
    /// The most requests that may wait for one model version before the gateway answers 503 (default 256).
    public var maxQueue: Int?
    /// The worker's Python interpreter and extra requirements (the model's own `requirements.txt` is always used).
    public var environment: JobEnvironment?
    /// Labels a node must carry to run replicas.
    public var nodeSelector: [String: String]?

    public init(
        models: [DeploymentModel], minReplicas: Int = 1, maxReplicas: Int = 1,
        resources: ComputeResources = DeploymentSpec.defaultResources, batching: BatchingPolicy? = nil,
        targetConcurrency: Double? = nil, requestTimeoutMilliseconds: Int? = nil, maxQueue: Int? = nil,
        environment: JobEnvironment? = nil, nodeSelector: [String: String]? = nil
    ) {
        self.models = models
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.resources = resources
        self.batching = batching
        self.targetConcurrency = targetConcurrency
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
        self.maxQueue = maxQueue
        self.environment = environment
        self.nodeSelector = nodeSelector
    }

    enum CodingKeys: String, CodingKey {
        case models, minReplicas, maxReplicas, resources, batching, targetConcurrency, requestTimeoutMilliseconds, maxQueue, environment
        case nodeSelector
    }

    /// Reads a spec in which everything but the models may be left out: one replica of 1 CPU and 1 GiB by default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        models = try container.decode([DeploymentModel].self, forKey: .models)
        minReplicas = try container.decodeIfPresent(Int.self, forKey: .minReplicas) ?? 1
        maxReplicas = try container.decodeIfPresent(Int.self, forKey: .maxReplicas) ?? max(1, minReplicas)
        resources = try container.decodeIfPresent(ComputeResources.self, forKey: .resources) ?? Self.defaultResources
        batching = try container.decodeIfPresent(BatchingPolicy.self, forKey: .batching)
        targetConcurrency = try container.decodeIfPresent(Double.self, forKey: .targetConcurrency)
        requestTimeoutMilliseconds = try container.decodeIfPresent(Int.self, forKey: .requestTimeoutMilliseconds)
        maxQueue = try container.decodeIfPresent(Int.self, forKey: .maxQueue)
        environment = try container.decodeIfPresent(JobEnvironment.self, forKey: .environment)
        nodeSelector = try container.decodeIfPresent([String: String].self, forKey: .nodeSelector)
    }

    /// What a replica gets when the spec does not say: 1 CPU and 1 GiB.
    public static let defaultResources = ComputeResources(cpu: 1, memoryBytes: 1 << 30, gpu: 0)

    /// The batching the gateway applies.
    public var effectiveBatching: BatchingPolicy { batching ?? .standard }
    public var effectiveTargetConcurrency: Double { targetConcurrency ?? 4 }
    public var effectiveTimeoutMilliseconds: Int { requestTimeoutMilliseconds ?? 30_000 }
    public var effectiveMaxQueue: Int { maxQueue ?? 256 }
}

/// Where a deployment stands, for people and for the gateway.
public enum DeploymentState: String, Codable, Sendable, CaseIterable {
    /// A new revision's replicas are starting; the previous revision (if any) still serves.
    case rollingOut = "rolling_out"
    /// The newest revision serves with every replica it wants.
    case ready
    /// It serves, with fewer replicas than wanted or with a failing revision waiting beside it.
    case degraded
    /// No replica of some model version is ready: requests for it wait, then fail.
    case unavailable
}

/// A model served online: a name the gateway answers to (`/v2/models/{name}`), inside a project.
public struct Deployment: Codable, Sendable, Hashable {
    public var id: UUID
    /// Unique on the server: it is the model name clients of the Open Inference Protocol send.
    public var name: String
    public var namespace: String
    public var project: String
    public var description: String
    /// A production deployment only takes model versions approved for production.
    public var production: Bool
    /// A public deployment answers inference requests without a token.
    public var isPublic: Bool
    /// The newest revision: what the deployment is moving to.
    public var revision: Int
    /// The revision the gateway routes to; older than `revision` during a rollout, nil before the first is ready.
    public var servingRevision: Int?
    /// The newest revision's spec.
    public var spec: DeploymentSpec
    public var state: DeploymentState
    /// Why it is in its state: "revision 3: 1 of 2 replicas ready", "digits v4 cannot be loaded: …".
    public var reason: String
    /// Replicas wanted now per model version (`model:version`), between the spec's min and max, set by autoscaling.
    public var desiredReplicas: [String: Int]
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, name: String, namespace: String, project: String, description: String, production: Bool, isPublic: Bool,
        revision: Int, servingRevision: Int?, spec: DeploymentSpec, state: DeploymentState, reason: String,
        desiredReplicas: [String: Int], createdBy: String, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.namespace = namespace
        self.project = project
        self.description = description
        self.production = production
        self.isPublic = isPublic
        self.revision = revision
        self.servingRevision = servingRevision
        self.spec = spec
        self.state = state
        self.reason = reason
        self.desiredReplicas = desiredReplicas
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, namespace, project, description, production
        case isPublic = "public"
        case revision, servingRevision, spec, state, reason, desiredReplicas, createdBy, createdAt, updatedAt
    }
}

/// The key of one model version inside a deployment: `model:version`.
public func modelVersionKey(_ model: String, _ version: Int) -> String { "\(model):\(version)" }

/// A file of a model version's folder, as the agent downloads it.
public struct ModelFile: Codable, Sendable, Hashable {
    /// The path inside the model's folder.
    public var path: String
    public var sha256: String
    public var size: Int64

    public init(path: String, sha256: String, size: Int64) {
        self.path = path
        self.sha256 = sha256
        self.size = size
    }
}

/// A model version as a revision pinned it: its files at the time the revision was made.
public struct ResolvedModel: Codable, Sendable, Hashable {
    public var model: String
    public var version: Int
    /// The registry's storage location the files were read from (`mlflow-artifacts:/…`).
    public var source: String
    public var files: [ModelFile]

    public init(model: String, version: Int, source: String, files: [ModelFile]) {
        self.model = model
        self.version = version
        self.source = source
        self.files = files
    }
}

/// One immutable revision of a deployment: its spec, the model files it pinned, and why it was made.
public struct DeploymentRevision: Codable, Sendable, Hashable {
    public var number: Int
    public var spec: DeploymentSpec
    public var models: [ResolvedModel]
    /// "created", "scaled to 2–4", "rolled back to revision 2", …
    public var reason: String
    public var createdBy: String
    public var createdAt: Date

    public init(number: Int, spec: DeploymentSpec, models: [ResolvedModel], reason: String, createdBy: String, createdAt: Date) {
        self.number = number
        self.spec = spec
        self.models = models
        self.reason = reason
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// Where a replica is in its life: `pending → scheduled → starting → ready`, `unhealthy` while its worker fails
/// its health checks (it is killed and replaced), `stopping → stopped` when no longer wanted, `failed` when its
/// model cannot be served.
public enum ReplicaState: String, Codable, Sendable, CaseIterable {
    case pending, scheduled, starting, ready, unhealthy, stopping, stopped, failed

    /// Whether the replica holds (or is about to hold) room on a node.
    public var isPlaced: Bool { [.scheduled, .starting, .ready, .unhealthy, .stopping].contains(self) }
    /// Whether it still counts toward the replicas a version wants.
    public var isLive: Bool { [.pending, .scheduled, .starting, .ready, .unhealthy].contains(self) }
}

/// One worker process serving one model version of one revision, on one node.
public struct Replica: Codable, Sendable, Hashable {
    public var id: UUID
    public var deployment: String
    public var revision: Int
    public var model: String
    public var version: Int
    public var state: ReplicaState
    public var reason: String
    public var node: String?
    /// Where the worker listens (`tcp:10.0.0.7:41234`), once started.
    public var address: String?
    /// How often the agent restarted the worker (crashes and failed health checks).
    public var restarts: Int
    public var gpuDevices: [Int]
    public var createdAt: Date
    public var readyAt: Date?
    public var updatedAt: Date

    public init(
        id: UUID, deployment: String, revision: Int, model: String, version: Int, state: ReplicaState, reason: String, node: String?,
        address: String?, restarts: Int, gpuDevices: [Int], createdAt: Date, readyAt: Date?, updatedAt: Date
    ) {
        self.id = id
        self.deployment = deployment
        self.revision = revision
        self.model = model
        self.version = version
        self.state = state
        self.reason = reason
        self.node = node
        self.address = address
        self.restarts = restarts
        self.gpuDevices = gpuDevices
        self.createdAt = createdAt
        self.readyAt = readyAt
        self.updatedAt = updatedAt
    }
}

/// Work the server hands an agent: start a worker for this replica.
public struct ReplicaAssignment: Codable, Sendable, Hashable {
    public var replicaId: UUID
    public var deployment: String
    public var model: String
    public var version: Int
    /// The model's files, fetched through `GET /api/v1/agents/replicas/{id}/files/{sha256}`.
    public var files: [ModelFile]
    public var environment: JobEnvironment?
    public var resources: ComputeResources
    public var gpuDevices: [Int]

    public init(
        replicaId: UUID, deployment: String, model: String, version: Int, files: [ModelFile], environment: JobEnvironment?,
        resources: ComputeResources, gpuDevices: [Int]
    ) {
        self.replicaId = replicaId
        self.deployment = deployment
        self.model = model
        self.version = version
        self.files = files
        self.environment = environment
        self.resources = resources
        self.gpuDevices = gpuDevices
    }
}

/// What an agent says about a replica it runs, with each heartbeat.
public struct ReplicaReport: Codable, Sendable, Hashable {
    public var replicaId: UUID
    /// `starting`, `ready`, `unhealthy` or `failed`.
    public var state: ReplicaState
    public var address: String?
    public var restarts: Int
    /// A sentence for people: "building the Python environment", "worker exited with code 3: …".
    public var message: String?

    public init(replicaId: UUID, state: ReplicaState, address: String?, restarts: Int, message: String?) {
        self.replicaId = replicaId
        self.state = state
        self.address = address
        self.restarts = restarts
        self.message = message
    }
}
