import Foundation
import SQLKit
import SlipwayDomain

/// A replica as the scheduler plans over it: what it asks for, where it must go and where it is.
public struct SchedulableReplica: Sendable, Hashable {
    public var replica: Replica
    public var namespaceID: UUID
    public var nodeID: UUID?
    public var resources: ComputeResources
    public var nodeSelector: [String: String]
}

/// The load one gateway saw on one model version over its last reporting interval.
public struct GatewayLoad: Sendable, Hashable {
    public var deploymentID: UUID
    /// `model:version`.
    public var versionKey: String
    /// Requests in flight or queued, averaged over the interval.
    public var concurrency: Double
    /// Requests answered in the interval.
    public var requests: Int

    public init(deploymentID: UUID, versionKey: String, concurrency: Double, requests: Int) {
        self.deploymentID = deploymentID
        self.versionKey = versionKey
        self.concurrency = concurrency
        self.requests = requests
    }
}

/// Deployments, their revisions and replicas, and the gateways' load reports.
///
/// A replica's life is written by three parties: the deployment loop creates replicas and marks unwanted ones
/// `stopping`, the scheduling loop places `pending` ones on nodes, and each node's agent reports the ones it runs.
/// Every change is a guarded update on the replica's current state and node, so a stale agent changes nothing.
public protocol ServingRepository: Sendable {
    /// Records a deployment with its first revision. - Throws: `already_exists` when the name is taken.
    func createDeployment(_ deployment: Deployment, revision: DeploymentRevision, namespaceID: UUID, projectID: UUID, by actor: AuditActor)
        async throws
    /// The deployment with this name and its namespace's id.
    func deployment(named name: String) async throws -> (deployment: Deployment, namespaceID: UUID)?
    func deployment(id: UUID) async throws -> Deployment?
    /// Deployments of some namespaces (`nil`: all), optionally of one project, by name.
    func deployments(namespaceIDs: [UUID]?, projectID: UUID?) async throws -> [Deployment]
    /// Adds the next revision, provided the newest is still `expectedRevision` (else `conflict`).
    func addRevision(deploymentID: UUID, _ revision: DeploymentRevision, expectedRevision: Int, by actor: AuditActor) async throws
        -> Deployment
    /// Changes the deployment's own fields (not its spec).
    func updateDeployment(id: UUID, description: String?, production: Bool?, isPublic: Bool?, by actor: AuditActor) async throws
        -> Deployment
    /// Every deployment with its namespace's id and the spec of the revision it serves (the newest before the first
    /// is ready): what gateways route by.
    func routingTable() async throws -> [(deployment: Deployment, namespaceID: UUID, serving: (revision: Int, spec: DeploymentSpec))]
    /// Revisions, newest first.
    func revisions(deploymentID: UUID) async throws -> [DeploymentRevision]
    func revision(deploymentID: UUID, number: Int) async throws -> DeploymentRevision?
    /// Deletes the deployment and its revisions; its replicas are told to stop.
    func deleteDeployment(id: UUID, by actor: AuditActor) async throws
    /// What the deployment loop concluded: the serving revision, state, reason and replicas wanted.
    ///
    /// `adopting` moves live replicas of the previous revision whose worker stays the same (a scale or a batching
    /// change) to the serving revision in the same transaction, so no route refresh sees them in neither.
    func setStatus(
        deploymentID: UUID, servingRevision: Int?, state: DeploymentState, reason: String, desired: [String: Int], adopting: [UUID],
        at now: Date
    ) async throws

    /// Replicas of one deployment (`nil`: every deployment's), including stopped ones when asked.
    func replicas(deploymentID: UUID?, includeStopped: Bool) async throws -> [Replica]
    /// Adds pending replicas of a deployment's revision.
    func createReplicas(
        deploymentID: UUID, revision: Int, model: String, version: Int, count: Int, resources: ComputeResources,
        nodeSelector: [String: String], at now: Date
    ) async throws -> [Replica]
    /// Tells replicas to stop: pending ones stop at once, placed ones when their agent has stopped them.
    func stopReplicas(ids: [UUID], reason: String, at now: Date) async throws
    /// Pending and placed replicas: what the scheduler plans over.
    func schedulableReplicas() async throws -> [SchedulableReplica]
    /// Notes why pending replicas wait, for those whose reason changed.
    func setWaitingReasons(_ reasons: [UUID: String]) async throws
    /// Places a pending replica. - Returns: false when it was no longer pending.
    func placeReplica(id: UUID, nodeID: UUID, gpuDevices: [Int], at now: Date) async throws -> Bool
    /// Takes a node's reports and answers what it must start and stop.
    func agentReport(nodeID: UUID, _ reports: [ReplicaReport], at now: Date) async throws -> (start: [ReplicaAssignment], stop: [UUID])
    /// Puts the replicas placed on nodes that are lost back to pending.
    func requeueReplicas(onNodes nodeIDs: [UUID], reason: String, at now: Date) async throws -> Int
    /// A replica with the files its model version has, if it is placed on `nodeID`.
    func assignment(replicaID: UUID, nodeID: UUID) async throws -> ReplicaAssignment?
    /// Forgets stopped and failed replicas older than `cutoff`.
    func purgeReplicas(endedBefore cutoff: Date) async throws

    /// Replaces what gateway `server` last reported.
    func recordLoad(server: String, _ samples: [GatewayLoad], at now: Date) async throws
    /// Reports newer than `since`, summed over the gateways.
    func load(since: Date) async throws -> [GatewayLoad]
}

/// The SQL implementation.
public struct SQLServingRepository: ServingRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static func millis(_ date: Date) -> Int64 { SQLComputeRepository.millis(date) }
    static func date(_ millis: Int64) -> Date { SQLComputeRepository.date(millis) }
    static func json(_ value: some Encodable) throws -> String { try SQLComputeRepository.json(value) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try SQLComputeRepository.decode(type, text) }

    // MARK: - Rows

    struct DeploymentRow: Codable {
        var id: String
        var name: String
        var namespaceId: String
        var projectId: String
        var namespaceName: String
        var projectName: String
        var description: String
        var production: Bool
        var isPublic: Bool
        var revision: Int
        var servingRevision: Int?
        var state: String
        var reason: String
        var desiredJson: String
        var createdBy: String
        var createdAt: Int64
        var updatedAt: Int64

        func deployment(spec: DeploymentSpec) throws -> Deployment {
            Deployment(
                id: UUID(uuidString: id) ?? UUID(), name: name, namespace: namespaceName, project: projectName, description: description,
                production: production, isPublic: isPublic, revision: revision, servingRevision: servingRevision, spec: spec,
                state: DeploymentState(rawValue: state) ?? .unavailable, reason: reason,
                desiredReplicas: try SQLServingRepository.decode([String: Int].self, desiredJson), createdBy: createdBy,
                createdAt: SQLServingRepository.date(createdAt), updatedAt: SQLServingRepository.date(updatedAt))
        }
    }

    struct RevisionRow: Codable {
        var deploymentId: String
        var number: Int
        var specJson: String
        var modelsJson: String
        var reason: String
        var createdBy: String
        var createdAt: Int64

        func revision() throws -> DeploymentRevision {
            DeploymentRevision(
                number: number, spec: try SQLServingRepository.decode(DeploymentSpec.self, specJson),
                models: try SQLServingRepository.decode([ResolvedModel].self, modelsJson), reason: reason, createdBy: createdBy,
                createdAt: SQLServingRepository.date(createdAt))
        }
    }

    struct ReplicaRow: Codable {
        var id: String
        var deploymentId: String
        var deploymentName: String
        var namespaceId: String
        var namespaceName: String
        var revision: Int
        var model: String
        var version: Int
        var state: String
        var reason: String
        var nodeId: String?
        var address: String?
        var restarts: Int
        var cpu: Double
        var memoryBytes: Int64
        var gpu: Int
        var gpuDevices: String
        var nodeSelectorJson: String
        var createdAt: Int64
        var readyAt: Int64?
        var updatedAt: Int64

        var resources: ComputeResources { ComputeResources(cpu: cpu, memoryBytes: memoryBytes, gpu: gpu) }
        var replicaState: ReplicaState { ReplicaState(rawValue: state) ?? .failed }

        func replica(nodeName: String?) throws -> Replica {
            Replica(
                id: UUID(uuidString: id) ?? UUID(), deployment: deploymentName, revision: revision, model: model, version: version,
                state: replicaState, reason: reason, node: nodeName, address: address, restarts: restarts,
                gpuDevices: try SQLServingRepository.decode([Int].self, gpuDevices), createdAt: SQLServingRepository.date(createdAt),
                readyAt: readyAt.map(SQLServingRepository.date), updatedAt: SQLServingRepository.date(updatedAt))
        }
    }

    static func deployments(_ db: any SQLDatabase, _ rows: [DeploymentRow]) async throws -> [Deployment] {
        var result: [Deployment] = []
        for row in rows {
            guard
                let revision = try await db.select().column("*").from("deployment_revisions").where("deployment_id", .equal, row.id)
                    .where("number", .equal, row.revision)
                    .first(decoding: RevisionRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { continue }
            result.append(try row.deployment(spec: try revision.revision().spec))
        }
        return result
    }

    static func deploymentRow(_ db: any SQLDatabase, id: String) async throws -> DeploymentRow? {
        try await db.select().column("*").from("deployments").where("id", .equal, id)
            .first(decoding: DeploymentRow.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    static func insertRevision(_ db: any SQLDatabase, deploymentID: String, _ revision: DeploymentRevision) async throws {
        let row = RevisionRow(
            deploymentId: deploymentID, number: revision.number, specJson: try json(revision.spec), modelsJson: try json(revision.models),
            reason: revision.reason, createdBy: revision.createdBy, createdAt: millis(revision.createdAt))
        try await db.insert(into: "deployment_revisions").model(row, keyEncodingStrategy: .convertToSnakeCase).run()
        // The revision keeps its model files' blobs: a rollback months later finds them.
        let digests = Set(revision.models.flatMap { $0.files.map(\.sha256) })
        try await SQLDatasetRepository.insertReferences(
            db, ownerType: "deployment_revision", ownerID: "\(deploymentID)/\(revision.number)", digests: digests, at: revision.createdAt)
    }

    static func nodeNames(_ db: any SQLDatabase) async throws -> [String: String] {
        try await SQLComputeRepository.nodeNames(db)
    }

    static func replicas(_ db: any SQLDatabase, _ rows: [ReplicaRow]) async throws -> [Replica] {
        let names = rows.contains { $0.nodeId != nil } ? try await nodeNames(db) : [:]
        return try rows.map { try $0.replica(nodeName: $0.nodeId.flatMap { names[$0] }) }
    }

    // MARK: - Deployments

    public func createDeployment(
        _ deployment: Deployment, revision: DeploymentRevision, namespaceID: UUID, projectID: UUID, by actor: AuditActor
    ) async throws {
        let row = DeploymentRow(
            id: deployment.id.uuidString, name: deployment.name, namespaceId: namespaceID.uuidString, projectId: projectID.uuidString,
            namespaceName: deployment.namespace, projectName: deployment.project, description: deployment.description,
            production: deployment.production, isPublic: deployment.isPublic, revision: revision.number, servingRevision: nil,
            state: deployment.state.rawValue, reason: deployment.reason, desiredJson: try Self.json(deployment.desiredReplicas),
            createdBy: deployment.createdBy, createdAt: Self.millis(deployment.createdAt), updatedAt: Self.millis(deployment.updatedAt))
        do {
            try await database.write { db in
                if try await db.select().column("id").from("deployments").where("name", .equal, deployment.name).first() != nil {
                    throw StoreError.alreadyExists("deployment", deployment.name)
                }
                try await db.insert(into: "deployments").model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil)
                    .run()
                try await Self.insertRevision(db, deploymentID: row.id, revision)
                try await db.recordAudit(
                    actor, "deployment.create", targetType: "deployment", target: deployment.name, namespaceID: namespaceID,
                    details: ["models": deployment.spec.models.map { modelVersionKey($0.model, $0.version) }.joined(separator: ",")])
            }
        } catch where isUniqueViolation(error) {
            throw StoreError.alreadyExists("deployment", deployment.name)
        }
    }

    public func deployment(named name: String) async throws -> (deployment: Deployment, namespaceID: UUID)? {
        try await database.read { db in
            guard
                let row = try await db.select().column("*").from("deployments").where("name", .equal, name)
                    .first(decoding: DeploymentRow.self, keyDecodingStrategy: .convertFromSnakeCase),
                let deployment = try await Self.deployments(db, [row]).first
            else { return nil }
            return (deployment, UUID(uuidString: row.namespaceId) ?? UUID())
        }
    }

    public func deployment(id: UUID) async throws -> Deployment? {
        try await database.read { db in
            guard let row = try await Self.deploymentRow(db, id: id.uuidString) else { return nil }
            return try await Self.deployments(db, [row]).first
        }
    }

    public func deployments(namespaceIDs: [UUID]?, projectID: UUID?) async throws -> [Deployment] {
        try await database.read { db in
            var query = db.select().column("*").from("deployments")
            if let namespaceIDs {
                if namespaceIDs.isEmpty { return [] }
                query = query.where("namespace_id", .in, namespaceIDs.map(\.uuidString))
            }
            if let projectID { query = query.where("project_id", .equal, projectID.uuidString) }
            let rows = try await query.orderBy("name").all(decoding: DeploymentRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            return try await Self.deployments(db, rows)
        }
    }

    public func routingTable() async throws -> [(deployment: Deployment, namespaceID: UUID, serving: (revision: Int, spec: DeploymentSpec))] {
        try await database.read { db in
            let rows = try await db.select().column("*").from("deployments").orderBy("name")
                .all(decoding: DeploymentRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            guard !rows.isEmpty else { return [] }
            let revisions = try await db.select().column("*").from("deployment_revisions")
                .where(SQLQueryString("(deployment_id, number) IN (SELECT id, revision FROM deployments UNION SELECT id, serving_revision FROM deployments WHERE serving_revision IS NOT NULL)"))
                .all(decoding: RevisionRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            var specs: [String: DeploymentSpec] = [:]
            for revision in revisions { specs["\(revision.deploymentId)/\(revision.number)"] = try Self.decode(DeploymentSpec.self, revision.specJson) }
            return try rows.compactMap { row in
                guard let newest = specs["\(row.id)/\(row.revision)"] else { return nil }
                let servingNumber = row.servingRevision ?? row.revision
                let serving = specs["\(row.id)/\(servingNumber)"] ?? newest
                return (try row.deployment(spec: newest), UUID(uuidString: row.namespaceId) ?? UUID(), (servingNumber, serving))
            }
        }
    }

    public func addRevision(deploymentID: UUID, _ revision: DeploymentRevision, expectedRevision: Int, by actor: AuditActor) async throws
        -> Deployment
    {
        try await database.write { db in
            guard var row = try await Self.deploymentRow(db, id: deploymentID.uuidString) else {
                throw StoreError.notFound("deployment", deploymentID.uuidString)
            }
            guard row.revision == expectedRevision, revision.number == expectedRevision + 1 else {
                throw StoreError.conflict(
                    code: "revision_conflict", "deployment \(row.name) moved to revision \(row.revision) meanwhile; look again and retry")
            }
            try await Self.insertRevision(db, deploymentID: row.id, revision)
            let stamp = Self.millis(revision.createdAt)
            try await db.update("deployments").set("revision", to: revision.number).set("updated_at", to: stamp)
                .where("id", .equal, row.id).where("revision", .equal, expectedRevision).run()
            try await db.recordAudit(
                actor, "deployment.revise", targetType: "deployment", target: row.name, namespaceID: UUID(uuidString: row.namespaceId),
                details: ["revision": String(revision.number), "reason": revision.reason])
            row.revision = revision.number
            row.updatedAt = stamp
            return try row.deployment(spec: revision.spec)
        }
    }

    public func updateDeployment(id: UUID, description: String?, production: Bool?, isPublic: Bool?, by actor: AuditActor) async throws
        -> Deployment
    {
        try await database.write { db in
            guard var row = try await Self.deploymentRow(db, id: id.uuidString) else { throw StoreError.notFound("deployment", id.uuidString) }
            var details: [String: String] = [:]
            if let description { row.description = description }
            if let production, production != row.production {
                row.production = production
                details["production"] = String(production)
            }
            if let isPublic, isPublic != row.isPublic {
                row.isPublic = isPublic
                details["public"] = String(isPublic)
            }
            row.updatedAt = Self.millis(Date())
            try await db.update("deployments").set("description", to: row.description).set("production", to: row.production)
                .set("is_public", to: row.isPublic).set("updated_at", to: row.updatedAt).where("id", .equal, row.id).run()
            try await db.recordAudit(
                actor, "deployment.update", targetType: "deployment", target: row.name, namespaceID: UUID(uuidString: row.namespaceId),
                details: details)
            guard let deployment = try await Self.deployments(db, [row]).first else { throw StoreError.notFound("deployment", row.name) }
            return deployment
        }
    }

    public func revisions(deploymentID: UUID) async throws -> [DeploymentRevision] {
        try await database.read { db in
            try await db.select().column("*").from("deployment_revisions").where("deployment_id", .equal, deploymentID.uuidString)
                .orderBy("number", .descending).all(decoding: RevisionRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { try $0.revision() }
    }

    public func revision(deploymentID: UUID, number: Int) async throws -> DeploymentRevision? {
        try await database.read { db in
            try await db.select().column("*").from("deployment_revisions").where("deployment_id", .equal, deploymentID.uuidString)
                .where("number", .equal, number).first(decoding: RevisionRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.revision()
    }

    public func deleteDeployment(id: UUID, by actor: AuditActor) async throws {
        try await database.write { db in
            guard let row = try await Self.deploymentRow(db, id: id.uuidString) else { throw StoreError.notFound("deployment", id.uuidString) }
            let stamp = Self.millis(Date())
            try await Self.stop(db, SQLQueryString("deployment_id = \(bind: row.id)"), reason: "deployment \(row.name) was deleted", at: stamp)
            try await db.delete(from: "blob_references").where("owner_type", .equal, "deployment_revision")
                .where(SQLQueryString("SUBSTR(owner_id, 1, CAST(\(bind: row.id.count + 1) AS INTEGER)) = \(bind: row.id + "/")")).run()
            try await db.delete(from: "deployment_revisions").where("deployment_id", .equal, row.id).run()
            try await db.delete(from: "gateway_load").where("deployment_id", .equal, row.id).run()
            try await db.delete(from: "deployments").where("id", .equal, row.id).run()
            try await db.recordAudit(
                actor, "deployment.delete", targetType: "deployment", target: row.name, namespaceID: UUID(uuidString: row.namespaceId))
        }
    }

    public func setStatus(
        deploymentID: UUID, servingRevision: Int?, state: DeploymentState, reason: String, desired: [String: Int], adopting: [UUID],
        at now: Date
    ) async throws {
        let desiredJSON = try Self.json(desired)
        try await database.write { db in
            if let servingRevision, !adopting.isEmpty {
                try await db.update("deployment_replicas").set("revision", to: servingRevision).set("updated_at", to: Self.millis(now))
                    .where("id", .in, adopting.map(\.uuidString))
                    .where("state", .in, ReplicaState.allCases.filter(\.isLive).map(\.rawValue)).run()
            }
            try await db.update("deployments").set("serving_revision", to: servingRevision.map { SQLBind($0) } ?? SQLBind(Int?.none))
                .set("state", to: state.rawValue).set("reason", to: reason).set("desired_json", to: desiredJSON)
                .where("id", .equal, deploymentID.uuidString).run()
        }
    }

    // MARK: - Replicas

    public func replicas(deploymentID: UUID?, includeStopped: Bool) async throws -> [Replica] {
        try await database.read { db in
            var query = db.select().column("*").from("deployment_replicas")
            if let deploymentID { query = query.where("deployment_id", .equal, deploymentID.uuidString) }
            if !includeStopped {
                query = query.where("state", .notIn, [ReplicaState.stopped.rawValue, ReplicaState.failed.rawValue])
            }
            let rows = try await query.orderBy("created_at").all(decoding: ReplicaRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            return try await Self.replicas(db, rows)
        }
    }

    public func createReplicas(
        deploymentID: UUID, revision: Int, model: String, version: Int, count: Int, resources: ComputeResources,
        nodeSelector: [String: String], at now: Date
    ) async throws -> [Replica] {
        guard count > 0 else { return [] }
        let stamp = Self.millis(now)
        let selector = try Self.json(nodeSelector)
        return try await database.write { db in
            guard let deployment = try await Self.deploymentRow(db, id: deploymentID.uuidString) else {
                throw StoreError.notFound("deployment", deploymentID.uuidString)
            }
            var rows: [ReplicaRow] = []
            for _ in 0..<count {
                let row = ReplicaRow(
                    id: UUID().uuidString, deploymentId: deployment.id, deploymentName: deployment.name, namespaceId: deployment.namespaceId,
                    namespaceName: deployment.namespaceName, revision: revision, model: model, version: version,
                    state: ReplicaState.pending.rawValue, reason: "waiting for a node", nodeId: nil, address: nil, restarts: 0,
                    cpu: resources.cpu, memoryBytes: resources.memoryBytes, gpu: resources.gpu, gpuDevices: "[]",
                    nodeSelectorJson: selector, createdAt: stamp, readyAt: nil, updatedAt: stamp)
                try await db.insert(into: "deployment_replicas").model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil)
                    .run()
                rows.append(row)
            }
            return try await Self.replicas(db, rows)
        }
    }

    /// Stops the replicas `condition` selects: pending ones at once, placed ones through their agent.
    static func stop(_ db: any SQLDatabase, _ condition: any SQLExpression, reason: String, at stamp: Int64) async throws {
        try await db.update("deployment_replicas").set("state", to: ReplicaState.stopped.rawValue).set("reason", to: reason)
            .set("updated_at", to: stamp).where(condition).where("state", .equal, ReplicaState.pending.rawValue).run()
        try await db.update("deployment_replicas").set("state", to: ReplicaState.stopping.rawValue).set("reason", to: reason)
            .set("updated_at", to: stamp).where(condition)
            .where("state", .in, [ReplicaState.scheduled, .starting, .ready, .unhealthy].map(\.rawValue)).run()
    }

    public func stopReplicas(ids: [UUID], reason: String, at now: Date) async throws {
        guard !ids.isEmpty else { return }
        try await database.write { db in
            try await Self.stop(db, SQLQueryString("id IN \(SQLBind.group(ids.map(\.uuidString)))"), reason: reason, at: Self.millis(now))
        }
    }

    public func schedulableReplicas() async throws -> [SchedulableReplica] {
        try await database.read { db in
            let rows = try await db.select().column("*").from("deployment_replicas")
                .where("state", .in, ([ReplicaState.pending] + ReplicaState.allCases.filter(\.isPlaced)).map(\.rawValue))
                .orderBy("created_at").all(decoding: ReplicaRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            let replicas = try await Self.replicas(db, rows)
            return try zip(rows, replicas).map { row, replica in
                SchedulableReplica(
                    replica: replica, namespaceID: UUID(uuidString: row.namespaceId) ?? UUID(), nodeID: row.nodeId.flatMap(UUID.init(uuidString:)),
                    resources: row.resources, nodeSelector: try Self.decode([String: String].self, row.nodeSelectorJson))
            }
        }
    }

    public func setWaitingReasons(_ reasons: [UUID: String]) async throws {
        guard !reasons.isEmpty else { return }
        try await database.write { db in
            for (id, reason) in reasons {
                try await db.update("deployment_replicas").set("reason", to: reason).where("id", .equal, id.uuidString)
                    .where("state", .equal, ReplicaState.pending.rawValue).where("reason", .notEqual, reason).run()
            }
        }
    }

    public func placeReplica(id: UUID, nodeID: UUID, gpuDevices: [Int], at now: Date) async throws -> Bool {
        try await database.write { db in
            guard
                let row = try await db.select().column("*").from("deployment_replicas").where("id", .equal, id.uuidString)
                    .where("state", .equal, ReplicaState.pending.rawValue)
                    .first(decoding: ReplicaRow.self, keyDecodingStrategy: .convertFromSnakeCase),
                // The node's row is locked, as for jobs: placements on one node from several servers take turns.
                let node = try await db.select().column("*").from("compute_nodes").where("id", .equal, nodeID.uuidString)
                    .for(.update).first(decoding: SQLComputeRepository.NodeRow.self, keyDecodingStrategy: .convertFromSnakeCase),
                node.state == NodeState.ready.rawValue,
                try await SQLComputeRepository.hasRoom(
                    db, on: node, cpu: row.cpu, memoryBytes: row.memoryBytes, gpu: row.gpu, devices: gpuDevices, excludingJob: nil,
                    excludingReplica: row.id)
            else { return false }
            let rows = try await db.update("deployment_replicas").set("state", to: ReplicaState.scheduled.rawValue)
                .set("node_id", to: nodeID.uuidString).set("gpu_devices", to: try Self.json(gpuDevices))
                .set("reason", to: "placed on \(node.name)").set("updated_at", to: Self.millis(now))
                .where("id", .equal, id.uuidString).where("state", .equal, ReplicaState.pending.rawValue).returning("id").all()
            return !rows.isEmpty
        }
    }

    public func agentReport(nodeID: UUID, _ reports: [ReplicaReport], at now: Date) async throws -> (start: [ReplicaAssignment], stop: [UUID]) {
        let stamp = Self.millis(now)
        let node = nodeID.uuidString
        return try await database.write { db in
            let onNode = try await db.select().column("*").from("deployment_replicas").where("node_id", .equal, node)
                .where("state", .in, ReplicaState.allCases.filter(\.isPlaced).map(\.rawValue))
                .all(decoding: ReplicaRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            let mine = Dictionary(onNode.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            let reported = Set(reports.map(\.replicaId.uuidString))
            var stop: [UUID] = []
            for report in reports {
                let id = report.replicaId.uuidString
                guard let row = mine[id], row.replicaState != .stopping else {
                    stop.append(report.replicaId)  // stopping, ended, or no longer this node's: the agent must let it go
                    continue
                }
                let next: ReplicaState = [.starting, .ready, .unhealthy, .failed].contains(report.state) ? report.state : .starting
                let reason = String((report.message ?? next.rawValue).prefix(2000))
                guard next != row.replicaState || reason != row.reason || report.address != row.address || report.restarts != row.restarts
                else { continue }
                var update = db.update("deployment_replicas").set("state", to: next.rawValue).set("reason", to: reason)
                    .set("address", to: SQLBind(next == .failed ? nil : report.address)).set("restarts", to: report.restarts)
                    .set("updated_at", to: stamp)
                if next == .ready, row.readyAt == nil { update = update.set("ready_at", to: stamp) }
                try await update.where("id", .equal, id).where("node_id", .equal, node).where("state", .equal, row.state).run()
                if next == .failed { stop.append(report.replicaId) }
            }
            // Stopping replicas the agent no longer runs have stopped; started ones it forgot (an agent restarted) go back
            // to the queue.
            for row in onNode where !reported.contains(row.id) {
                switch row.replicaState {
                case .stopping:
                    try await db.update("deployment_replicas").set("state", to: ReplicaState.stopped.rawValue).set("address", to: SQLBind(String?.none))
                        .set("updated_at", to: stamp).where("id", .equal, row.id).where("state", .equal, row.state).run()
                case .starting, .ready, .unhealthy:
                    try await db.update("deployment_replicas").set("state", to: ReplicaState.pending.rawValue)
                        .set("node_id", to: SQLBind(String?.none)).set("address", to: SQLBind(String?.none)).set("gpu_devices", to: "[]")
                        .set("reason", to: "its node's agent no longer runs it; waiting for a node").set("updated_at", to: stamp)
                        .where("id", .equal, row.id).where("state", .equal, row.state).run()
                default: break
                }
            }
            stop.append(contentsOf: onNode.filter { $0.replicaState == .stopping && reported.contains($0.id) }.compactMap { UUID(uuidString: $0.id) })
            var start: [ReplicaAssignment] = []
            for row in onNode where row.replicaState == .scheduled && !reported.contains(row.id) {
                if let assignment = try await Self.assignment(db, row) { start.append(assignment) }
            }
            return (start, Array(Set(stop)))
        }
    }

    static func assignment(_ db: any SQLDatabase, _ row: ReplicaRow) async throws -> ReplicaAssignment? {
        guard
            let revision = try await db.select().column("*").from("deployment_revisions").where("deployment_id", .equal, row.deploymentId)
                .where("number", .equal, row.revision).first(decoding: RevisionRow.self, keyDecodingStrategy: .convertFromSnakeCase)?
                .revision(),
            let model = revision.models.first(where: { $0.model == row.model && $0.version == row.version })
        else { return nil }
        return ReplicaAssignment(
            replicaId: UUID(uuidString: row.id) ?? UUID(), deployment: row.deploymentName, model: row.model, version: row.version,
            files: model.files, environment: revision.spec.environment, resources: row.resources,
            gpuDevices: try decode([Int].self, row.gpuDevices))
    }

    public func assignment(replicaID: UUID, nodeID: UUID) async throws -> ReplicaAssignment? {
        try await database.read { db in
            guard
                let row = try await db.select().column("*").from("deployment_replicas").where("id", .equal, replicaID.uuidString)
                    .where("node_id", .equal, nodeID.uuidString)
                    .where("state", .in, ReplicaState.allCases.filter(\.isPlaced).map(\.rawValue))
                    .first(decoding: ReplicaRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { return nil }
            return try await Self.assignment(db, row)
        }
    }

    public func requeueReplicas(onNodes nodeIDs: [UUID], reason: String, at now: Date) async throws -> Int {
        guard !nodeIDs.isEmpty else { return 0 }
        let stamp = Self.millis(now)
        return try await database.write { db in
            let nodes = nodeIDs.map(\.uuidString)
            // Replicas that were being stopped are gone with their node.
            try await db.update("deployment_replicas").set("state", to: ReplicaState.stopped.rawValue).set("reason", to: reason)
                .set("address", to: SQLBind(String?.none)).set("updated_at", to: stamp)
                .where("node_id", .in, nodes).where("state", .equal, ReplicaState.stopping.rawValue).run()
            let moved = try await db.update("deployment_replicas").set("state", to: ReplicaState.pending.rawValue)
                .set("node_id", to: SQLBind(String?.none)).set("address", to: SQLBind(String?.none)).set("gpu_devices", to: "[]")
                .set("reason", to: "\(reason); waiting for a node").set("updated_at", to: stamp)
                .where("node_id", .in, nodes).where("state", .in, [ReplicaState.scheduled, .starting, .ready, .unhealthy].map(\.rawValue))
                .returning("id").all()
            return moved.count
        }
    }

    public func purgeReplicas(endedBefore cutoff: Date) async throws {
        try await database.write { db in
            try await db.delete(from: "deployment_replicas").where("state", .in, [ReplicaState.stopped.rawValue, ReplicaState.failed.rawValue])
                .where("updated_at", .lessThan, Self.millis(cutoff)).run()
        }
    }

    // MARK: - Load

    public func recordLoad(server: String, _ samples: [GatewayLoad], at now: Date) async throws {
        let stamp = Self.millis(now)
        try await database.write { db in
            try await db.delete(from: "gateway_load").where("server", .equal, server).run()
            // A server that stopped (each start reports under a new id) leaves its last rows: gone after an hour.
            try await db.delete(from: "gateway_load").where("at", .lessThan, stamp - 3_600_000).run()
            for sample in samples {
                try await db.insert(into: "gateway_load").columns("server", "deployment_id", "version_key", "concurrency", "requests", "at")
                    .values(
                        SQLBind(server), SQLBind(sample.deploymentID.uuidString), SQLBind(sample.versionKey), SQLBind(sample.concurrency),
                        SQLBind(sample.requests), SQLBind(stamp)
                    ).run()
            }
        }
    }

    public func load(since: Date) async throws -> [GatewayLoad] {
        struct Row: Decodable {
            var deploymentId: String
            var versionKey: String
            var concurrency: Double
            var requests: Int64
        }
        let rows = try await database.read { db in
            try await db.select().columns("deployment_id", "version_key", "concurrency", "requests").from("gateway_load")
                .where("at", .greaterThanOrEqual, Self.millis(since)).all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        var summed: [String: GatewayLoad] = [:]
        for row in rows {
            guard let id = UUID(uuidString: row.deploymentId) else { continue }
            let key = row.deploymentId + "|" + row.versionKey
            var load = summed[key] ?? GatewayLoad(deploymentID: id, versionKey: row.versionKey, concurrency: 0, requests: 0)
            load.concurrency += row.concurrency
            load.requests += Int(row.requests)
            summed[key] = load
        }
        return summed.values.sorted { ($0.deploymentID.uuidString, $0.versionKey) < ($1.deploymentID.uuidString, $1.versionKey) }
    }
}
