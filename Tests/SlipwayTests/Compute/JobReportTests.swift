import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SlipwayClient
import SlipwayDomain
import SlipwayStore
import Synchronization
import Testing

@testable import SlipwayAgent
@testable import SlipwayServer

/// Jobs never stay stuck because a report went missing: the agent retries its reports until the server takes or
/// refuses them, the server accepts a direct jump to a final state and a repeated report, and a heartbeat that no
/// longer lists a preparing or running job sends it back to the queue.
@Suite("Job reports")
struct JobReportTests {
    /// Records the waits it is asked for and returns at once.
    final class Waits: Sendable {
        let values = Mutex<[Duration]>([])
        var sleep: @Sendable (Duration) async throws -> Void { { [self] duration in self.values.withLock { $0.append(duration) } } }
    }

    @Test func aReportIsRetriedWithGrowingWaitsUntilTheServerTakesIt() async {
        let tries = Mutex(0)
        let waits = Waits()
        let delivery = StateReportDelivery(
            send: { _ in
                let attempt = tries.withLock { count -> Int in
                    count += 1
                    return count
                }
                switch attempt {
                case 1: throw APIClientError(status: 0, code: "connection_failed", message: "could not reach the server")
                case 2: throw APIClientError(status: 503, code: "http_error", message: "unavailable")
                case 3: throw APIClientError(status: 429, code: "http_error", message: "slow down")
                default: return
                }
            }, sleep: waits.sleep)
        let outcome = await delivery.deliver(JobStateReport(attempt: 1, state: .succeeded, exitCode: 0))
        #expect(outcome == .accepted(failures: 3))
        #expect(tries.withLock { $0 } == 4)
        #expect(waits.values.withLock { $0 } == [.milliseconds(500), .seconds(1), .seconds(2)])
        #expect(StateReportDelivery.backoff(afterFailures: 20) == .seconds(30), "the wait stops growing at 30 s")
    }

    @Test func aReportTheServerRefusesForGoodIsNotRetried() async {
        let tries = Mutex(0)
        let waits = Waits()
        let delivery = StateReportDelivery(
            send: { _ in
                tries.withLock { $0 += 1 }
                throw APIClientError(status: 409, code: "stale_report", message: "no longer this node's attempt")
            }, sleep: waits.sleep)
        let outcome = await delivery.deliver(JobStateReport(attempt: 1, state: .running))
        #expect(outcome == .refused(status: 409, code: "stale_report", message: "no longer this node's attempt"))
        #expect(tries.withLock { $0 } == 1)
        #expect(waits.values.withLock { $0 }.isEmpty)

        // A cancelled delivery gives up instead of retrying forever.
        let failing = StateReportDelivery(send: { _ in throw APIClientError(status: 0, code: "connection_failed", message: "down") })
        let task = Task { await failing.deliver(JobStateReport(attempt: 1, state: .running)) }
        task.cancel()
        #expect(await task.value == StateReportDelivery.Outcome.abandoned)
    }

    @Test(arguments: TestBackend.available)
    func theServerTakesAFinalStateDirectlyAndTheSameReportTwice(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let (admin, agent) = try await ComputeTests.registeredNode(api)
            let id = try await api.request(.post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: ComputeTests.spec("a"))
                .decode(Job.self).id
            let scheduler = SchedulingService(store: api.platform.store, logger: Logger(label: "test"), now: { Date() }, lostAfter: 30)
            #expect(try await scheduler.tick().count == 1)
            let state = "/api/v1/agents/jobs/\(id.uuidString)/state"
            // The preparing and running reports were superseded: the job goes from scheduled to succeeded.
            let done = try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .succeeded, exitCode: 0))
            #expect(done.status == .ok, "\(done.text)")
            // The agent did not get the answer and sends it again: accepted, nothing recorded twice.
            let again = try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .succeeded, exitCode: 0))
            #expect(again.status == .ok, "\(again.text)")
            #expect(try await api.platform.store.compute.events(jobID: id).map(\.state) == [.queued, .scheduled, .succeeded])
            // Another state after the end is still refused.
            let late = try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .failed))
            #expect(late.errorCode == "stale_report")
        }
    }

    @Test(arguments: TestBackend.available)
    func aRunningJobItsAgentNoLongerListsGoesBackToTheQueue(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestPlatform.withAPI(backend, clock: clock) { api in
            let (admin, agent) = try await ComputeTests.registeredNode(api)
            let jobs = "/api/v1/namespaces/team/projects/flowers/jobs"
            let lostJob = try await api.request(.post, jobs, token: admin, body: ComputeTests.spec("lost")).decode(Job.self).id
            let scheduler = SchedulingService(store: api.platform.store, logger: Logger(label: "test"), now: clock.now, lostAfter: 30)
            #expect(try await scheduler.tick().count == 1)
            func beat(_ running: [UUID]) async throws -> AgentInstructions {
                try await api.request(
                    .post, "/api/v1/agents/heartbeat", token: agent,
                    body: AgentHeartbeat(usage: .zero, running: running.map { .init(jobId: $0, attempt: 1) })
                ).decode(AgentInstructions.self)
            }
            #expect(try await beat([]).start.map(\.jobId) == [lostJob])
            let state = "/api/v1/agents/jobs/\(lostJob.uuidString)/state"
            #expect(try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .running)).status == .ok)

            // A second job is handed out but not started yet: the agent's silence about it is no loss.
            let waiting = try await api.request(.post, jobs, token: admin, body: ComputeTests.spec("waiting")).decode(Job.self).id
            #expect(try await scheduler.tick().count == 1)

            // Right after the report the agent's list may not show the job yet: nothing changes.
            _ = try await beat([])
            #expect(try await api.platform.store.compute.job(id: lostJob)?.state == .running)

            // Some seconds later the agent still does not list it (its final report was lost): re-queued.
            clock.advance(by: 10)
            let instructions = try await beat([])
            let requeued = try #require(try await api.platform.store.compute.job(id: lostJob))
            #expect(requeued.state == .queued)
            #expect(requeued.reason.contains("no longer runs attempt 1"), "\(requeued.reason)")
            let events = try await api.platform.store.compute.events(jobID: lostJob)
            #expect(events.map(\.state) == [.queued, .scheduled, .running, .queued])
            #expect(
                try await api.request(.get, "/api/v1/nodes", token: admin).items.first?["placed_jobs"] as? Int == 1, "only the waiting job holds room"
            )
            // The scheduled job is handed out again rather than re-queued, and the re-queued one is placed again.
            #expect(instructions.start.map(\.jobId).contains(waiting))
            #expect(try await api.platform.store.compute.job(id: waiting)?.state == .scheduled)
            #expect(try await scheduler.tick().map(\.jobID) == [lostJob.uuidString])
            #expect(try await api.platform.store.compute.job(id: lostJob)?.attempts == 2)
        }
    }

    final class ReportCounter: Sendable {
        let value = Mutex(0)
    }

    /// Answers the first report with 503 before the server sees it, and the second with 502 after the server
    /// applied it (the answer is lost); everything else reaches the server's routes.
    struct FlakyReports<Inner: HTTPResponder>: HTTPResponder where Inner.Context == AppRequestContext {
        let inner: Inner
        let reports: ReportCounter

        func respond(to request: Request, context: AppRequestContext) async throws -> Response {
            guard request.method == .post, request.uri.path.hasSuffix("/state") else { return try await inner.respond(to: request, context: context) }
            let count = reports.value.withLock { count -> Int in
                count += 1
                return count
            }
            if count == 1 { return Response(status: .serviceUnavailable) }
            let response = try await inner.respond(to: request, context: context)
            return count == 2 ? Response(status: .badGateway) : response
        }
    }

    /// Runs `spec` on a real ``Agent`` in this process, talking HTTP to a live server whose responder is `wrap`ped
    /// around the platform's router, on a node with `gpus`. - Returns: the job as it ended and its log.
    static func runOnLiveAgent<Wrapped: HTTPResponder>(
        _ spec: JobSpec, gpus: [GPUDevice] = [], wrap: @escaping @Sendable (RouterResponder<AppRequestContext>) -> Wrapped
    ) async throws -> (job: Job, log: String, events: [JobState]) where Wrapped.Context == AppRequestContext {
        try await TestDatabases.withFreshDatabase(.sqlite) { database, directory in
            let platform = try await Platform.open(TestPlatform.configuration(database, directory: directory), logger: TestDatabases.logger)
            let app = Application(responder: wrap(try await buildRouter(platform).buildResponder()), logger: TestDatabases.logger)
            let result = try await app.test(.live) { client -> (job: Job, log: String, events: [JobState]) in
                let port = try #require(client.port)
                let api = APIClient(client: client, platform: platform)
                let (admin, agentToken) = try await ComputeTests.registeredNode(api, gpus: gpus)
                let job = try await api.request(.post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: spec)
                    .decode(Job.self)
                let scheduler = SchedulingService(store: platform.store, logger: Logger(label: "test"), now: { Date() }, lostAfter: 30)
                #expect(try await scheduler.tick().count == 1)
                let agent = Agent(
                    client: SlipwayAPIClient(baseURL: "http://127.0.0.1:\(port)", token: agentToken),
                    workDirectory: directory.appendingPathComponent("agent"), heartbeatSeconds: 0.2, logger: Logger(label: "agent"))
                let running = Task { await agent.run() }
                var final: Job?
                for _ in 0..<300 {
                    if let current = try await platform.store.compute.job(id: job.id), current.state.isFinal {
                        final = current
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                // The agent sends the last of the log before its final report.
                running.cancel()
                await running.value
                return (
                    try #require(final, "the job ended on the server"), try await platform.store.compute.log(jobID: job.id, from: 0).text,
                    try await platform.store.compute.events(jobID: job.id).map(\.state)
                )
            }
            try await platform.close()
            return result
        }
    }

    @Test func anAgentKeepsReportingThroughFailuresUntilTheJobEnds() async throws {
        let counter = ReportCounter()
        var spec = ComputeTests.spec("flaky")
        spec.command = "sleep 3; echo reported"
        let (job, log, states) = try await Self.runOnLiveAgent(spec) { FlakyReports(inner: $0, reports: counter) }
        #expect(job.state == .succeeded, "\(job.reason)")
        #expect(log.contains("reported"))
        #expect(counter.value.withLock { $0 } >= 3, "the lost reports were sent again")
        #expect(states == [.queued, .scheduled, .running, .succeeded], "a report applied twice is recorded once: \(states)")
    }

    @Test func aGPUJobSeesItsDevicesInNvidiaSMIsOrder() async throws {
        let gpus = (0..<2).map { GPUDevice(index: $0, model: "NVIDIA H100 80GB HBM3", memoryBytes: 81559 << 20) }
        var spec = ComputeTests.spec("cuda", gpu: 1)
        spec.command = #"echo "devices=$CUDA_VISIBLE_DEVICES order=$CUDA_DEVICE_ORDER""#
        let (job, log, _) = try await Self.runOnLiveAgent(spec, gpus: gpus) { $0 }
        #expect(job.state == .succeeded, "\(job.reason)")
        #expect(job.gpuDevices == [0])
        #expect(log.contains("devices=0 order=PCI_BUS_ID"), "\(log)")
    }
}
