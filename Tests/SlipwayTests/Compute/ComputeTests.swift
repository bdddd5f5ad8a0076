import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import SlipwayDomain
import SlipwayScheduling
import SlipwayStore
import Testing

@testable import SlipwayServer

/// Jobs and agents through the API: join tokens, registration, placement, the agent protocol with its
/// guards against stale work, logs, cancellation and lost nodes; and the placement rules on their own.
@Suite("Compute")
struct ComputeTests {
    static func spec(_ name: String, cpu: Double = 1, memory: Int64 = 64 << 20, gpu: Int = 0) -> JobSpec {
        JobSpec(name: name, command: "echo \(name)", resources: ComputeResources(cpu: cpu, memoryBytes: memory, gpu: gpu))
    }

    static func node(_ name: String, cpu: Double, gpus: Int = 0, state: NodeState = .ready) -> ComputeNode {
        ComputeNode(
            id: UUID(), name: name, capacity: ComputeResources(cpu: cpu, memoryBytes: 64 << 30, gpu: gpus),
            gpus: (0..<gpus).map { GPUDevice(index: $0, model: "A100", memoryBytes: 80 << 30) }, labels: [:], state: state, usage: .zero,
            registeredAt: Date(), lastHeartbeatAt: Date())
    }

    static func queued(_ spec: JobSpec, at seconds: Double = 0) -> Job {
        Job(
            id: UUID(), namespace: "team", project: "p", spec: spec, state: .queued, reason: "", attempts: 0, maxAttempts: 3, node: nil,
            gpuDevices: [], exitCode: nil, createdBy: "admin", createdAt: Date(timeIntervalSince1970: seconds), startedAt: nil, finishedAt: nil)
    }

    /// Places `jobs` on `nodes` as the server's loop does: a snapshot of the database's view, then the policy.
    static func plan(
        _ nodes: [ComputeNode], _ jobs: [(job: Job, namespaceID: UUID, nodeID: UUID?)], quotas: [UUID: Quota] = [:],
        policy: SchedulingPolicyName = .drf
    ) -> (placements: [(jobID: UUID, nodeID: UUID, gpuDevices: [Int])], decision: SchedulingDecision) {
        var shares: [UUID: (name: String, quota: Quota)] = [:]
        for (_, namespaceID, _) in jobs { shares[namespaceID] = ("ns-\(namespaceID.uuidString.prefix(4))", quotas[namespaceID] ?? .unlimited) }
        let snapshot = ClusterSnapshot.make(nodes: nodes, jobs: jobs, shares: shares, now: Date(timeIntervalSince1970: 100))
        let decision = policy.makePolicy().schedule(snapshot)
        return (decision.placements.map { (UUID(uuidString: $0.jobID)!, UUID(uuidString: $0.nodeID)!, $0.gpuDevices) }, decision)
    }

    @Test(arguments: SchedulingPolicyName.allCases)
    func placementRespectsQuotasKeepsGPUNodesForGPUJobsAndHandsOutDistinctDevices(policy: SchedulingPolicyName) {
        let gpuNode = Self.node("gpu", cpu: 8, gpus: 2)
        let cpuNode = Self.node("cpu", cpu: 8)
        let cordoned = Self.node("off", cpu: 64, gpus: 8, state: .cordoned)
        let namespace = UUID()
        let jobs = [
            Self.queued(Self.spec("cpu-job", cpu: 4), at: 1), Self.queued(Self.spec("gpu-a", cpu: 1, gpu: 1), at: 2),
            Self.queued(Self.spec("gpu-b", cpu: 1, gpu: 1), at: 3), Self.queued(Self.spec("gpu-c", cpu: 1, gpu: 1), at: 4),
        ].map { (job: $0, namespaceID: namespace, nodeID: UUID?.none) }
        let (placements, decision) = Self.plan([gpuNode, cpuNode, cordoned], jobs, policy: policy)
        let byJob = Dictionary(uniqueKeysWithValues: placements.map { ($0.jobID, $0) })
        if policy == .drf {
            #expect(byJob[jobs[0].job.id]?.nodeID == cpuNode.id, "balanced placement: a CPU job leaves the GPU node's GPUs usable")
        } else {
            #expect(byJob[jobs[0].job.id] != nil, "FIFO places first fit")
        }
        #expect(Set([byJob[jobs[1].job.id]?.gpuDevices, byJob[jobs[2].job.id]?.gpuDevices]) == [[0], [1]], "distinct devices")
        #expect(byJob[jobs[3].job.id] == nil, "two GPUs, two GPU jobs; the cordoned node takes nothing")
        #expect(decision.waiting[jobs[3].job.id.uuidString] != nil, "the job left waiting has a reason")

        // Placed jobs hold their node's resources and devices: the next GPU job gets the free device only.
        var holding = jobs[1]
        holding.job.state = .running
        holding.job.gpuDevices = [0]
        holding.nodeID = gpuNode.id
        let next = Self.plan([gpuNode], [holding, jobs[3]], policy: policy).placements
        #expect(next.map(\.gpuDevices) == [[1]])

        // A quota of 2 CPUs lets one 2-CPU job run and keeps the next waiting, saying why.
        let limited = [Self.queued(Self.spec("a", cpu: 2), at: 1), Self.queued(Self.spec("b", cpu: 2), at: 2)]
            .map { (job: $0, namespaceID: namespace, nodeID: UUID?.none) }
        let quota = Self.plan([cpuNode], limited, quotas: [namespace: Quota(cpu: 2)], policy: policy)
        #expect(quota.placements.map(\.jobID) == [limited[0].job.id])
        #expect(quota.decision.waiting[limited[1].job.id.uuidString]?.code == .exceedsQuota)

        // Priority beats age.
        var urgent = Self.queued(Self.spec("urgent", cpu: 8), at: 9)
        urgent.spec.priority = 10
        let ordered = Self.plan(
            [cpuNode], [(Self.queued(Self.spec("old", cpu: 8), at: 1), namespace, nil), (urgent, namespace, nil)], policy: policy)
        #expect(ordered.placements.map(\.jobID) == [urgent.id])

        // A node selector keeps a job off nodes without the label; the GPU model is a label of its own.
        var picky = Self.queued(Self.spec("picky", cpu: 1), at: 1)
        picky.spec.nodeSelector = ["gpu.model": "A100"]
        let selected = Self.plan([cpuNode, gpuNode], [(picky, namespace, nil)], policy: policy).placements
        #expect(selected.map(\.nodeID) == [gpuNode.id])
    }

    @Test func fairSharingGivesTheIdleNamespaceItsShareAndWeightsCount() {
        // Team a queued first and has many jobs; team b arrives later. Under DRF b still gets half the node;
        // under FIFO a takes it all. With weight 3 for b, b gets three of four slots.
        let node = Self.node("n", cpu: 8)
        let (a, b) = (UUID(), UUID())
        let jobs =
            (0..<8).map { (job: Self.queued(Self.spec("a\($0)", cpu: 1), at: Double($0)), namespaceID: a, nodeID: UUID?.none) }
            + (0..<8).map { (job: Self.queued(Self.spec("b\($0)", cpu: 1), at: 50 + Double($0)), namespaceID: b, nodeID: UUID?.none) }
        func count(_ placements: [(jobID: UUID, nodeID: UUID, gpuDevices: [Int])], _ namespace: UUID) -> Int {
            let ids = Set(jobs.filter { $0.namespaceID == namespace }.map(\.job.id))
            return placements.filter { ids.contains($0.jobID) }.count
        }
        let fair = Self.plan([node], jobs).placements
        #expect((count(fair, a), count(fair, b)) == (4, 4))
        let fifo = Self.plan([node], jobs, policy: .fifo).placements
        #expect((count(fifo, a), count(fifo, b)) == (8, 0))
        let weighted = Self.plan([node], jobs, quotas: [b: Quota(weight: 3)]).placements
        #expect((count(weighted, a), count(weighted, b)) == (2, 6))
    }

    /// Registers a node over the API with a fresh join token. - Returns: the admin token and the agent token.
    static func registeredNode(_ api: APIClient, name: String = "n1", gpus: [GPUDevice] = []) async throws -> (admin: String, agent: String) {
        let registered = try await registeredNodeWithJoinSecret(api, name: name, gpus: gpus)
        return (registered.admin, registered.agent)
    }

    /// `registeredNode`, also returning the join token's secret.
    static func registeredNodeWithJoinSecret(
        _ api: APIClient, name: String, gpus: [GPUDevice] = []
    ) async throws -> (admin: String, agent: String, joinSecret: String) {
        let admin = try await DatasetAPITests.setUp(api)
        let issued = try await api.request(.post, "/api/v1/admin/join-tokens", token: admin, json: #"{"name":"rack-1"}"#)
        #expect(issued.status == .created, "\(issued.text)")
        let secret = try #require(issued.json["secret"] as? String)
        let registration = AgentRegistration(
            joinToken: secret, name: name, capacity: ComputeResources(cpu: 4, memoryBytes: 8 << 30, gpu: gpus.count), gpus: gpus,
            labels: ["zone": "a"])
        let registered = try await api.request(.post, "/api/v1/agents/register", body: registration)
        #expect(registered.status == .ok, "\(registered.text)")
        let bad = try await api.request(
            .post, "/api/v1/agents/register",
            body: AgentRegistration(joinToken: "slwj_nope", name: "x", capacity: registration.capacity, gpus: [], labels: [:]))
        #expect(bad.status == .unauthorized)
        #expect(bad.errorCode == "invalid_join_token")
        return (admin, try #require(registered.json["agent_token"] as? String), secret)
    }

    @Test(arguments: TestBackend.available)
    func aRevokedJoinTokenRegistersNoNodeButItsNodesKeepWorking(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let (admin, agent, joinSecret) = try await Self.registeredNodeWithJoinSecret(api, name: "before")
            let listed = try await api.request(.get, "/api/v1/admin/join-tokens", token: admin)
            let id = try #require(listed.items.first?["id"] as? String)
            #expect(listed.items.first?["revoked_at"] == nil)
            #expect(try await api.request(.delete, "/api/v1/admin/join-tokens/\(id)", token: admin).status == .noContent)
            let revoked = try await api.request(.get, "/api/v1/admin/join-tokens", token: admin)
            #expect(revoked.items.first?["revoked_at"] is String)

            // The secret still exists on the rack's machines, but it registers nothing now.
            let tokens = try await api.platform.store.compute.joinTokens()
            #expect(tokens.count == 1 && tokens[0].revokedAt != nil)
            let secretRegistration = try await api.request(
                .post, "/api/v1/agents/register",
                body: AgentRegistration(
                    joinToken: joinSecret, name: "after",
                    capacity: ComputeResources(cpu: 2, memoryBytes: 1 << 30, gpu: 0), gpus: [], labels: [:]))
            #expect(secretRegistration.status == .unauthorized)
            #expect(secretRegistration.errorCode == "invalid_join_token")
            #expect(secretRegistration.text.contains("slipway node token create"))
            #expect(try await api.platform.store.compute.node(named: "after") == nil)
            // A node registered before keeps its agent token.
            let beat = try await api.request(.post, "/api/v1/agents/heartbeat", token: agent, body: AgentHeartbeat(usage: .zero, running: []))
            #expect(beat.status == .ok)
            // A job token or a developer cannot revoke tokens; an unknown id is a 404.
            let developer = try await api.user("dev", adminToken: admin)
            #expect(try await api.request(.delete, "/api/v1/admin/join-tokens/\(id)", token: developer).status == .forbidden)
            #expect(try await api.request(.delete, "/api/v1/admin/join-tokens/\(UUID().uuidString)", token: admin).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func aJobIsPlacedRunLoggedAndGuardedAgainstStaleAgents(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let (admin, agent) = try await Self.registeredNode(api)
            let jobs = "/api/v1/namespaces/team/projects/flowers/jobs"
            let submitted = try await api.request(.post, jobs, token: admin, body: Self.spec("train"))
            #expect(submitted.status == .created, "\(submitted.text)")
            let id = try #require(submitted.json["id"] as? String)

            let scheduler = SchedulingService(store: api.platform.store, logger: Logger(label: "test"), now: { Date() }, lostAfter: 30)
            #expect(try await scheduler.tick().count == 1)
            let beat = try await api.request(.post, "/api/v1/agents/heartbeat", token: agent, body: AgentHeartbeat(usage: .zero, running: []))
            let instructions = try beat.decode(AgentInstructions.self)
            #expect(instructions.start.map(\.jobId.uuidString) == [id.uppercased()])
            #expect(instructions.start.first?.attempt == 1)

            let state = "/api/v1/agents/jobs/\(id)/state"
            #expect(try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .running)).status == .ok)
            let stale = try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 2, state: .succeeded))
            #expect(stale.status == .conflict)
            #expect(stale.errorCode == "stale_report")
            #expect(try await api.request(.post, state, token: admin, body: JobStateReport(attempt: 1, state: .succeeded)).status == .unauthorized)

            // Logs: appended by the agent, read whole or from an offset.
            for chunk in ["epoch 1\n", "epoch 2 ✓\n"] {
                let appended = try await api.client.execute(
                    uri: "/api/v1/agents/jobs/\(id)/logs", method: .post, headers: [.authorization: "Bearer \(agent)"],
                    body: ByteBuffer(string: chunk))
                #expect(appended.status == .noContent)
            }
            #expect(try await api.request(.get, "/api/v1/jobs/\(id)/logs", token: admin).text == "epoch 1\nepoch 2 ✓\n")
            let tail = try await api.request(.get, "/api/v1/jobs/\(id)/logs?offset=8", token: admin)
            #expect(tail.text == "epoch 2 ✓\n")
            #expect(tail.headers[HTTPField.Name("Slipway-Log-Offset")!] == "18")

            // Cancelling tells the agent to stop; its late report is refused.
            #expect(try await api.request(.post, "/api/v1/jobs/\(id)/cancel", token: admin).json["state"] as? String == "cancelled")
            let next = try await api.request(
                .post, "/api/v1/agents/heartbeat", token: agent,
                body: AgentHeartbeat(usage: .zero, running: [.init(jobId: UUID(uuidString: id)!, attempt: 1)]))
            #expect(try next.decode(AgentInstructions.self).stop.map(\.uuidString) == [id.uppercased()])
            #expect(try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .succeeded)).status == .conflict)
            let detail = try await api.request(.get, "/api/v1/jobs/\(id)", token: admin).decode(JobDetail.self)
            #expect(detail.events.map(\.state) == [.queued, .scheduled, .running, .cancelled])

            let outsider = try await api.user("mallory", adminToken: admin)
            #expect(try await api.request(.get, "/api/v1/jobs/\(id)", token: outsider).status == .notFound)
            #expect(try await api.request(.get, "/api/v1/jobs", token: outsider).items.isEmpty)
        }
    }

    @Test(arguments: TestBackend.available)
    func aLostNodesJobIsRequeuedAndTheReturningAgentIsToldToStop(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let (admin, agent) = try await Self.registeredNode(api)
            let submitted = try await api.request(.post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: Self.spec("train"))
            let idText = try #require(submitted.json["id"] as? String)
            let id = try #require(UUID(uuidString: idText))
            let store = api.platform.store
            let scheduler = SchedulingService(store: store, logger: Logger(label: "test"), now: { Date() }, lostAfter: 30)
            try await scheduler.tick()
            let nodeID = try #require(try await store.compute.nodes().first?.id)
            _ = try await store.compute.report(jobID: id, nodeID: nodeID, .init(attempt: 1, state: .running), at: Date())

            // An hour later the node has been silent: it is lost and the job goes back to the queue.
            let later = SchedulingService(store: store, logger: Logger(label: "test"), now: { Date().addingTimeInterval(3600) }, lostAfter: 30)
            try await later.tick()
            let job = try #require(try await store.compute.job(id: id))
            #expect(job.state == .queued || job.state == .scheduled)
            #expect(try await store.compute.nodes().first?.state == .lost)
            #expect(try await store.compute.events(jobID: id).contains { $0.reason.contains("was lost") })

            // The agent comes back still running attempt 1: it is told to stop it.
            let beat = try await api.request(
                .post, "/api/v1/agents/heartbeat", token: agent, body: AgentHeartbeat(usage: .zero, running: [.init(jobId: id, attempt: 1)]))
            #expect(try beat.decode(AgentInstructions.self).stop == [id])
            #expect(try await store.compute.nodes().first?.state == .ready)
        }
    }

    @Test func badJobSpecsAreRefusedSayingWhichField() async throws {
        try await TestPlatform.withAPI(.sqlite) { api in
            let admin = try await DatasetAPITests.setUp(api)
            let jobs = "/api/v1/namespaces/team/projects/flowers/jobs"
            var cases: [(JobSpec, String)] = []
            var spec = Self.spec("ok")
            spec.command = "  "
            cases.append((spec, "invalid_field"))
            spec = Self.spec("ok", cpu: 0)
            cases.append((spec, "invalid_field"))
            spec = Self.spec("ok", memory: 10)
            cases.append((spec, "invalid_field"))
            spec = Self.spec("Bad Name")
            cases.append((spec, "invalid_name"))
            spec = Self.spec("ok")
            spec.env = ["MLFLOW_RUN_ID": "x"]
            cases.append((spec, "invalid_field"))
            spec = Self.spec("ok")
            spec.environment = JobEnvironment(python: "ruby", requirements: [])
            cases.append((spec, "invalid_field"))
            for (spec, code) in cases {
                let refused = try await api.request(.post, jobs, token: admin, body: spec)
                #expect(refused.status == .badRequest, "\(spec)")
                #expect(refused.errorCode == code, "\(refused.text)")
            }
            #expect(try await api.request(.put, "/api/v1/namespaces/team/quota", token: admin, json: #"{"cpu":2}"#).status == .ok)
            let tooBig = try await api.request(.post, jobs, token: admin, body: Self.spec("big", cpu: 4))
            #expect(tooBig.errorCode == "exceeds_quota")
            #expect(try await api.request(.get, "/api/v1/jobs", token: admin).items.isEmpty, "nothing was queued")
        }
    }
}
