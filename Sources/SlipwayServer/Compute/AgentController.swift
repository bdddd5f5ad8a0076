import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore

/// The agents' side of the server (`/api/v1/agents/…`): a node registers with a join token and gets an agent
/// token; with it, it heartbeats (and is told what to start and stop), reports job states and streams logs.
/// Agent tokens are not user tokens: these routes sit outside the user authentication middleware.
struct AgentController: Sendable {
    let store: MetadataStore
    /// Where serving replicas' model files are read from.
    let blobs: any BlobStore
    let runs: JobRuns
    let now: @Sendable () -> Date
    let heartbeatSeconds: Double
    /// The most characters of a job's log the server keeps.
    var logLimit: Int64 = 64 << 20

    /// How long a job must have been preparing or running, unchanged, before its agent's silence about it (a
    /// heartbeat that does not list it) counts: a few heartbeats, so reports and heartbeats that cross are harmless.
    var orphanGrace: TimeInterval { max(5, 3 * heartbeatSeconds) }

    /// The largest log chunk one request may append.
    static let maxLogChunk = 1 << 20

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("register", use: registerNode)
        group.post("heartbeat", use: heartbeat)
        group.post("jobs/{job}/state", use: reportState)
        group.post("jobs/{job}/logs", use: appendLog)
        group.get("replicas/{replica}/files/{digest}", use: replicaFile)
    }

    @Sendable func registerNode(_ request: Request, context: AppRequestContext) async throws -> AgentCredentials {
        let body = try await request.decodeJSON(AgentRegistration.self, context: context)
        guard try await store.compute.joinToken(secretHash: SecretGenerator.digest(body.joinToken)) != nil else {
            var error = APIError.unauthenticated(
                "the join token is unknown or revoked; ask an administrator for one (slipway node token create NAME; slipway node token list shows which are live)"
            )
            error.code = "invalid_join_token"
            throw error
        }
        guard body.name.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._-]{0,62}/) != nil else {
            throw APIError.invalidField("name", "must be 1 to 63 letters, digits, '.', '_' or '-'")
        }
        let capacity = body.capacity
        guard capacity.cpu > 0, capacity.cpu.isFinite, capacity.memoryBytes > 0, capacity.gpu >= 0, capacity.gpu == body.gpus.count,
            body.labels.count <= 64, body.labels.allSatisfy({ $0.key.count <= 63 && $0.value.count <= 253 })
        else {
            throw APIError.invalidField("capacity", "must have cpu and memory above 0 and one GPU entry per GPU")
        }
        let secret = "slwa_" + SecretGenerator.hex(bytes: 32)
        let node = try await store.compute.register(
            ComputeNode(
                id: UUID(), name: body.name, capacity: capacity, gpus: body.gpus, labels: body.labels, state: .ready, usage: .zero,
                registeredAt: now(), lastHeartbeatAt: now()),
            agentTokenHash: SecretGenerator.digest(secret), at: now())
        return AgentCredentials(nodeId: node.id, agentToken: secret, heartbeatSeconds: heartbeatSeconds)
    }

    /// The node whose agent token the request carries. - Throws: 401.
    func node(_ request: Request) async throws -> ComputeNode {
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer slwa_") else {
            throw APIError.unauthenticated("agents authenticate with 'Authorization: Bearer <agent token>' from registration")
        }
        let secret = String(authorization.dropFirst("Bearer ".count))
        guard let node = try await store.compute.node(agentTokenHash: SecretGenerator.digest(secret)) else {
            var error = APIError.unauthenticated("the agent token is unknown; register the node again")
            error.code = "invalid_agent_token"
            throw error
        }
        return node
    }

    @Sendable func heartbeat(_ request: Request, context: AppRequestContext) async throws -> AgentInstructions {
        let node = try await node(request)
        let body = try await request.decodeJSON(AgentHeartbeat.self, context: context)
        let time = now()
        try await store.compute.heartbeat(nodeID: node.id, usage: body.usage, at: time)
        let stop = try await store.compute.stale(body.running, nodeID: node.id)
        // Work this node's agent no longer runs goes back to the queue instead of holding the node forever.
        for job in try await store.compute.reconcile(
            nodeID: node.id, running: body.running, settledBefore: time.addingTimeInterval(-orphanGrace), at: time)
        {
            await runs.follow(job, at: time)
        }
        let running = Set(body.running.map(\.jobId))
        // Each attempt handed over gets a fresh token; one the agent already runs keeps the token it was given.
        var start: [JobAssignment] = []
        for var assignment in try await store.compute.assignments(nodeID: node.id) where !running.contains(assignment.jobId) {
            let token = SecretGenerator.jobTokenSecret()
            guard
                try await store.compute.issueToken(
                    jobID: assignment.jobId, attempt: assignment.attempt, secretHash: SecretGenerator.digest(token))
            else { continue }
            assignment.token = token
            start.append(assignment)
        }
        // Serving replicas: what the agent runs updates their state; it is told which to start and stop.
        let replicas = try await store.serving.agentReport(nodeID: node.id, body.replicas ?? [], at: now())
        return AgentInstructions(start: start, stop: stop, startReplicas: replicas.start, stopReplicas: replicas.stop)
    }

    /// A file of the model a replica on this node serves.
    @Sendable func replicaFile(_ request: Request, context: AppRequestContext) async throws -> Response {
        let node = try await node(request)
        let text = try context.parameters.require("replica")
        let digestText = try context.parameters.require("digest")
        let missing = APIError.notFound("replica '\(text.prefix(40))' on node \(node.name) has no file \(digestText.prefix(80))")
        guard let id = UUID(uuidString: text), let digest = BlobDigest(hex: digestText),
            let assignment = try await store.serving.assignment(replicaID: id, nodeID: node.id),
            let file = assignment.files.first(where: { $0.sha256 == digest.hex }),
            try await blobs.info(digest) != nil
        else { throw missing }
        let chunks = try await blobs.read(digest, chunkSize: 1 << 20)
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream", .contentLength: String(file.size)],
            body: ResponseBody(asyncSequence: chunks))
    }

    @Sendable func reportState(_ request: Request, context: AppRequestContext) async throws -> Job {
        let node = try await node(request)
        let text = try context.parameters.require("job")
        guard let id = UUID(uuidString: text) else { throw APIError.notFound("job '\(text.prefix(40))' does not exist") }
        let body = try await request.decodeJSON(JobStateReport.self, context: context)
        if let reason = body.reason { try validText(reason, field: "reason", limit: 2000) }
        do {
            let job = try await store.compute.report(jobID: id, nodeID: node.id, body, at: now())
            await runs.follow(job, at: now())
            return job
        } catch let error as StoreError where error.isConflict {
            throw APIError.conflict(error.code, error.description)
        } catch let error as StoreError where error.isNotFound {
            throw APIError.notFound(error.description)
        }
    }

    /// Appends the body (UTF-8 text) to the job's log; only the node running the job may.
    @Sendable func appendLog(_ request: Request, context: AppRequestContext) async throws -> Response {
        let node = try await node(request)
        let text = try context.parameters.require("job")
        guard let id = UUID(uuidString: text), let job = try await store.compute.job(id: id) else {
            throw APIError.notFound("job '\(text.prefix(40))' does not exist")
        }
        guard job.node == node.name else { throw APIError.conflict("stale_report", "job \(id) does not run on node \(node.name)") }
        let body = try await request.body.collect(upTo: Self.maxLogChunk)
        let chunk = String(decoding: body.readableBytesView, as: UTF8.self).replacingOccurrences(of: "\0", with: "")
        guard !chunk.isEmpty else { return Response(status: .noContent) }
        let length = try await store.compute.appendLog(jobID: id, chunk, limit: logLimit)
        return Response(status: .noContent, headers: [HTTPField.Name("Slipway-Log-Offset")!: String(length)])
    }
}
