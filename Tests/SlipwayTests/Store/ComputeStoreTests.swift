import Foundation
import SlipwayDomain
import SlipwayStore
import Testing

/// The compute repository's guarantees when several servers share one database: one leader at a time, and no
/// node given more than it has, however the calls interleave. Run on SQLite and PostgreSQL, each "server" with
/// its own connection pool.
@Suite("Compute store contract")
struct ComputeStoreTests {
    /// Two pools on one fresh, migrated database: what two servers hold.
    static func withTwoServers(
        _ backend: TestBackend, _ body: (SQLComputeRepository, SQLComputeRepository, MetadataStore) async throws -> Void
    ) async throws {
        try await TestDatabases.withFreshDatabase(backend) { configuration, _ in
            let first = try await Database.open(configuration, logger: TestDatabases.logger)
            let second = try await Database.open(configuration, logger: TestDatabases.logger)
            do {
                try await Migrator(database: first, logger: TestDatabases.logger).migrate()
                try await body(SQLComputeRepository(database: first), SQLComputeRepository(database: second), MetadataStore.sql(first))
            } catch {
                try? await first.close()
                try? await second.close()
                throw error
            }
            try await first.close()
            try await second.close()
        }
    }

    @Test(arguments: TestBackend.available)
    func twoServersRacingForAnExpiredLeaseNeverBothWin(backend: TestBackend) async throws {
        try await Self.withTwoServers(backend) { one, two, _ in
            let start = Date(timeIntervalSince1970: 1_000_000)
            for round in 0..<25 {
                let name = "lease-\(round)"
                #expect(try await one.acquireLease(name, holder: "old", at: start, ttl: 10))
                // The old holder's lease has expired; both servers try to take it at the same moment, several times.
                let later = start.addingTimeInterval(60)
                let wins = try await withThrowingTaskGroup(of: String?.self) { group in
                    for (repository, holder) in [(one, "a"), (two, "b"), (one, "a"), (two, "b")] {
                        group.addTask { try await repository.acquireLease(name, holder: holder, at: later, ttl: 10) ? holder : nil }
                    }
                    return try await group.reduce(into: Set<String>()) { if let holder = $1 { $0.insert(holder) } }
                }
                #expect(wins.count == 1, "round \(round): \(wins.sorted()) both became leader")
            }
            // The holder renews; the other cannot take a live lease, and can once it expired.
            #expect(try await one.acquireLease("solo", holder: "a", at: start, ttl: 10))
            #expect(try await one.acquireLease("solo", holder: "a", at: start.addingTimeInterval(5), ttl: 10))
            #expect(try await !two.acquireLease("solo", holder: "b", at: start.addingTimeInterval(14), ttl: 10))
            #expect(try await two.acquireLease("solo", holder: "b", at: start.addingTimeInterval(16), ttl: 10))
            #expect(try await !one.acquireLease("solo", holder: "a", at: start.addingTimeInterval(17), ttl: 10))
        }
    }

    @Test(arguments: TestBackend.available)
    func placementsFromTwoServersNeverOvercommitANode(backend: TestBackend) async throws {
        try await Self.withTwoServers(backend) { one, two, store in
            let owner = try await store.users.create(
                NewUser(username: try ResourceName(validating: "owner")), passwordHash: "h", by: .system)
            let namespace = try await store.namespaces.create(
                name: try ResourceName(validating: "team"), displayName: nil, description: "", owner: owner.id, by: .system)
            let project = try await store.projects.create(in: namespace, name: try ResourceName(validating: "p"), description: "", by: .system)
            let node = try await one.register(
                ComputeNode(
                    id: UUID(), name: "gpu-1", capacity: ComputeResources(cpu: 4, memoryBytes: 8 << 30, gpu: 2),
                    gpus: [GPUDevice(index: 0, model: "A100", memoryBytes: 80 << 30), GPUDevice(index: 1, model: "A100", memoryBytes: 80 << 30)],
                    labels: [:], state: .ready, usage: .zero, registeredAt: Date(), lastHeartbeatAt: Date()),
                agentTokenHash: "agent", at: Date())
            func job(_ name: String, cpu: Double, gpu: Int = 0) async throws -> UUID {
                let job = ComputeTests.queued(ComputeTests.spec(name, cpu: cpu, gpu: gpu))
                try await one.createJob(job, namespaceID: namespace.id, projectID: project.id, by: .system)
                return job.id
            }

            // Each server decided from the same snapshot that its job fits the node's 4 CPUs: only one lands.
            for round in 0..<10 {
                let (a, b) = (try await job("a\(round)", cpu: 3), try await job("b\(round)", cpu: 3))
                async let placedA = one.place(jobID: a, nodeID: node.id, gpuDevices: [], at: Date())
                async let placedB = two.place(jobID: b, nodeID: node.id, gpuDevices: [], at: Date())
                let placed = [try await placedA, try await placedB]
                #expect(placed.filter { $0 }.count == 1, "round \(round): \(placed)")
                // Free the node again: the placed job ends, the other stays queued.
                for id in [a, b] where try await one.job(id: id)?.state == .scheduled {
                    _ = try await one.report(jobID: id, nodeID: node.id, JobStateReport(attempt: 1, state: .failed), at: Date())
                }
                for id in [a, b] { #expect(try await one.job(id: id)?.state != .scheduled) }
            }

            // GPU devices are handed out once, and only devices the node has.
            let first = try await job("gpu-a", cpu: 1, gpu: 1)
            let second = try await job("gpu-b", cpu: 1, gpu: 1)
            #expect(try await one.place(jobID: first, nodeID: node.id, gpuDevices: [0], at: Date()))
            #expect(try await !two.place(jobID: second, nodeID: node.id, gpuDevices: [0], at: Date()), "device 0 is taken")
            #expect(try await !two.place(jobID: second, nodeID: node.id, gpuDevices: [7], at: Date()), "the node has no device 7")
            #expect(try await two.place(jobID: second, nodeID: node.id, gpuDevices: [1], at: Date()))
            #expect(try await one.job(id: second)?.gpuDevices == [1])

            // A cordoned node takes nothing, whatever a stale snapshot said.
            _ = try await one.setState(ofNode: "gpu-1", .cordoned, by: .system)
            let third = try await job("late", cpu: 1)
            #expect(try await !two.place(jobID: third, nodeID: node.id, gpuDevices: [], at: Date()))
            #expect(try await one.job(id: third)?.state == .queued)
        }
    }
}
