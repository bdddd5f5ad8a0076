import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import SlipwayDomain
import SlipwayServing
import SlipwayStore
import Testing

@testable import SlipwayServer

/// The deployment loop with the scheduler and the agent protocol, over the API and the store: replicas are created,
/// placed and started by an agent; the gateway switches to a new revision only once its replicas are ready; a change
/// that keeps the worker carries the replicas over; a version that keeps failing gets no more replicas; load scales
/// a version up and, after the delay, down; a lost node's replicas go back to the queue.
@Suite("Deployment loop")
struct DeploymentLoopTests {
    /// The seeded platform with one registered node: the admin token, the agent token and the node's id.
    static func withNode(_ api: APIClient) async throws -> (admin: String, agent: String, node: UUID) {
        let admin = try await ServingAPITests.seed(api)
        let issued = try await api.request(.post, "/api/v1/admin/join-tokens", token: admin, json: #"{"name":"rack-1"}"#)
        let secret = try #require(issued.json["secret"] as? String)
        let registered = try await api.request(
            .post, "/api/v1/agents/register",
            body: AgentRegistration(
                joinToken: secret, name: "n1", capacity: ComputeResources(cpu: 8, memoryBytes: 16 << 30, gpu: 0), gpus: [], labels: [:]))
        let agent = try #require(registered.json["agent_token"] as? String)
        let nodeText = try #require(registered.json["node_id"] as? String)
        let node = try #require(UUID(uuidString: nodeText))
        return (admin, agent, node)
    }

    /// One heartbeat of the agent, reporting `replicas`.
    static func beat(_ api: APIClient, _ agent: String, _ replicas: [ReplicaReport]) async throws -> AgentInstructions {
        let answer = try await api.request(
            .post, "/api/v1/agents/heartbeat", token: agent, body: AgentHeartbeat(usage: .zero, running: [], replicas: replicas))
        #expect(answer.status == .ok, "\(answer.text)")
        return try answer.decode(AgentInstructions.self)
    }

    /// What a deployment-loop test starts from: the admin and agent tokens, the node, and the loops as the server runs them.
    struct Adder {
        var admin: String
        var agent: String
        var node: UUID
        var store: MetadataStore
        var loop: DeploymentService
        var scheduler: SchedulingService
    }

    /// ``withNode(_:)``, then the deployment `spec` created (the adder model by default).
    static func withAdder(
        _ api: APIClient, _ spec: String = #"{"name":"adder","models":[{"model":"team.flowers.adder","version":1}]}"#
    ) async throws -> Adder {
        let (admin, agent, node) = try await withNode(api)
        let store = api.platform.store
        let created = try await ServingAPITests.create(api, admin, spec)
        #expect(created.status == .created, "\(created.text)")
        return Adder(
            admin: admin, agent: agent, node: node, store: store,
            loop: DeploymentService(store: store, logger: TestDatabases.logger, now: { Date() }),
            scheduler: SchedulingService(store: store, logger: TestDatabases.logger, now: { Date() }, lostAfter: 30))
    }

    static func deployment(_ api: APIClient, _ name: String = "adder") async throws -> Deployment {
        try #require(try await api.platform.store.serving.deployment(named: name)).deployment
    }

    @Test(arguments: TestBackend.available)
    func revisionsRollOutBesideTheServingOneAndCarryOverReplicasWhoseWorkerStaysTheSame(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let adder = try await Self.withAdder(api)
            let (admin, agent, store, loop, scheduler) = (adder.admin, adder.agent, adder.store, adder.loop, adder.scheduler)

            #expect(try await loop.tick())
            var replicas = try await store.serving.replicas(deploymentID: nil, includeStopped: false)
            #expect(replicas.map(\.state) == [.pending])
            #expect(try await scheduler.tick().count == 1, "replicas share the scheduler with jobs")
            // The agent is handed the replica with the model's files, and may fetch exactly those.
            var instructions = try await Self.beat(api, agent, [])
            let assignment = try #require(instructions.startReplicas?.first)
            #expect(assignment.model == "team.flowers.adder" && assignment.version == 1)
            let file = try #require(assignment.files.first { $0.path == "model.py" })
            let fetched = try await api.request(.get, "/api/v1/agents/replicas/\(assignment.replicaId)/files/\(file.sha256)", token: agent)
            #expect(fetched.status == .ok && fetched.text == ServingAPITests.modelPy)
            let other = try await api.request(.get, "/api/v1/agents/replicas/\(assignment.replicaId)/files/\(sha256Hex("x"))", token: agent)
            #expect(other.status == .notFound, "only the replica's own files")

            let first = assignment.replicaId
            _ = try await Self.beat(api, agent, [.init(replicaId: first, state: .starting, address: nil, restarts: 0, message: "loading")])
            try await loop.tick()
            #expect(try await Self.deployment(api).servingRevision == nil, "nothing serves before a replica is ready")
            _ = try await Self.beat(api, agent, [.init(replicaId: first, state: .ready, address: "tcp:127.0.0.1:5000", restarts: 0, message: nil)])
            try await loop.tick()
            var deployment = try await Self.deployment(api)
            #expect(deployment.servingRevision == 1 && deployment.state == .ready, "\(deployment.reason)")

            // New resources mean a new worker: revision 2 starts beside revision 1, which keeps serving.
            let patched = try await api.request(
                .patch, "/api/v1/deployments/adder", token: admin, json: #"{"resources":{"cpu":2,"memory_bytes":2147483648,"gpu":0}}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            try await loop.tick()
            try await scheduler.tick()
            instructions = try await Self.beat(
                api, agent, [.init(replicaId: first, state: .ready, address: "tcp:127.0.0.1:5000", restarts: 0, message: nil)])
            let second = try #require(instructions.startReplicas?.first?.replicaId)
            #expect(instructions.startReplicas?.first?.resources.cpu == 2)
            try await loop.tick()
            deployment = try await Self.deployment(api)
            #expect(deployment.servingRevision == 1 && deployment.state == .rollingOut, "the old revision serves until the new one is ready")
            let table = try await store.serving.routingTable()
            let live = try await store.serving.replicas(deploymentID: nil, includeStopped: false)
            let routes = GatewayService.route(deployment, spec: try #require(table.first).serving.spec, revision: 1, replicas: live)
            #expect(routes.versions.first?.endpoints.map(\.id) == [first], "the gateway routes to revision 1's replica meanwhile")

            let both: [ReplicaReport] = [
                .init(replicaId: first, state: .ready, address: "tcp:127.0.0.1:5000", restarts: 0, message: nil),
                .init(replicaId: second, state: .ready, address: "tcp:127.0.0.1:5001", restarts: 0, message: nil),
            ]
            _ = try await Self.beat(api, agent, both)
            try await loop.tick()
            deployment = try await Self.deployment(api)
            #expect(deployment.servingRevision == 2 && deployment.state == .ready, "\(deployment.reason)")
            instructions = try await Self.beat(api, agent, both)
            #expect(instructions.stopReplicas == [first], "revision 1's replica is told to stop once revision 2 serves")
            _ = try await Self.beat(api, agent, [both[1]])
            replicas = try await store.serving.replicas(deploymentID: nil, includeStopped: true)
            #expect(replicas.first { $0.id == first }?.state == .stopped)

            // A new traffic split and batching keep the worker: revision 3 takes the replica over, nothing restarts.
            let batching = try await api.request(
                .patch, "/api/v1/deployments/adder", token: admin, json: #"{"batching":{"max_batch_size":4,"max_queue_delay_microseconds":100}}"#)
            #expect(batching.status == .ok)
            try await loop.tick()
            deployment = try await Self.deployment(api)
            #expect(deployment.revision == 3 && deployment.servingRevision == 3, "\(deployment.reason)")
            replicas = try await store.serving.replicas(deploymentID: nil, includeStopped: false)
            #expect(replicas.map(\.id) == [second] && replicas.map(\.revision) == [3])

            // A canary of version 2 beside version 1: version 1's replica carries over, but only at the switch. Until
            // version 2 is ready, it stays in revision 3, which the gateway routes, and keeps answering.
            let canary = try await api.request(
                .patch, "/api/v1/deployments/adder", token: admin,
                json: #"{"models":[{"model":"team.flowers.adder","version":1,"weight":10},{"model":"team.flowers.adder","version":2,"weight":90}]}"#)
            #expect(canary.status == .ok, "\(canary.text)")
            try await loop.tick()
            try await scheduler.tick()
            instructions = try await Self.beat(api, agent, [both[1]])
            let third = try #require(instructions.startReplicas?.first { $0.version == 2 }?.replicaId)
            try await loop.tick()
            deployment = try await Self.deployment(api)
            #expect(deployment.revision == 4 && deployment.servingRevision == 3, "\(deployment.reason)")
            let serving = try #require(try await store.serving.routingTable().first)
            #expect(serving.serving.revision == 3)
            let meanwhile = GatewayService.route(
                deployment, spec: serving.serving.spec, revision: 3, replicas: try await store.serving.replicas(deploymentID: nil, includeStopped: false))
            #expect(meanwhile.versions.first?.endpoints.map(\.id) == [second], "version 1 keeps its replica while version 2 starts")

            let all = [both[1], .init(replicaId: third, state: .ready, address: "tcp:127.0.0.1:5002", restarts: 0, message: nil)]
            _ = try await Self.beat(api, agent, all)
            try await loop.tick()
            deployment = try await Self.deployment(api)
            #expect(deployment.servingRevision == 4 && deployment.state == .ready, "\(deployment.reason)")
            replicas = try await store.serving.replicas(deploymentID: nil, includeStopped: false)
            #expect(Set(replicas.map(\.id)) == [second, third] && replicas.allSatisfy { $0.revision == 4 }, "\(replicas)")
            #expect(try await Self.beat(api, agent, all).stopReplicas?.isEmpty ?? true, "nothing restarts")
        }
    }

    @Test(arguments: TestBackend.available)
    func aVersionWhoseReplicasKeepFailingStopsGettingReplicasAndSaysWhy(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let adder = try await Self.withAdder(api)
            let (admin, agent, store, loop, scheduler) = (adder.admin, adder.agent, adder.store, adder.loop, adder.scheduler)
            for attempt in 1...3 {
                try await loop.tick()
                try await scheduler.tick()
                let instructions = try await Self.beat(api, agent, [])
                let id = try #require(instructions.startReplicas?.first?.replicaId, "attempt \(attempt) gets a replica")
                let answer = try await Self.beat(
                    api, agent, [.init(replicaId: id, state: .failed, address: nil, restarts: 2, message: "the model cannot be loaded: boom")])
                #expect(answer.stopReplicas == [id])
                _ = try await Self.beat(api, agent, [])
            }
            try await loop.tick()
            try await scheduler.tick()
            #expect(try await Self.beat(api, agent, []).startReplicas?.isEmpty ?? true, "no fourth replica")
            let deployment = try await Self.deployment(api)
            #expect(deployment.state == .unavailable)
            #expect(deployment.reason.contains("failed 3 times") && deployment.reason.contains("boom"), "\(deployment.reason)")
        }
    }

    @Test(arguments: TestBackend.available)
    func loadScalesAVersionUpAtOnceAndDownAfterTheDelay(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let (admin, _, _) = try await Self.withNode(api)
            let store = api.platform.store
            let clock = ManualDate(Date())
            let loop = DeploymentService(store: store, logger: TestDatabases.logger, now: { clock.now }, scaleDownAfter: 30)
            #expect(
                try await ServingAPITests.create(
                    api, admin, #"{"name":"adder","models":[{"model":"team.flowers.adder","version":1}],"max_replicas":3,"target_concurrency":4}"#
                ).status == .created)
            let id = try await Self.deployment(api).id
            let key = "team.flowers.adder:1"
            try await loop.tick()
            // Two gateways saw 5 and 6 requests in flight on average: 11 / 4 → 3 replicas.
            try await store.serving.recordLoad(
                server: "g1", [GatewayLoad(deploymentID: id, versionKey: key, concurrency: 5, requests: 500)], at: clock.now)
            try await store.serving.recordLoad(
                server: "g2", [GatewayLoad(deploymentID: id, versionKey: key, concurrency: 6, requests: 600)], at: clock.now)
            try await loop.tick()
            #expect(try await Self.deployment(api).desiredReplicas[key] == 3)
            #expect(try await store.serving.replicas(deploymentID: id, includeStopped: false).count == 3)
            // Quiet again: the replicas stay for the delay, then go back to the minimum.
            try await store.serving.recordLoad(server: "g1", [], at: clock.now)
            try await store.serving.recordLoad(server: "g2", [], at: clock.now)
            try await loop.tick()
            #expect(try await Self.deployment(api).desiredReplicas[key] == 3)
            clock.advance(31)
            try await loop.tick()
            #expect(try await Self.deployment(api).desiredReplicas[key] == 1)
            #expect(try await store.serving.replicas(deploymentID: id, includeStopped: false).filter(\.state.isLive).count == 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func aLostNodesReplicasGoBackToTheQueue(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let adder = try await Self.withAdder(api)
            let (admin, agent, node, store, loop, scheduler) = (adder.admin, adder.agent, adder.node, adder.store, adder.loop, adder.scheduler)
            try await loop.tick()
            try await scheduler.tick()
            let id = try #require(try await Self.beat(api, agent, []).startReplicas?.first?.replicaId)
            _ = try await Self.beat(api, agent, [.init(replicaId: id, state: .ready, address: "tcp:127.0.0.1:5000", restarts: 0, message: nil)])
            // A second node joins; the first goes silent and is marked lost.
            let issued = try await api.request(.post, "/api/v1/admin/join-tokens", token: admin, json: #"{"name":"rack-2"}"#)
            let registered = try await api.request(
                .post, "/api/v1/agents/register",
                body: AgentRegistration(
                    joinToken: try #require(issued.json["secret"] as? String), name: "n2",
                    capacity: ComputeResources(cpu: 8, memoryBytes: 16 << 30, gpu: 0), gpus: [], labels: [:]))
            let second = try #require(registered.json["agent_token"] as? String)
            _ = try await store.compute.setState(ofNode: "n1", .lost, by: .system)
            #expect(try await store.compute.nodes().first { $0.id == node }?.state == .lost)
            let placed = try await scheduler.tick()
            #expect(placed.count == 1, "the replica is placed again, on the node that is left")
            let replica = try #require(try await store.serving.replicas(deploymentID: nil, includeStopped: false).first)
            #expect(replica.id == id && replica.node == "n2" && replica.address == nil && replica.state == .scheduled)
            #expect(try await Self.beat(api, second, []).startReplicas?.map(\.replicaId) == [id])
            // The first node's agent, back, is told to let it go.
            #expect(
                try await Self.beat(api, agent, [.init(replicaId: id, state: .ready, address: "tcp:127.0.0.1:5000", restarts: 0, message: nil)])
                    .stopReplicas == [id])
        }
    }

    @Test(arguments: TestBackend.available)
    func jobsAndReplicasShareANodesRoomWhateverTheSnapshotSaid(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let adder = try await Self.withAdder(
                api, #"{"name":"adder","models":[{"model":"team.flowers.adder","version":1}],"resources":{"cpu":6,"memory_bytes":1073741824,"gpu":0}}"#)
            let (admin, node, store, loop) = (adder.admin, adder.node, adder.store, adder.loop)
            #expect(try await loop.tick())
            let replica = try #require(try await store.serving.replicas(deploymentID: nil, includeStopped: false).first)
            // A job takes 4 of the node's 8 CPUs: the 6-CPU replica no longer fits, as a stale snapshot would not know.
            let submitted = try await api.request(
                .post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: ComputeTests.spec("train", cpu: 4))
            let job = try submitted.decode(Job.self)
            #expect(try await store.compute.place(jobID: job.id, nodeID: node, gpuDevices: [], at: Date()))
            #expect(try await !store.serving.placeReplica(id: replica.id, nodeID: node, gpuDevices: [], at: Date()))
            #expect(try await store.serving.replicas(deploymentID: nil, includeStopped: false).first?.state == .pending)
            // Once the job ends the replica fits, and then a second job of 4 CPUs does not.
            _ = try await store.compute.report(jobID: job.id, nodeID: node, JobStateReport(attempt: 1, state: .failed), at: Date())
            #expect(try await store.serving.placeReplica(id: replica.id, nodeID: node, gpuDevices: [], at: Date()))
            let second = try await api.request(
                .post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: ComputeTests.spec("again", cpu: 4)
            ).decode(Job.self)
            #expect(try await !store.compute.place(jobID: second.id, nodeID: node, gpuDevices: [], at: Date()))
            #expect(try await store.compute.job(id: second.id)?.state == .queued)
        }
    }
}

/// A clock the test moves by hand.
final class ManualDate: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date
    init(_ start: Date) { value = start }
    var now: Date { lock.withLock { value } }
    func advance(_ seconds: TimeInterval) { lock.withLock { value = value.addingTimeInterval(seconds) } }
}
