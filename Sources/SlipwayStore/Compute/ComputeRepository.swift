import Foundation
import SQLKit
import SlipwayDomain

/// Nodes, jobs, their state history and logs, join tokens, and the scheduler's leader lease.
///
/// Every state change of a job is a guarded update (`WHERE state = …`, the node and attempt that hold it),
/// written with its event in one transaction, so a stale agent or a racing server changes nothing.
public protocol ComputeRepository: Sendable {
    // Join tokens
    func createJoinToken(name: String, secretHash: String, by actor: AuditActor) async throws -> JoinToken
    func joinTokens() async throws -> [JoinToken]
    func revokeJoinToken(id: UUID, by actor: AuditActor) async throws
    /// The live join token with this secret hash.
    func joinToken(secretHash: String) async throws -> JoinToken?

    // Nodes
    /// Registers a node, or re-registers one of the same name (an agent restarted): its placed jobs are
    /// re-queued, since the old agent process no longer runs them.
    func register(_ node: ComputeNode, agentTokenHash: String, at now: Date) async throws -> ComputeNode
    func node(agentTokenHash: String) async throws -> ComputeNode?
    func node(named name: String) async throws -> ComputeNode?
    func nodes() async throws -> [ComputeNode]
    /// Records a heartbeat; a node marked lost comes back as ready (its old work was re-queued).
    func heartbeat(nodeID: UUID, usage: ComputeResources, at now: Date) async throws
    func setState(ofNode name: String, _ state: NodeState, by actor: AuditActor) async throws -> ComputeNode
    /// Marks nodes silent since `cutoff` lost and re-queues their jobs (or fails them when out of attempts).
    /// - Returns: the names of the nodes marked lost.
    func markLostNodes(silentSince cutoff: Date, at now: Date) async throws -> [String]

    // Jobs
    /// Records a queued job, its first event, and a reference that keeps its code's blob.
    func createJob(_ job: Job, namespaceID: UUID, projectID: UUID, by actor: AuditActor) async throws
    func job(id: UUID) async throws -> Job?
    func jobs(namespaceIDs: [UUID]?, projectID: UUID?, states: [JobState]?, limit: Int) async throws -> [Job]
    func events(jobID: UUID) async throws -> [JobEvent]
    /// Queued and placed jobs with their namespace ids: what the scheduler plans over.
    func schedulable() async throws -> [(job: Job, namespaceID: UUID, nodeID: UUID?)]
    /// Places a queued job on a node, checking in the same transaction that the node is ready and has room for it
    /// beside the jobs placed there (another server may have placed some meanwhile) and that its GPU devices are free.
    /// - Returns: false when the job was no longer queued or the node had no room for it.
    func place(jobID: UUID, nodeID: UUID, gpuDevices: [Int], at now: Date) async throws -> Bool
    /// Jobs placed on the node that its agent has not started yet.
    func assignments(nodeID: UUID) async throws -> [JobAssignment]
    /// Of the attempts an agent runs, those it must stop: finished (cancelled) or no longer its own.
    func stale(_ running: [AgentHeartbeat.RunningAttempt], nodeID: UUID) async throws -> [UUID]
    /// Re-queues (or, out of attempts, ends as lost) the jobs placed on the node as preparing or running whose
    /// attempt its agent no longer lists in `running` — the agent lost track of them, or their final report never
    /// arrived — so they do not hold the node's room forever. A job whose last change is not older than
    /// `settledBefore` is left alone (its agent may not have listed it yet).
    /// - Returns: the jobs changed, as they are now.
    func reconcile(nodeID: UUID, running: [AgentHeartbeat.RunningAttempt], settledBefore: Date, at now: Date) async throws -> [Job]
    /// An agent's report. - Throws: `stale_report` (409) when the node or attempt no longer holds the job;
    /// `invalid_transition` for a state that cannot follow the current one.
    func report(jobID: UUID, nodeID: UUID, _ report: JobStateReport, at now: Date) async throws -> Job
    /// Cancels a job that is not over. - Returns: the job; unchanged when it was already over.
    func cancel(jobID: UUID, by actor: AuditActor, at now: Date) async throws -> Job
    /// Gives the job's attempt `attempt`, still waiting for its agent, a token (by its hash), replacing any before.
    /// - Returns: false when that attempt no longer waits to start.
    func issueToken(jobID: UUID, attempt: Int, secretHash: String) async throws -> Bool
    /// The placed job whose current attempt holds the token with this hash, with its namespace's id.
    func job(tokenHash: String) async throws -> (job: Job, namespaceID: UUID)?
    /// Notes why queued jobs wait (their `reason`), for those whose reason changed; no event is recorded.
    func setWaitingReasons(_ reasons: [UUID: String]) async throws

    // Logs
    /// Appends text to the job's log, keeping it within `limit` Unicode scalars: what goes past is dropped, with one
    /// line saying so. Offsets count Unicode scalars, as SQL's LENGTH does.
    /// - Returns: the log's length afterwards.
    func appendLog(jobID: UUID, _ text: String, limit: Int64) async throws -> Int64
    /// The log from `offset` on, and the offset after it.
    func log(jobID: UUID, from offset: Int64) async throws -> (text: String, next: Int64)
    /// How long the log is, in Unicode scalars.
    func logLength(jobID: UUID) async throws -> Int64

    // Leadership
    /// Takes or renews the lease `name` for `holder` until `now + ttl`. - Returns: whether `holder` holds it.
    func acquireLease(_ name: String, holder: String, at now: Date, ttl: TimeInterval) async throws -> Bool
}

/// The SQL implementation.
public struct SQLComputeRepository: ComputeRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
    static func json(_ value: some Encodable) throws -> String { String(decoding: try APICoding.encoder().encode(value), as: UTF8.self) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try APICoding.decoder().decode(T.self, from: Data(text.utf8)) }

    // MARK: - Join tokens

    struct JoinTokenRow: Codable {
        var id: String
        var name: String
        var secretHash: String
        var createdBy: String
        var createdAt: Int64
        var revokedAt: Int64?

        func token() -> JoinToken {
            JoinToken(
                id: UUID(uuidString: id) ?? UUID(), name: name, createdBy: createdBy, createdAt: SQLComputeRepository.date(createdAt),
                revokedAt: revokedAt.map(SQLComputeRepository.date))
        }
    }

    public func createJoinToken(name: String, secretHash: String, by actor: AuditActor) async throws -> JoinToken {
        let row = JoinTokenRow(
            id: UUID().uuidString, name: name, secretHash: secretHash, createdBy: actor.name, createdAt: Self.millis(Date()), revokedAt: nil)
        try await database.write { db in
            try await db.insert(into: "join_tokens").model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
            try await db.recordAudit(actor, "join_token.create", targetType: "join_token", target: name, details: ["id": row.id])
        }
        return row.token()
    }

    public func joinTokens() async throws -> [JoinToken] {
        try await database.read { db in
            try await db.select().column("*").from("join_tokens").orderBy("created_at", .descending)
                .all(decoding: JoinTokenRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { $0.token() }
    }

    public func revokeJoinToken(id: UUID, by actor: AuditActor) async throws {
        try await database.write { db in
            guard
                let row = try await db.select().column("*").from("join_tokens").where("id", .equal, id.uuidString)
                    .first(decoding: JoinTokenRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("join token", id.uuidString) }
            guard row.revokedAt == nil else { return }
            try await db.update("join_tokens").set("revoked_at", to: Self.millis(Date())).where("id", .equal, row.id).run()
            try await db.recordAudit(actor, "join_token.revoke", targetType: "join_token", target: row.name, details: ["id": row.id])
        }
    }

    public func joinToken(secretHash: String) async throws -> JoinToken? {
        try await database.read { db in
            try await db.select().column("*").from("join_tokens").where("secret_hash", .equal, secretHash)
                .where("revoked_at", .is, SQLLiteral.null)
                .first(decoding: JoinTokenRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.token()
    }

    // MARK: - Nodes

    struct NodeRow: Codable {
        var id: String
        var name: String
        var agentTokenHash: String
        var cpu: Double
        var memoryBytes: Int64
        var gpu: Int
        var gpusJson: String
        var labelsJson: String
        var state: String
        var usageJson: String
        var registeredAt: Int64
        var lastHeartbeatAt: Int64

        func node() throws -> ComputeNode {
            ComputeNode(
                id: UUID(uuidString: id) ?? UUID(), name: name, capacity: ComputeResources(cpu: cpu, memoryBytes: memoryBytes, gpu: gpu),
                gpus: try SQLComputeRepository.decode([GPUDevice].self, gpusJson),
                labels: try SQLComputeRepository.decode([String: String].self, labelsJson), state: NodeState(rawValue: state) ?? .lost,
                usage: try SQLComputeRepository.decode(ComputeResources.self, usageJson), registeredAt: SQLComputeRepository.date(registeredAt),
                lastHeartbeatAt: SQLComputeRepository.date(lastHeartbeatAt))
        }
    }

    public func register(_ node: ComputeNode, agentTokenHash: String, at now: Date) async throws -> ComputeNode {
        let stamp = Self.millis(now)
        return try await database.write { db in
            let existing = try await db.select().column("*").from("compute_nodes").where("name", .equal, node.name)
                .first(decoding: NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            let id = existing?.id ?? node.id.uuidString
            let row = NodeRow(
                id: id, name: node.name, agentTokenHash: agentTokenHash, cpu: node.capacity.cpu, memoryBytes: node.capacity.memoryBytes,
                gpu: node.capacity.gpu, gpusJson: try Self.json(node.gpus), labelsJson: try Self.json(node.labels),
                // A re-registering node keeps an administrator's cordon or drain.
                state: existing.map { $0.state == NodeState.lost.rawValue ? NodeState.ready.rawValue : $0.state } ?? NodeState.ready.rawValue,
                usageJson: try Self.json(ComputeResources.zero), registeredAt: existing?.registeredAt ?? stamp, lastHeartbeatAt: stamp)
            if existing != nil {
                try await Self.requeueJobs(db, onNode: id, reason: "the agent on node \(node.name) restarted", at: stamp)
                try await db.update("compute_nodes").set(model: row, keyEncodingStrategy: .convertToSnakeCase).where("id", .equal, id).run()
            } else {
                try await db.insert(into: "compute_nodes").model(row, keyEncodingStrategy: .convertToSnakeCase).run()
            }
            return try row.node()
        }
    }

    public func node(agentTokenHash: String) async throws -> ComputeNode? {
        try await database.read { db in
            try await db.select().column("*").from("compute_nodes").where("agent_token_hash", .equal, agentTokenHash)
                .first(decoding: NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.node()
    }

    public func node(named name: String) async throws -> ComputeNode? {
        try await database.read { db in
            try await db.select().column("*").from("compute_nodes").where("name", .equal, name)
                .first(decoding: NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.node()
    }

    public func nodes() async throws -> [ComputeNode] {
        try await database.read { db in
            try await db.select().column("*").from("compute_nodes").orderBy("name")
                .all(decoding: NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { try $0.node() }
    }

    public func heartbeat(nodeID: UUID, usage: ComputeResources, at now: Date) async throws {
        let usageJSON = try Self.json(usage)
        try await database.write { db in
            try await db.update("compute_nodes").set("last_heartbeat_at", to: Self.millis(now)).set("usage_json", to: usageJSON)
                .where("id", .equal, nodeID.uuidString).run()
            try await db.update("compute_nodes").set("state", to: NodeState.ready.rawValue)
                .where("id", .equal, nodeID.uuidString).where("state", .equal, NodeState.lost.rawValue).run()
        }
    }

    public func setState(ofNode name: String, _ state: NodeState, by actor: AuditActor) async throws -> ComputeNode {
        try await database.write { db in
            guard
                let row = try await db.select().column("*").from("compute_nodes").where("name", .equal, name)
                    .first(decoding: NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("node", name) }
            try await db.update("compute_nodes").set("state", to: state.rawValue).where("id", .equal, row.id).run()
            if state == .draining {
                try await Self.requeueJobs(db, onNode: row.id, reason: "node \(name) is being drained", at: Self.millis(Date()), costsAttempt: false)
            }
            try await db.recordAudit(actor, "node.\(state.rawValue)", targetType: "node", target: name, details: [:])
            var node = try row.node()
            node.state = state
            return node
        }
    }

    public func markLostNodes(silentSince cutoff: Date, at now: Date) async throws -> [String] {
        try await database.write { db in
            let silent = try await db.select().column("*").from("compute_nodes")
                .where("state", .notEqual, NodeState.lost.rawValue).where("last_heartbeat_at", .lessThan, Self.millis(cutoff))
                .all(decoding: NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            for node in silent {
                try await db.update("compute_nodes").set("state", to: NodeState.lost.rawValue).where("id", .equal, node.id).run()
                try await Self.requeueJobs(db, onNode: node.id, reason: "node \(node.name) was lost (no heartbeat)", at: Self.millis(now))
            }
            return silent.map(\.name)
        }
    }

    /// Puts the node's placed jobs back in the queue, or fails them when they have used every attempt.
    static func requeueJobs(_ db: any SQLDatabase, onNode nodeID: String, reason: String, at stamp: Int64, costsAttempt: Bool = true) async throws {
        let placed = try await db.select().column("*").from("jobs").where("node_id", .equal, nodeID)
            .where("state", .in, JobState.allCases.filter(\.isPlaced).map(\.rawValue))
            .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        try await requeue(db, placed, reason: reason, at: stamp, costsAttempt: costsAttempt)
    }

    /// Puts these placed jobs back in the queue, or ends them as lost when they have used every attempt.
    static func requeue(_ db: any SQLDatabase, _ placed: [JobRow], reason: String, at stamp: Int64, costsAttempt: Bool = true) async throws {
        for job in placed {
            let exhausted = costsAttempt && job.attempts >= job.maxAttempts
            let state: JobState = exhausted ? .lost : .queued
            let why = exhausted ? "\(reason); no attempts left (\(job.attempts) of \(job.maxAttempts))" : "\(reason); re-queued"
            var update = db.update("jobs").set("state", to: state.rawValue).set("reason", to: why).set("node_id", to: SQLLiteral.null)
                .set("gpu_devices", to: "[]")
            if exhausted { update = update.set("finished_at", to: stamp) }
            if !costsAttempt { update = update.set("attempts", to: max(0, job.attempts - 1)) }
            // Guarded by the state read, so a report that landed meanwhile (PostgreSQL reads committed rows) wins.
            let changed = try await update.where("id", .equal, job.id).where("state", .equal, job.state).returning("id").all()
            guard !changed.isEmpty else { continue }
            try await insertEvent(db, jobID: job.id, state: state, reason: why, node: nil, at: stamp)
        }
    }

    // MARK: - Jobs

    struct JobRow: Codable {
        var id: String
        var namespaceId: String
        var projectId: String
        var namespaceName: String
        var projectName: String
        var name: String
        var specJson: String
        var state: String
        var reason: String
        var priority: Int
        var cpu: Double
        var memoryBytes: Int64
        var gpu: Int
        var attempts: Int
        var maxAttempts: Int
        var nodeId: String?
        var gpuDevices: String
        var exitCode: Int?
        var createdBy: String
        var createdAt: Int64
        var startedAt: Int64?
        var finishedAt: Int64?
        var runId: String?
        var experimentId: String?
        var tokenHash: String?

        func job(nodeName: String?) throws -> Job {
            Job(
                id: UUID(uuidString: id) ?? UUID(), namespace: namespaceName, project: projectName,
                spec: try SQLComputeRepository.decode(JobSpec.self, specJson), state: JobState(rawValue: state) ?? .failed, reason: reason,
                attempts: attempts, maxAttempts: maxAttempts, node: nodeName,
                gpuDevices: try SQLComputeRepository.decode([Int].self, gpuDevices), exitCode: exitCode, createdBy: createdBy,
                createdAt: SQLComputeRepository.date(createdAt), startedAt: startedAt.map(SQLComputeRepository.date),
                finishedAt: finishedAt.map(SQLComputeRepository.date), runId: runId, experimentId: experimentId)
        }
    }

    static func nodeNames(_ db: any SQLDatabase) async throws -> [String: String] {
        struct Row: Decodable {
            var id: String
            var name: String
        }
        let rows = try await db.select().column("id").column("name").from("compute_nodes").all(decoding: Row.self)
        return Dictionary(rows.map { ($0.id, $0.name) }, uniquingKeysWith: { $1 })
    }

    static func jobs(_ db: any SQLDatabase, _ rows: [JobRow]) async throws -> [Job] {
        let names = rows.contains { $0.nodeId != nil } ? try await nodeNames(db) : [:]
        return try rows.map { try $0.job(nodeName: $0.nodeId.flatMap { names[$0] }) }
    }

    static func insertEvent(_ db: any SQLDatabase, jobID: String, state: JobState, reason: String, node: String?, at stamp: Int64) async throws {
        try await db.insert(into: "job_events").columns("job_id", "state", "reason", "node_name", "at")
            .values(SQLBind(jobID), SQLBind(state.rawValue), SQLBind(reason), SQLBind(node), SQLBind(stamp)).run()
    }

    public func createJob(_ job: Job, namespaceID: UUID, projectID: UUID, by actor: AuditActor) async throws {
        let row = JobRow(
            id: job.id.uuidString, namespaceId: namespaceID.uuidString, projectId: projectID.uuidString, namespaceName: job.namespace,
            projectName: job.project, name: job.spec.name, specJson: try Self.json(job.spec), state: job.state.rawValue, reason: job.reason,
            priority: job.spec.priority ?? 0, cpu: job.spec.resources.cpu, memoryBytes: job.spec.resources.memoryBytes,
            gpu: job.spec.resources.gpu, attempts: 0, maxAttempts: job.maxAttempts, nodeId: nil, gpuDevices: "[]", exitCode: nil,
            createdBy: job.createdBy, createdAt: Self.millis(job.createdAt), startedAt: nil, finishedAt: nil, runId: job.runId,
            experimentId: job.experimentId, tokenHash: nil)
        try await database.write { db in
            try await db.insert(into: "jobs").model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
            try await Self.insertEvent(db, jobID: row.id, state: .queued, reason: job.reason, node: nil, at: row.createdAt)
            if let code = job.spec.code {
                // The job's code stays as long as the job is on record, so it can be run again.
                try await db.insert(into: "blob_references").columns("owner_type", "owner_id", "digest", "created_at")
                    .values(SQLBind("job_code"), SQLBind(row.id), SQLBind(code.sha256), SQLBind(job.createdAt.timeIntervalSince1970)).run()
            }
            try await db.recordAudit(
                actor, "job.submit", targetType: "job", target: row.id, namespaceID: namespaceID, details: ["name": row.name])
        }
    }

    public func job(id: UUID) async throws -> Job? {
        try await database.read { db in
            let rows = try await db.select().column("*").from("jobs").where("id", .equal, id.uuidString)
                .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            return try await Self.jobs(db, rows).first
        }
    }

    public func jobs(namespaceIDs: [UUID]?, projectID: UUID?, states: [JobState]?, limit: Int) async throws -> [Job] {
        try await database.read { db in
            var query = db.select().column("*").from("jobs")
            if let namespaceIDs {
                if namespaceIDs.isEmpty { return [] }
                query = query.where("namespace_id", .in, namespaceIDs.map(\.uuidString))
            }
            if let projectID { query = query.where("project_id", .equal, projectID.uuidString) }
            if let states { query = query.where("state", .in, states.map(\.rawValue)) }
            let rows = try await query.orderBy("created_at", .descending).limit(limit)
                .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            return try await Self.jobs(db, rows)
        }
    }

    public func events(jobID: UUID) async throws -> [JobEvent] {
        struct Row: Decodable {
            var state: String
            var reason: String
            var nodeName: String?
            var at: Int64
        }
        return try await database.read { db in
            try await db.select().columns("state", "reason", "node_name", "at").from("job_events").where("job_id", .equal, jobID.uuidString)
                .orderBy("id").all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { JobEvent(state: JobState(rawValue: $0.state) ?? .failed, reason: $0.reason, node: $0.nodeName, at: Self.date($0.at)) }
    }

    public func schedulable() async throws -> [(job: Job, namespaceID: UUID, nodeID: UUID?)] {
        try await database.read { db in
            let rows = try await db.select().column("*").from("jobs")
                .where("state", .in, [JobState.queued] + JobState.allCases.filter(\.isPlaced))
                .orderBy("created_at").all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            let jobs = try await Self.jobs(db, rows)
            return zip(rows, jobs).map { row, job in
                (job, UUID(uuidString: row.namespaceId) ?? UUID(), row.nodeId.flatMap(UUID.init(uuidString:)))
            }
        }
    }

    public func place(jobID: UUID, nodeID: UUID, gpuDevices: [Int], at now: Date) async throws -> Bool {
        try await database.write { db in
            guard
                let row = try await db.select().column("*").from("jobs").where("id", .equal, jobID.uuidString)
                    .where("state", .equal, JobState.queued.rawValue)
                    .first(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { return false }
            // The node's row is locked (PostgreSQL; SQLite's writer is alone anyway), so placements on one node from
            // several servers take turns, and each sees what the others placed.
            guard
                let node = try await db.select().column("*").from("compute_nodes").where("id", .equal, nodeID.uuidString)
                    .for(.update).first(decoding: NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase),
                node.state == NodeState.ready.rawValue,
                try await Self.hasRoom(db, on: node, for: row, devices: gpuDevices)
            else { return false }
            let nodeName: String? = node.name
            let changed = try await db.update("jobs").set("state", to: JobState.scheduled.rawValue).set("node_id", to: nodeID.uuidString)
                .set("gpu_devices", to: try Self.json(gpuDevices)).set("attempts", to: row.attempts + 1).set("token_hash", to: SQLLiteral.null)
                .set("reason", to: "placed on \(nodeName ?? "?")")
                .where("id", .equal, row.id).where("state", .equal, JobState.queued.rawValue).returning("id").all()
            guard !changed.isEmpty else { return false }
            try await Self.insertEvent(
                db, jobID: row.id, state: .scheduled, reason: "placed on \(nodeName ?? "?") (attempt \(row.attempts + 1))", node: nodeName,
                at: Self.millis(now))
            return true
        }
    }

    /// Whether the node has room for the job beside what is placed on it.
    static func hasRoom(_ db: any SQLDatabase, on node: NodeRow, for job: JobRow, devices: [Int]) async throws -> Bool {
        try await hasRoom(
            db, on: node, cpu: job.cpu, memoryBytes: job.memoryBytes, gpu: job.gpu, devices: devices, excludingJob: job.id, excludingReplica: nil)
    }

    /// Whether the node has room for a request beside what is placed on it — jobs and serving replicas: CPU, memory and
    /// GPU count within its capacity, and GPU devices that exist on the node and nothing else placed holds.
    static func hasRoom(
        _ db: any SQLDatabase, on node: NodeRow, cpu wanted: Double, memoryBytes: Int64, gpu wantedGPUs: Int, devices: [Int],
        excludingJob: String?, excludingReplica: String?
    ) async throws -> Bool {
        struct Held: Decodable {
            var cpu: Double
            var memoryBytes: Int64
            var gpu: Int
            var gpuDevices: String
        }
        var jobs = db.select().columns("cpu", "memory_bytes", "gpu", "gpu_devices").from("jobs")
            .where("node_id", .equal, node.id).where("state", .in, JobState.allCases.filter(\.isPlaced).map(\.rawValue))
        if let excludingJob { jobs = jobs.where("id", .notEqual, excludingJob) }
        var replicas = db.select().columns("cpu", "memory_bytes", "gpu", "gpu_devices").from("deployment_replicas")
            .where("node_id", .equal, node.id).where("state", .in, ReplicaState.allCases.filter(\.isPlaced).map(\.rawValue))
        if let excludingReplica { replicas = replicas.where("id", .notEqual, excludingReplica) }
        let placed =
            try await jobs.all(decoding: Held.self, keyDecodingStrategy: .convertFromSnakeCase)
            + replicas.all(decoding: Held.self, keyDecodingStrategy: .convertFromSnakeCase)
        var cpu = wanted
        var memory = memoryBytes
        var gpu = wantedGPUs
        var taken: Set<Int> = []
        for held in placed {
            cpu += held.cpu
            memory += held.memoryBytes
            gpu += held.gpu
            taken.formUnion(try decode([Int].self, held.gpuDevices))
        }
        let existing = Set(try decode([GPUDevice].self, node.gpusJson).map(\.index))
        // Millicores, as the scheduler counts: sums of fractions do not fail on rounding.
        guard (cpu * 1000).rounded() <= (node.cpu * 1000).rounded(), memory <= node.memoryBytes, gpu <= node.gpu else { return false }
        return devices.count == wantedGPUs && Set(devices).count == devices.count && Set(devices).isSubset(of: existing)
            && taken.isDisjoint(with: devices)
    }

    public func assignments(nodeID: UUID) async throws -> [JobAssignment] {
        try await database.read { db in
            try await db.select().column("*").from("jobs").where("node_id", .equal, nodeID.uuidString)
                .where("state", .equal, JobState.scheduled.rawValue).orderBy("created_at")
                .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { row in
            JobAssignment(
                jobId: UUID(uuidString: row.id) ?? UUID(), attempt: row.attempts, spec: try Self.decode(JobSpec.self, row.specJson),
                gpuDevices: try Self.decode([Int].self, row.gpuDevices), namespace: row.namespaceName, project: row.projectName,
                runId: row.runId, experimentId: row.experimentId)
        }
    }

    public func stale(_ running: [AgentHeartbeat.RunningAttempt], nodeID: UUID) async throws -> [UUID] {
        guard !running.isEmpty else { return [] }
        let rows = try await database.read { db in
            try await db.select().column("*").from("jobs").where("id", .in, running.map(\.jobId.uuidString))
                .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        let current = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        return running.filter { attempt in
            guard let row = current[attempt.jobId.uuidString] else { return true }
            return row.nodeId != nodeID.uuidString || row.attempts != attempt.attempt || !(JobState(rawValue: row.state)?.isPlaced ?? false)
        }.map(\.jobId)
    }

    public func reconcile(nodeID: UUID, running: [AgentHeartbeat.RunningAttempt], settledBefore: Date, at now: Date) async throws -> [Job] {
        let listed = Set(running.map { "\($0.jobId.uuidString)#\($0.attempt)" })
        return try await database.write { db in
            let placed = try await db.select().column("*").from("jobs").where("node_id", .equal, nodeID.uuidString)
                .where("state", .in, [JobState.preparing.rawValue, JobState.running.rawValue])
                .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            var orphans: [JobRow] = []
            for job in placed where !listed.contains("\(job.id)#\(job.attempts)") {
                let last = try await db.select().column(SQLFunction("MAX", args: SQLColumn("at")), as: "at").from("job_events")
                    .where("job_id", .equal, job.id).first(decoding: LastEvent.self)
                if (last?.at ?? 0) < Self.millis(settledBefore) { orphans.append(job) }
            }
            guard !orphans.isEmpty else { return [] }
            let nodeName = try await Self.nodeNames(db)[nodeID.uuidString] ?? "?"
            for job in orphans {
                try await Self.requeue(
                    db, [job],
                    reason:
                        "the agent on node \(nodeName) no longer runs attempt \(job.attempts) (it lost track of it, or its final report never arrived)",
                    at: Self.millis(now))
            }
            let ids = orphans.map(\.id)
            let rows = try await db.select().column("*").from("jobs").where("id", .in, ids)
                .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            return try await Self.jobs(db, rows)
        }
    }

    struct LastEvent: Decodable {
        var at: Int64?
    }

    /// Which states an agent may report after which. A final state may follow any placed state directly, since
    /// the reports between may have been superseded (the agent delivers the final one first when the server was
    /// out of reach); preparing may repeat (code and data, then the environment).
    static func allowed(from current: JobState, to next: JobState) -> Bool {
        switch (current, next) {
        case (.scheduled, .preparing), (.scheduled, .running), (.preparing, .preparing), (.preparing, .running): true
        case (.scheduled, .failed), (.preparing, .failed), (.running, .failed): true
        case (.scheduled, .succeeded), (.preparing, .succeeded), (.running, .succeeded): true
        default: false
        }
    }

    public func report(jobID: UUID, nodeID: UUID, _ report: JobStateReport, at now: Date) async throws -> Job {
        try await database.write { db in
            guard
                let row = try await db.select().column("*").from("jobs").where("id", .equal, jobID.uuidString)
                    .first(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("job", jobID.uuidString) }
            let nodeName = try await Self.nodeNames(db)[nodeID.uuidString]
            // The same report again (the answer to the first was lost and the agent retried): already applied.
            if row.nodeId == nodeID.uuidString, row.attempts == report.attempt, row.state == report.state.rawValue,
                report.state.isFinal || report.state == .running
            {
                return try row.job(nodeName: nodeName)
            }
            guard row.nodeId == nodeID.uuidString, row.attempts == report.attempt, let current = JobState(rawValue: row.state), current.isPlaced
            else {
                throw StoreError.conflict(
                    code: "stale_report", "job \(jobID) is no longer this node's attempt \(report.attempt) (it is \(row.state)); stop running it")
            }
            guard Self.allowed(from: current, to: report.state) else {
                throw StoreError.conflict(code: "invalid_transition", "a \(current.rawValue) job cannot become \(report.state.rawValue)")
            }
            let stamp = Self.millis(now)
            let reason = report.reason ?? report.state.rawValue
            var update = db.update("jobs").set("state", to: report.state.rawValue).set("reason", to: reason)
            if report.state == .running { update = update.set("started_at", to: stamp) }
            if report.state.isFinal {
                update = update.set("finished_at", to: stamp).set("exit_code", to: report.exitCode.map { SQLBind($0) } ?? SQLBind(Int?.none))
            }
            try await update.where("id", .equal, row.id).where("state", .equal, row.state).run()
            try await Self.insertEvent(db, jobID: row.id, state: report.state, reason: reason, node: nodeName, at: stamp)
            var updated = row
            updated.state = report.state.rawValue
            updated.reason = reason
            if report.state.isFinal { updated.exitCode = report.exitCode }
            return try updated.job(nodeName: nodeName)
        }
    }

    public func cancel(jobID: UUID, by actor: AuditActor, at now: Date) async throws -> Job {
        try await database.write { db in
            guard
                let row = try await db.select().column("*").from("jobs").where("id", .equal, jobID.uuidString)
                    .first(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("job", jobID.uuidString) }
            let names = try await Self.nodeNames(db)
            guard let current = JobState(rawValue: row.state), !current.isFinal else {
                return try row.job(nodeName: row.nodeId.flatMap { names[$0] })
            }
            let stamp = Self.millis(now)
            let reason = "cancelled by \(actor.name)"
            try await db.update("jobs").set("state", to: JobState.cancelled.rawValue).set("reason", to: reason).set("finished_at", to: stamp)
                .where("id", .equal, row.id).where("state", .equal, row.state).run()
            try await Self.insertEvent(db, jobID: row.id, state: .cancelled, reason: reason, node: row.nodeId.flatMap { names[$0] }, at: stamp)
            try await db.recordAudit(actor, "job.cancel", targetType: "job", target: row.id, details: ["name": row.name])
            var updated = row
            updated.state = JobState.cancelled.rawValue
            updated.reason = reason
            updated.finishedAt = stamp
            return try updated.job(nodeName: row.nodeId.flatMap { names[$0] })
        }
    }

    // MARK: - Logs

    public func issueToken(jobID: UUID, attempt: Int, secretHash: String) async throws -> Bool {
        try await database.write { db in
            let rows = try await db.update("jobs").set("token_hash", to: secretHash).where("id", .equal, jobID.uuidString)
                .where("attempts", .equal, attempt).where("state", .equal, JobState.scheduled.rawValue).returning("id")
                .all()
            return !rows.isEmpty
        }
    }

    public func job(tokenHash: String) async throws -> (job: Job, namespaceID: UUID)? {
        try await database.read { db in
            let rows = try await db.select().column("*").from("jobs").where("token_hash", .equal, tokenHash)
                .where("state", .in, JobState.allCases.filter(\.isPlaced).map(\.rawValue))
                .all(decoding: JobRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            guard let row = rows.first, let namespaceID = UUID(uuidString: row.namespaceId) else { return nil }
            return (try await Self.jobs(db, [row])[0], namespaceID)
        }
    }

    public func setWaitingReasons(_ reasons: [UUID: String]) async throws {
        guard !reasons.isEmpty else { return }
        try await database.write { db in
            for (id, reason) in reasons {
                try await db.update("jobs").set("reason", to: reason).where("id", .equal, id.uuidString)
                    .where("state", .equal, JobState.queued.rawValue).where("reason", .notEqual, reason).run()
            }
        }
    }

    public func appendLog(jobID: UUID, _ text: String, limit: Int64) async throws -> Int64 {
        struct End: Decodable {
            var seq: Int64?
            var end: Int64?
        }
        return try await database.write { db in
            let last = try await db.select().column(SQLFunction("MAX", args: SQLColumn("seq")), as: "seq")
                .column(SQLFunction("MAX", args: SQLRaw("start_offset + LENGTH(text)")), as: "end")
                .from("job_log_chunks").where("job_id", .equal, jobID.uuidString).first(decoding: End.self)
            let start = last?.end ?? 0
            guard start < limit else { return start }
            var text = text
            if start + Int64(text.unicodeScalars.count) > limit {
                let room = Int(max(0, limit - start))
                text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(room)))
                text += "\n[slipway] the log reached its limit of \(limit) characters; the rest of the job's output is not kept\n"
            }
            try await db.insert(into: "job_log_chunks").columns("job_id", "seq", "start_offset", "text")
                .values(SQLBind(jobID.uuidString), SQLBind((last?.seq ?? 0) + 1), SQLBind(start), SQLBind(text)).run()
            return start + Int64(text.unicodeScalars.count)
        }
    }

    public func logLength(jobID: UUID) async throws -> Int64 {
        struct End: Decodable {
            var end: Int64?
        }
        return try await database.read { db in
            try await db.select().column(SQLFunction("MAX", args: SQLRaw("start_offset + LENGTH(text)")), as: "end")
                .from("job_log_chunks").where("job_id", .equal, jobID.uuidString).first(decoding: End.self)
        }?.end ?? 0
    }

    public func log(jobID: UUID, from offset: Int64) async throws -> (text: String, next: Int64) {
        struct Chunk: Decodable {
            var startOffset: Int64
            var text: String
        }
        let chunks = try await database.read { db in
            try await db.select().columns("start_offset", "text").from("job_log_chunks").where("job_id", .equal, jobID.uuidString)
                .where(SQLRaw("start_offset + LENGTH(text)"), .greaterThan, SQLBind(offset)).orderBy("seq")
                .all(decoding: Chunk.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        var text = ""
        var next = offset
        for chunk in chunks {
            let skip = max(0, Int(offset - chunk.startOffset))
            text += String(String.UnicodeScalarView(chunk.text.unicodeScalars.dropFirst(skip)))
            next = chunk.startOffset + Int64(chunk.text.unicodeScalars.count)
        }
        return (text, next)
    }

    // MARK: - Leadership

    public func acquireLease(_ name: String, holder: String, at now: Date, ttl: TimeInterval) async throws -> Bool {
        let stamp = Self.millis(now)
        let expires = Self.millis(now.addingTimeInterval(ttl))
        // One statement: the insert, or the take-over of a lease that is ours or has expired, decided on the row
        // as it is when the statement runs (PostgreSQL locks the conflicting row and checks the condition again),
        // so two servers racing for an expired lease cannot both win.
        let rows = try await database.write { db in
            try await db.raw(
                """
                INSERT INTO leader_leases (name, holder, expires_at) VALUES (\(bind: name), \(bind: holder), \(bind: expires))
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE leader_leases.holder = excluded.holder OR leader_leases.expires_at < \(bind: stamp)
                RETURNING holder
                """
            ).all()
        }
        return !rows.isEmpty
    }
}
