import Foundation

/// `POST /api/v1/namespaces/{ns}/projects/{p}/deployments`: a name, flags, and the first revision's spec (its fields
/// sit beside the others: `{"name": "digits", "models": [{"model": "digits", "version": 3}], "max_replicas": 4}`).
public struct CreateDeploymentRequest: Codable, Sendable {
    public var name: String
    public var description: String?
    public var production: Bool?
    public var isPublic: Bool?
    public var spec: DeploymentSpec

    public init(name: String, description: String? = nil, production: Bool? = nil, isPublic: Bool? = nil, spec: DeploymentSpec) {
        self.name = name
        self.description = description
        self.production = production
        self.isPublic = isPublic
        self.spec = spec
    }

    enum CodingKeys: String, CodingKey {
        case name, description, production
        case isPublic = "public"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        production = try container.decodeIfPresent(Bool.self, forKey: .production)
        isPublic = try container.decodeIfPresent(Bool.self, forKey: .isPublic)
        spec = try DeploymentSpec(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encodeIfPresent(description, forKey: .description)
        try container.encodeIfPresent(production, forKey: .production)
        try container.encodeIfPresent(isPublic, forKey: .isPublic)
        try spec.encode(to: encoder)
    }
}

/// `PATCH /api/v1/deployments/{name}`: what to change. Changes to the models, replicas, resources, batching, limits
/// or environment make a new revision (replicas whose model, resources and environment stay the same are kept);
/// `description` and `public` change the deployment itself.
public struct UpdateDeploymentRequest: Codable, Sendable {
    public var description: String?
    public var production: Bool?
    public var isPublic: Bool?
    public var models: [DeploymentModel]?
    public var minReplicas: Int?
    public var maxReplicas: Int?
    public var resources: ComputeResources?
    public var batching: BatchingPolicy?
    public var targetConcurrency: Double?
    public var requestTimeoutMilliseconds: Int?
    public var maxQueue: Int?
    public var environment: JobEnvironment?
    public var nodeSelector: [String: String]?

    public init(
        description: String? = nil, production: Bool? = nil, isPublic: Bool? = nil, models: [DeploymentModel]? = nil,
        minReplicas: Int? = nil, maxReplicas: Int? = nil, resources: ComputeResources? = nil, batching: BatchingPolicy? = nil,
        targetConcurrency: Double? = nil, requestTimeoutMilliseconds: Int? = nil, maxQueue: Int? = nil,
        environment: JobEnvironment? = nil, nodeSelector: [String: String]? = nil
    ) {
        self.description = description
        self.production = production
        self.isPublic = isPublic
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
        case description, production
        case isPublic = "public"
        case models, minReplicas, maxReplicas, resources, batching, targetConcurrency, requestTimeoutMilliseconds, maxQueue, environment
        case nodeSelector
    }

    /// Whether the request changes the spec (and so makes a revision).
    public var changesSpec: Bool {
        models != nil || minReplicas != nil || maxReplicas != nil || resources != nil || batching != nil || targetConcurrency != nil
            || requestTimeoutMilliseconds != nil || maxQueue != nil || environment != nil || nodeSelector != nil
    }

    /// `spec` with this request's changes.
    public func applied(to spec: DeploymentSpec) -> DeploymentSpec {
        var spec = spec
        if let models { spec.models = models }
        if let minReplicas { spec.minReplicas = minReplicas }
        if let maxReplicas { spec.maxReplicas = maxReplicas }
        if let resources { spec.resources = resources }
        if let batching { spec.batching = batching }
        if let targetConcurrency { spec.targetConcurrency = targetConcurrency }
        if let requestTimeoutMilliseconds { spec.requestTimeoutMilliseconds = requestTimeoutMilliseconds }
        if let maxQueue { spec.maxQueue = maxQueue }
        if let environment { spec.environment = environment }
        if let nodeSelector { spec.nodeSelector = nodeSelector }
        return spec
    }
}

/// `POST /api/v1/deployments/{name}/scale`.
public struct ScaleDeploymentRequest: Codable, Sendable {
    public var minReplicas: Int?
    public var maxReplicas: Int?
    public init(minReplicas: Int?, maxReplicas: Int?) {
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
    }
}

/// `POST /api/v1/deployments/{name}/rollback`: back to `revision`, or to the one before the newest.
public struct RollbackDeploymentRequest: Codable, Sendable {
    public var revision: Int?
    public init(revision: Int? = nil) { self.revision = revision }
}

/// `GET /api/v1/deployments/{name}`: a deployment with its revisions (newest first) and replicas.
public struct DeploymentDetail: Codable, Sendable {
    public var deployment: Deployment
    public var revisions: [DeploymentRevision]
    public var replicas: [Replica]
    /// Where to send inference requests: `/v2/models/{name}`.
    public var inferencePath: String

    public init(deployment: Deployment, revisions: [DeploymentRevision], replicas: [Replica]) {
        self.deployment = deployment
        self.revisions = revisions
        self.replicas = replicas
        self.inferencePath = "/v2/models/\(deployment.name)"
    }
}

/// `GET /api/v1/deployments/{name}/metrics`: the gateway's recent figures for one deployment, in buckets.
public struct DeploymentMetrics: Codable, Sendable {
    /// One time bucket of one model version.
    public struct Bucket: Codable, Sendable, Hashable {
        /// The bucket's start, seconds since 1970.
        public var start: Double
        public var requests: Int
        public var errors: Int
        /// Latency percentiles of the bucket's requests, in milliseconds (nil with no requests).
        public var p50Milliseconds: Double?
        public var p99Milliseconds: Double?
        public var meanBatchSize: Double?

        public init(start: Double, requests: Int, errors: Int, p50Milliseconds: Double?, p99Milliseconds: Double?, meanBatchSize: Double?) {
            self.start = start
            self.requests = requests
            self.errors = errors
            self.p50Milliseconds = p50Milliseconds
            self.p99Milliseconds = p99Milliseconds
            self.meanBatchSize = meanBatchSize
        }
    }

    /// Seconds per bucket.
    public var bucketSeconds: Double
    /// Buckets by model version key (`model:version`), oldest first.
    public var versions: [String: [Bucket]]
    /// Requests in flight or queued now, by model version key.
    public var inFlight: [String: Int]

    public init(bucketSeconds: Double, versions: [String: [Bucket]], inFlight: [String: Int]) {
        self.bucketSeconds = bucketSeconds
        self.versions = versions
        self.inFlight = inFlight
    }
}
