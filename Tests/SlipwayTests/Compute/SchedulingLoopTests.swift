import Foundation
import HTTPTypes
import Logging
import SlipwayDomain
import SlipwayScheduling
import SlipwayStore
import Testing

@testable import SlipwayServer

/// The server's scheduling loop over time: what the policies promise holds when the jobs come from the API and
/// the clock moves.
@Suite("Scheduling loop")
struct SchedulingLoopTests {
    @Test(arguments: TestBackend.available)
    func aLargeJobPastTheStarvationBoundGetsTheNodeBeforeLaterSmallJobsEvenWithoutRuntimes(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestPlatform.withAPI(backend, clock: clock) { api in
            let (admin, agent) = try await ComputeTests.registeredNode(api)  // 4 CPUs
            let jobs = "/api/v1/namespaces/team/projects/flowers/jobs"
            let store = api.platform.store.compute
            let scheduler = SchedulingService(
                store: api.platform.store, logger: Logger(label: "test"), now: clock.now,
                policy: DominantResourceFairnessPolicy(options: SchedulingOptions(starvationBound: 600)), lostAfter: 1e9)
            func submit(_ name: String, cpu: Double) async throws -> UUID {
                // No maximum runtime: the scheduler cannot know when any of these jobs ends.
                try await api.request(.post, jobs, token: admin, body: ComputeTests.spec(name, cpu: cpu)).decode(Job.self).id
            }
            func report(_ id: UUID, _ state: JobState) async throws {
                let attempt = try #require(try await store.job(id: id)).attempts
                let answer = try await api.request(
                    .post, "/api/v1/agents/jobs/\(id.uuidString)/state", token: agent, body: JobStateReport(attempt: attempt, state: state))
                #expect(answer.status == .ok, "\(answer.text)")
            }

            // Four 1-CPU jobs fill the node.
            var small: [UUID] = []
            for index in 0..<4 { small.append(try await submit("small-\(index)", cpu: 1)) }
            #expect(try await scheduler.tick().count == 4)
            for id in small { try await report(id, .running) }
            clock.advance(by: 1)
            let big = try await submit("big", cpu: 4)
            clock.advance(by: 60)
            var later: [UUID] = []
            for index in 0..<3 {
                later.append(try await submit("later-\(index)", cpu: 1))
                clock.advance(by: 1)
            }

            // Before the bound, a CPU that comes free goes to a later small job (fair share, no reservation yet).
            try await report(small[0], .succeeded)
            #expect(try await scheduler.tick().map(\.jobID) == [later[0].uuidString])
            try await report(later[0], .running)

            // Past the bound (the later jobs are not yet) the big job holds the node: CPUs that come free are kept for it.
            clock.advance(by: 587)
            for id in small[1...] {
                try await report(id, .succeeded)
                #expect(try await scheduler.tick().isEmpty, "no later small job takes the room held for the big one")
            }
            let held = try #require(try await store.job(id: big))
            #expect(held.reason.contains("past the starvation bound"), "\(held.reason)")
            #expect(try #require(try await store.job(id: later[1])).reason.contains("held for job"))

            // When the last job on the node ends, the big job starts there, ahead of the small ones.
            clock.advance(by: 30)
            try await report(later[0], .succeeded)
            #expect(try await scheduler.tick().map(\.jobID) == [big.uuidString])
            #expect(try await store.job(id: big)?.state == .scheduled)
            for id in later[1...] { #expect(try await store.job(id: id)?.state == .queued) }
        }
    }
}
