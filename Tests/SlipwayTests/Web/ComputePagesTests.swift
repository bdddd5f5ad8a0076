import Foundation
import HTTPTypes
import HummingbirdTesting
import SlipwayDomain
import SlipwayStore
import Testing

@testable import SlipwayServer

/// The Jobs and Nodes pages: the sums and bars they draw, and the API's access rules applied to them.
@Suite("Compute pages")
struct ComputePagesTests {
    static func job(_ name: String, node: String?, state: JobState, cpu: Double, memory: Int64, gpus: [Int] = []) -> Job {
        Job(
            id: UUID(), namespace: "team", project: "p",
            spec: JobSpec(name: name, command: "true", resources: ComputeResources(cpu: cpu, memoryBytes: memory, gpu: gpus.count)),
            state: state, reason: "", attempts: 1, maxAttempts: 3, node: node, gpuDevices: gpus, exitCode: nil, createdBy: "admin",
            createdAt: Date(), startedAt: nil, finishedAt: nil)
    }

    @Test func allocationsSumOnlyTheJobsANodeHolds() {
        let totals = NodeAllocation.byNode([
            Self.job("a", node: "n1", state: .running, cpu: 1.5, memory: 1 << 30, gpus: [0]),
            Self.job("b", node: "n1", state: .scheduled, cpu: 0.5, memory: 512 << 20),
            Self.job("c", node: "n1", state: .succeeded, cpu: 8, memory: 8 << 30),
            Self.job("d", node: "n2", state: .preparing, cpu: 2, memory: 1 << 30, gpus: [0, 1]),
            Self.job("e", node: nil, state: .queued, cpu: 4, memory: 1 << 30),
        ])
        #expect(totals["n1"] == NodeAllocation(resources: ComputeResources(cpu: 2, memoryBytes: 1536 << 20, gpu: 1), jobs: 2))
        #expect(totals["n2"]?.resources.gpu == 2)
        #expect(totals.count == 2, "finished and queued jobs hold nothing")
    }

    @Test func metersWriteAllocatedAndUsedAgainstTheCapacity() {
        let cpu = NodesPage.Meter(
            label: "CPU", kind: "cpu", capacity: 4, allocated: 1.5, used: 0.25, format: ComputePages.number, unit: " cores")
        #expect(cpu.allocatedText == "1.5 / 4 cores allocated")
        #expect(cpu.usedText == "0.25 cores used")
        #expect((cpu.allocatedPercent, cpu.usedPercent) == ("37.5", "6.3"))
        let over = NodesPage.Meter(label: "GPU", kind: "gpu", capacity: 0, allocated: 0, used: 0, format: ComputePages.number, unit: " GPUs")
        #expect((over.allocatedPercent, over.allocatedText, over.hasCapacity) == ("0", "none on this node", false))
        #expect(NodesPage.Meter.percent(6, of: 4) == "100", "a bar never runs past its track")
        #expect(ComputePages.memory(1536 << 20) == "1.5 GiB")
        #expect(ComputePages.memory(256 << 20) == "256 MiB")
        #expect(ComputePages.duration(3725) == "1 h 2 min")
    }

    @Test func theQueueIsListedByPriorityThenAge() {
        var old = Self.job("old", node: nil, state: .queued, cpu: 1, memory: 1 << 20)
        old.createdAt = Date(timeIntervalSince1970: 10)
        var young = Self.job("young", node: nil, state: .queued, cpu: 1, memory: 1 << 20)
        young.createdAt = Date(timeIntervalSince1970: 20)
        var urgent = Self.job("urgent", node: nil, state: .queued, cpu: 1, memory: 1 << 20)
        urgent.createdAt = Date(timeIntervalSince1970: 30)
        urgent.spec.priority = 5
        #expect(ComputePages.queueOrder([young, urgent, old]).map(\.spec.name) == ["urgent", "old", "young"])
    }

    @Test(arguments: TestBackend.available)
    func pagesFollowTheAPIsAccessRules(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let (admin, _) = try await ComputeTests.registeredNode(api)
            let submitted = try await api.request(
                .post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin,
                body: JobSpec(name: "train", command: "echo <b>hi</b>", resources: ComputeResources(cpu: 1, memoryBytes: 64 << 20, gpu: 0)))
            #expect(submitted.status == .created, "\(submitted.text)")
            let id = try #require(submitted.json["id"] as? String).lowercased()
            let store = api.platform.store
            let node = try #require(try await store.compute.nodes().first)
            #expect(try await store.compute.place(jobID: try #require(UUID(uuidString: id)), nodeID: node.id, gpuDevices: [], at: Date()))

            _ = try await api.user("vic", adminToken: admin)
            _ = try await api.user("mallory", adminToken: admin)
            #expect(try await api.request(.put, "/api/v1/namespaces/team/members/vic", token: admin, json: #"{"role":"viewer"}"#).status == .ok)

            // A viewer sees the job and the nodes, but may neither cancel nor cordon.
            var viewer = WebSessionTests.Browser(api: api)
            try await viewer.signIn(as: "vic")
            let list = try await viewer.send(.get, "/jobs")
            #expect(list.status == .ok && list.text.contains(#"data-job="\#(id)""#))
            let page = try await viewer.send(.get, "/jobs/\(id)")
            #expect(page.status == .ok)
            #expect(page.text.contains("echo &lt;b&gt;hi&lt;/b&gt;"), "the command is escaped")
            #expect(!page.text.contains(#"id="cancel-job""#))
            #expect(page.text.contains(#"data-final="false""#) && page.text.contains("/static/job.js"))
            let csrf = try #require(WebSessionTests.Browser.csrf(in: page))
            #expect(try await viewer.send(.post, "/jobs/\(id)/cancel", form: ["_csrf": csrf]).status == .forbidden)
            #expect(try await store.compute.job(id: UUID(uuidString: id)!)?.state == .scheduled)
            let nodes = try await viewer.send(.get, "/nodes")
            #expect(nodes.status == .ok && nodes.text.contains("1 / 4 cores allocated") && nodes.text.contains("1 job placed"))
            #expect(!nodes.text.contains("/cordon"))
            #expect(try await viewer.send(.post, "/nodes/n1/cordon", form: ["_csrf": csrf]).status == .forbidden)

            // Someone outside the namespace sees nothing of its jobs.
            var outsider = WebSessionTests.Browser(api: api)
            try await outsider.signIn(as: "mallory")
            #expect(try await !outsider.send(.get, "/jobs").text.contains(id))
            #expect(try await outsider.send(.get, "/jobs/\(id)").status == .notFound)
            #expect(try await outsider.send(.get, "/jobs?state=sleeping").status == .badRequest)

            // The administrator cancels and cordons, with the form's CSRF token only.
            var owner = WebSessionTests.Browser(api: api)
            _ = try await owner.signIn()
            let ownerPage = try await owner.send(.get, "/jobs/\(id)")
            #expect(ownerPage.text.contains(#"id="cancel-job""#))
            let token = try #require(WebSessionTests.Browser.csrf(in: ownerPage))
            #expect(try await owner.send(.post, "/jobs/\(id)/cancel", form: ["_csrf": "wrong"]).status == .forbidden)
            let cancelled = try await owner.send(.post, "/jobs/\(id)/cancel", form: ["_csrf": token])
            #expect(cancelled.status == .seeOther && cancelled.headers[.location] == "/jobs/\(id)")
            #expect(try await store.compute.job(id: UUID(uuidString: id)!)?.state == .cancelled)
            #expect(try await owner.send(.get, "/jobs/\(id)").text.contains(#"data-final="true""#))
            #expect(try await owner.send(.post, "/nodes/n1/cordon", form: ["_csrf": token]).status == .seeOther)
            #expect(try await store.compute.node(named: "n1")?.state == .cordoned)
            #expect(try await owner.send(.post, "/nodes/nope/cordon", form: ["_csrf": token]).status == .notFound)
        }
    }
}

extension WebSessionTests.Browser {
    /// Signs in as `username`, whose password ``APIClient/user(_:adminToken:)`` set.
    mutating func signIn(as username: String) async throws {
        let page = try await send(.get, "/login")
        let csrf = try #require(Self.csrf(in: page))
        let response = try await send(.post, "/login", form: ["_csrf": csrf, "username": username, "password": "password-\(username)", "next": ""])
        #expect(response.status == .seeOther, "signing in as \(username) failed")
    }
}
