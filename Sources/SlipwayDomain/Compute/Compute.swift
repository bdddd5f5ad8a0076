import Foundation

/// An amount of compute: CPU cores, memory and whole GPUs. Jobs request it; nodes have and use it.
public struct ComputeResources: Codable, Sendable, Hashable {
    /// CPU cores (fractions allowed: 0.5 is half a core).
    public var cpu: Double
    public var memoryBytes: Int64
    public var gpu: Int

    public init(cpu: Double, memoryBytes: Int64, gpu: Int) {
        self.cpu = cpu
        self.memoryBytes = memoryBytes
        self.gpu = gpu
    }

    public static let zero = ComputeResources(cpu: 0, memoryBytes: 0, gpu: 0)
}

/// One GPU of a node, as `nvidia-smi` reports it.
public struct GPUDevice: Codable, Sendable, Hashable {
    /// The index `CUDA_VISIBLE_DEVICES` names.
    public var index: Int
    public var model: String
    public var memoryBytes: Int64

    public init(index: Int, model: String, memoryBytes: Int64) {
        self.index = index
        self.model = model
        self.memoryBytes = memoryBytes
    }
}

/// Whether a node takes new work.
public enum NodeState: String, Codable, Sendable, CaseIterable {
    /// Heartbeating and schedulable.
    case ready
    /// Heartbeating; keeps its running jobs but gets no new ones.
    case cordoned
    /// Like cordoned; its jobs are being moved elsewhere.
    case draining
    /// Missed its heartbeats; its jobs were re-queued.
    case lost
}

/// A machine running `slipway agent` (or the agent embedded in `slipway serve`).
public struct ComputeNode: Codable, Sendable, Hashable {
    public var id: UUID
    public var name: String
    public var capacity: ComputeResources
    public var gpus: [GPUDevice]
    public var labels: [String: String]
    public var state: NodeState
    /// What its running work uses, as last reported.
    public var usage: ComputeResources
    public var registeredAt: Date
    public var lastHeartbeatAt: Date
    /// What the jobs placed on it (scheduled, preparing, running) asked for, in node listings.
    public var allocated: ComputeResources?
    /// How many jobs are placed on it, in node listings.
    public var placedJobs: Int?

    public init(
        id: UUID, name: String, capacity: ComputeResources, gpus: [GPUDevice], labels: [String: String], state: NodeState,
        usage: ComputeResources, registeredAt: Date, lastHeartbeatAt: Date
    ) {
        self.id = id
        self.name = name
        self.capacity = capacity
        self.gpus = gpus
        self.labels = labels
        self.state = state
        self.usage = usage
        self.registeredAt = registeredAt
        self.lastHeartbeatAt = lastHeartbeatAt
    }
}

/// Where a job is in its life. `queued → scheduled → preparing → running → succeeded | failed | cancelled`;
/// `lost` when its node vanished and no attempt is left.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, scheduled, preparing, running, succeeded, failed, cancelled, lost

    /// Whether the job is over.
    public var isFinal: Bool { [.succeeded, .failed, .cancelled, .lost].contains(self) }
    /// Whether a node holds the job (it counts against that node's capacity).
    public var isPlaced: Bool { [.scheduled, .preparing, .running].contains(self) }
}

/// What a job runs in: a Python virtual environment built from `requirements` and cached by their hash on
/// each node, or a container image run through docker or podman.
public struct JobEnvironment: Codable, Sendable, Hashable {
    /// `python3`, `python3.11`, …: the interpreter the environment is made from.
    public var python: String?
    /// pip requirement lines.
    public var requirements: [String]
    /// A container image (`python:3.11-slim`, `registry.local/team/train:4`) to run the command in, instead of a
    /// virtual environment. The node needs docker or podman.
    public var image: String?

    public init(python: String? = nil, requirements: [String] = [], image: String? = nil) {
        self.python = python
        self.requirements = requirements
        self.image = image
    }

    enum CodingKeys: String, CodingKey {
        case python, requirements, image
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        python = try container.decodeIfPresent(String.self, forKey: .python)
        requirements = try container.decodeIfPresent([String].self, forKey: .requirements) ?? []
        image = try container.decodeIfPresent(String.self, forKey: .image)
    }
}

/// A job's code: a folder the CLI packed into a tar archive and uploaded as a blob of the namespace, named by
/// its SHA-256. The agent unpacks it into the job's working directory.
public struct CodeSnapshot: Codable, Sendable, Hashable {
    /// The archive's SHA-256, lowercase hex.
    public var sha256: String
    public var sizeBytes: Int64
    /// How many files it holds.
    public var files: Int?

    public init(sha256: String, sizeBytes: Int64, files: Int? = nil) {
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.files = files
    }
}

/// A dataset version a job reads: materialized under `inputs/<name>` in the job's working directory, with its
/// path in `SLIPWAY_INPUT_<NAME>` (the name upper-cased, `-` as `_`).
public struct JobDatasetInput: Codable, Sendable, Hashable {
    /// What the job calls it: the folder name and the environment variable's suffix.
    public var name: String
    /// `DATASET` in the job's project, or `PROJECT/DATASET` in its namespace.
    public var dataset: String
    /// The version number; the latest committed version at submission when omitted (the job records which).
    public var version: Int?
    /// `records` (the default), `image_folder`, `coco` or `voc`, as `slipway dataset pull --layout` writes them.
    public var layout: String?

    public init(name: String, dataset: String, version: Int? = nil, layout: String? = nil) {
        self.name = name
        self.dataset = dataset
        self.version = version
        self.layout = layout
    }

    /// The environment variable holding the input's path.
    public var environmentVariable: String {
        "SLIPWAY_INPUT_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }
}

/// What to run: `POST …/jobs`.
public struct JobSpec: Codable, Sendable, Hashable {
    public var name: String
    /// A shell command line, run with `/bin/sh -c` in the job's working directory.
    public var command: String
    public var environment: JobEnvironment?
    public var resources: ComputeResources
    /// Higher runs first among a namespace's jobs.
    public var priority: Int?
    /// The job is stopped and failed after this many seconds.
    public var maxRuntimeSeconds: Int?
    /// Extra environment variables.
    public var env: [String: String]?
    /// The code unpacked into the working directory before the command runs.
    public var code: CodeSnapshot?
    /// Dataset versions materialized for the job.
    public var inputs: [JobDatasetInput]?
    /// Labels a node must carry, all of them, to take the job (`gpu.model: A100`).
    public var nodeSelector: [String: String]?
    /// The MLflow experiment the job's run goes to, `NAMESPACE/PROJECT/NAME` or just `NAME` in the job's project;
    /// the job's name when omitted.
    public var experiment: String?

    public init(
        name: String, command: String, environment: JobEnvironment? = nil, resources: ComputeResources, priority: Int? = nil,
        maxRuntimeSeconds: Int? = nil, env: [String: String]? = nil, code: CodeSnapshot? = nil, inputs: [JobDatasetInput]? = nil,
        nodeSelector: [String: String]? = nil, experiment: String? = nil
    ) {
        self.name = name
        self.command = command
        self.environment = environment
        self.resources = resources
        self.priority = priority
        self.maxRuntimeSeconds = maxRuntimeSeconds
        self.env = env
        self.code = code
        self.inputs = inputs
        self.nodeSelector = nodeSelector
        self.experiment = experiment
    }
}

/// A submitted job and where it stands.
public struct Job: Codable, Sendable, Hashable {
    public var id: UUID
    public var namespace: String
    public var project: String
    public var spec: JobSpec
    public var state: JobState
    /// Why it is in its state, for people: "exceeded its memory limit (512 MiB)", "node n1 was lost".
    public var reason: String
    /// Attempts started so far; a lost node costs one.
    public var attempts: Int
    public var maxAttempts: Int
    public var node: String?
    /// GPU indices handed to it (`CUDA_VISIBLE_DEVICES`).
    public var gpuDevices: [Int]
    public var exitCode: Int?
    public var createdBy: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The MLflow run that records the job: its parameters, metrics, artifacts (the output folder) and lineage.
    public var runId: String?
    /// The run's experiment.
    public var experimentId: String?

    public init(
        id: UUID, namespace: String, project: String, spec: JobSpec, state: JobState, reason: String, attempts: Int, maxAttempts: Int,
        node: String?, gpuDevices: [Int], exitCode: Int?, createdBy: String, createdAt: Date, startedAt: Date?, finishedAt: Date?,
        runId: String? = nil, experimentId: String? = nil
    ) {
        self.runId = runId
        self.experimentId = experimentId
        self.id = id
        self.namespace = namespace
        self.project = project
        self.spec = spec
        self.state = state
        self.reason = reason
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.node = node
        self.gpuDevices = gpuDevices
        self.exitCode = exitCode
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// One transition of a job, with when and why.
public struct JobEvent: Codable, Sendable, Hashable {
    public var state: JobState
    public var reason: String
    public var node: String?
    public var at: Date

    public init(state: JobState, reason: String, node: String?, at: Date) {
        self.state = state
        self.reason = reason
        self.node = node
        self.at = at
    }
}

/// `GET /api/v1/jobs/{id}`: a job with its state history.
public struct JobDetail: Codable, Sendable {
    public var job: Job
    public var events: [JobEvent]
    public init(job: Job, events: [JobEvent]) {
        self.job = job
        self.events = events
    }
}

/// Work the server hands an agent: a job, the attempt it is on (stale reports of older attempts are refused)
/// and its GPUs.
public struct JobAssignment: Codable, Sendable, Hashable {
    public var jobId: UUID
    public var attempt: Int
    public var spec: JobSpec
    public var gpuDevices: [Int]
    public var namespace: String
    public var project: String
    /// A token for this attempt only, acting as a developer of the job's namespace and nothing else, valid while
    /// the attempt holds its node: the job uses it for MLflow (`MLFLOW_TRACKING_TOKEN`) and the agent to fetch the
    /// code and inputs and upload the outputs. Sent only with the heartbeat that hands the job over.
    public var token: String?
    /// The job's MLflow run and experiment.
    public var runId: String?
    public var experimentId: String?

    public init(
        jobId: UUID, attempt: Int, spec: JobSpec, gpuDevices: [Int], namespace: String, project: String, token: String? = nil,
        runId: String? = nil, experimentId: String? = nil
    ) {
        self.jobId = jobId
        self.attempt = attempt
        self.spec = spec
        self.gpuDevices = gpuDevices
        self.namespace = namespace
        self.project = project
        self.token = token
        self.runId = runId
        self.experimentId = experimentId
    }
}

/// `POST /api/v1/agents/register`: a node joining with a join token.
public struct AgentRegistration: Codable, Sendable {
    public var joinToken: String
    public var name: String
    public var capacity: ComputeResources
    public var gpus: [GPUDevice]
    public var labels: [String: String]

    public init(joinToken: String, name: String, capacity: ComputeResources, gpus: [GPUDevice], labels: [String: String]) {
        self.joinToken = joinToken
        self.name = name
        self.capacity = capacity
        self.gpus = gpus
        self.labels = labels
    }
}

/// The answer to a registration: the node and the secret the agent authenticates with from now on.
public struct AgentCredentials: Codable, Sendable {
    public var nodeId: UUID
    public var agentToken: String
    /// Seconds between heartbeats the server expects.
    public var heartbeatSeconds: Double

    public init(nodeId: UUID, agentToken: String, heartbeatSeconds: Double) {
        self.nodeId = nodeId
        self.agentToken = agentToken
        self.heartbeatSeconds = heartbeatSeconds
    }
}

/// `POST /api/v1/agents/heartbeat`: what the agent runs and uses.
public struct AgentHeartbeat: Codable, Sendable {
    public var usage: ComputeResources
    /// The jobs (and attempts) the agent is running.
    public var running: [RunningAttempt]
    /// The serving replicas the agent runs, with their state.
    public var replicas: [ReplicaReport]?

    public struct RunningAttempt: Codable, Sendable, Hashable {
        public var jobId: UUID
        public var attempt: Int
        public init(jobId: UUID, attempt: Int) {
            self.jobId = jobId
            self.attempt = attempt
        }
    }

    public init(usage: ComputeResources, running: [RunningAttempt], replicas: [ReplicaReport]? = nil) {
        self.usage = usage
        self.running = running
        self.replicas = replicas
    }
}

/// The answer to a heartbeat: new work to start, and running work to stop (cancelled, or no longer this node's).
public struct AgentInstructions: Codable, Sendable {
    public var start: [JobAssignment]
    public var stop: [UUID]
    /// Serving replicas to start a worker for.
    public var startReplicas: [ReplicaAssignment]?
    /// Serving replicas whose workers must stop.
    public var stopReplicas: [UUID]?

    public init(start: [JobAssignment], stop: [UUID], startReplicas: [ReplicaAssignment]? = nil, stopReplicas: [UUID]? = nil) {
        self.start = start
        self.stop = stop
        self.startReplicas = startReplicas
        self.stopReplicas = stopReplicas
    }
}

/// `POST /api/v1/agents/jobs/{id}/state`: the agent reports a job's progress.
public struct JobStateReport: Codable, Sendable {
    public var attempt: Int
    public var state: JobState
    public var reason: String?
    public var exitCode: Int?

    public init(attempt: Int, state: JobState, reason: String? = nil, exitCode: Int? = nil) {
        self.attempt = attempt
        self.state = state
        self.reason = reason
        self.exitCode = exitCode
    }
}

/// A join token: created by an administrator, given to `slipway agent --token` to register nodes.
public struct JoinToken: Codable, Sendable, Hashable {
    public var id: UUID
    public var name: String
    public var createdBy: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: UUID, name: String, createdBy: String, createdAt: Date, revokedAt: Date?) {
        self.id = id
        self.name = name
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// A join token with its secret, shown once.
public struct IssuedJoinToken: Codable, Sendable {
    public var token: JoinToken
    public var secret: String
    public init(token: JoinToken, secret: String) {
        self.token = token
        self.secret = secret
    }
}
