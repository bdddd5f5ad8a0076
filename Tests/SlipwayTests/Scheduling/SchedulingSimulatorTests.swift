import SlipwayScheduling
import Synchronization
import Testing

/// The trace-driven simulator: figures checked by hand on tiny traces, starvation over time, the CSV
/// format and its errors, the cluster description, and the synthetic trace generator.
@Suite("Scheduling simulator")
struct SchedulingSimulatorTests {
    /// One node of 8 cores, 32 GiB and 2 GPUs. `a1` holds both GPUs from 0 to 100 while `a2` and `b1` wait
    /// (two namespaces waiting: namespace a holds everything, b nothing — Jain's index 0.5); then both run
    /// from 100 to 200.
    static let tinyTrace = """
        job_id,submit_time,duration,cpu,memory_gib,gpu,namespace
        a1,0,100,1,4,2,a
        a2,0,100,1,4,1,a
        b1,0,100,1,4,1,b
        """

    @Test(arguments: SchedulingPolicyName.allCases)
    func figuresOfATinyTraceMatchTheHandComputedOnes(policy: SchedulingPolicyName) throws {
        let simulator = Simulator(cluster: try ClusterShape(parsing: "1x8/32/2"), policy: policy.makePolicy())
        let report = try simulator.run(try Trace(csv: Self.tinyTrace))
        #expect(report.jobs == 3)
        #expect(report.completed == 3)
        #expect(report.neverFit == 0)
        #expect(abs(report.averageCompletionTime - 500.0 / 3) < 1e-9)  // (100 + 200 + 200) / 3
        #expect(report.p95CompletionTime == 200)
        #expect(report.makespan == 200)
        #expect(report.utilization.gpu == 1)  // (2·100 + 1·100 + 1·100) / (2 · 200)
        #expect(report.utilization.cpu == 0.1875)  // (1·100 · 3) / (8 · 200)
        #expect(report.utilization.memory == 0.1875)  // (4·100 · 3) / (32 · 200)
        #expect(report.fairness == 0.5)
        #expect(report.contendedTime == 100)
        #expect(report.longestWait == 100)
        #expect(report.longestWaitJobID == "a2")
        #expect(report.averageWait == 200.0 / 3)
        #expect(report.namespaces.map(\.namespace) == ["a", "b"])
        #expect(report.namespaces.map(\.averageCompletionTime) == [150, 200])
    }

    @Test func jobsNeedingMoreThanTheClusterHasAreCountedAndLeftOut() throws {
        let trace = try Trace(
            csv: """
                submit_time,duration,cpu,memory_gib,gpu,namespace
                0,10,1,1,1,a
                0,10,1,1,5,a
                0,10,100,1,0,a
                0,10,2,2,4,a
                """)
        // Two nodes of 2 GPUs: the 4-GPU job runs as a gang of two 2-GPU tasks once the 1-GPU job ends; the
        // 5-GPU job (a gang of five 1-GPU tasks) needs more GPUs than there are, the 100-core job a bigger node.
        let report = try Simulator(cluster: try ClusterShape(parsing: "2x8/32/2"), policy: DominantResourceFairnessPolicy()).run(trace)
        #expect(report.neverFit == 2)
        #expect(report.completed == 2)
        #expect(report.makespan == 20)
    }

    @Test func reservationsKeepAStreamOfSmallJobsFromStarvingALargeOne() throws {
        // A 1-GPU job of 600 s arrives every 75 s on one 8-GPU node, keeping it nearly full; one 8-GPU job
        // arrives at 10 s.
        var jobs = [TraceJob(id: "large", submitTime: 10, duration: 600, resources: Resources(cpu: 8, memoryGiB: 64, gpu: 8), namespace: "big")]
        for index in 0..<300 {
            jobs.append(
                TraceJob(
                    id: "small-\(index)", submitTime: Double(index) * 75, duration: 600, resources: Resources(cpu: 1, memoryGiB: 8, gpu: 1),
                    namespace: "stream"))
        }
        let cluster = try ClusterShape(parsing: "1x64/512/8")
        func largeJobWait(bound: Double) throws -> Double {
            let policy = DominantResourceFairnessPolicy(options: SchedulingOptions(starvationBound: bound))
            let report = try Simulator(cluster: cluster, policy: policy).run(Trace(jobs: jobs))
            #expect(report.completed == jobs.count)
            let large = try #require(report.namespaces.first { $0.namespace == "big" })
            return large.longestWait
        }
        let protected = try largeJobWait(bound: 1800)
        let unprotected = try largeJobWait(bound: 1_000_000)
        #expect(protected >= 1800 - 10)
        #expect(protected <= 1800 + 75 + 600)  // reserved at the first event past the bound, started once the small jobs running then ended
        #expect(unprotected > 20_000)  // without a reservation it waits for the stream to end
    }

    @Test func reservedJobsStartNoLaterThanFirstPromisedWhenEstimatesAreExact() throws {
        let log = ReservationLog()
        let trace = SyntheticTraceGenerator(jobCount: 1500, seed: 5, load: 1.3).generate()
        let report = try Simulator(policy: RecordingPolicy(inner: DominantResourceFairnessPolicy(), log: log)).run(trace)
        #expect(report.completed + report.neverFit == trace.jobs.count)
        let promises = log.promises.withLock { $0 }
        let starts = log.starts.withLock { $0 }
        #expect(promises.count > 10)
        for (job, promisedStart) in promises {
            let started = try #require(starts[job])
            #expect(started <= promisedStart, "job \(job) was promised \(promisedStart) and started at \(started)")
        }
    }

    @Test func jainIndexRangesFromOneOverNToOne() {
        #expect(jainIndex([1, 1, 1]) == 1)
        #expect(jainIndex([1, 0]) == 0.5)
        #expect(abs(jainIndex([1, 2, 3]) - 36.0 / 42) < 1e-12)
        #expect(jainIndex([]) == 1)
    }

    // MARK: Trace format

    @Test func readsColumnsInAnyOrderWithBytesCommentsAndQuotes() throws {
        let trace = try Trace(
            csv: """
                # a comment
                namespace,gpu,memory_bytes,cpu,duration,submit_time,extra

                "vision",2,1073741824,0.5,30,5,x\r
                speech,0,0,1,1.5,0,y
                """)
        #expect(
            trace.jobs == [
                TraceJob(id: "job-1", submitTime: 5, duration: 30, resources: Resources(cpu: 0.5, memoryGiB: 1, gpu: 2), namespace: "vision"),
                TraceJob(id: "job-2", submitTime: 0, duration: 1.5, resources: Resources(cpu: 1, memoryBytes: 0, gpu: 0), namespace: "speech"),
            ])
    }

    @Test(
        arguments: [
            ("", nil, "the trace is empty"),
            ("submit_time,duration,cpu,memory_gib,namespace\n0,1,1,1,a", 1, "line 1: the header has no gpu column"),
            ("submit_time,duration,cpu,gpu,namespace\n", 1, "line 1: the header has no memory_gib (or memory_bytes) column"),
            ("submit_time,duration,cpu,memory_gib,gpu,namespace\n0,1,1,1,0,a\n0,1,abc,1,0,a", 3, "line 3: cpu 'abc' is not a number"),
            ("submit_time,duration,cpu,memory_gib,gpu,namespace\n0,-5,1,1,0,a", 2, "line 2: duration -5 must be more than 0"),
            ("submit_time,duration,cpu,memory_gib,gpu,namespace\n0,5,1,1,1.5,a", 2, "line 2: gpu 1.5 must be a whole number, 0 or more"),
            ("submit_time,duration,cpu,memory_gib,gpu,namespace\n\n0,5,1,1", 3, "line 3: 4 fields where the header has 6"),
            ("submit_time,duration,cpu,memory_gib,gpu,namespace\n0,5,1,1,0,", 2, "line 2: the namespace is empty"),
            ("job_id,submit_time,duration,cpu,memory_gib,gpu,namespace\nx,0,5,1,1,0,a\nx,1,5,1,1,0,a", 3, "line 3: job_id x appears twice"),
            ("submit_time,duration,cpu,memory_gib,gpu,namespace\nnan,5,1,1,0,a", 2, "line 2: submit_time 'nan' is not a number"),
        ] as [(String, Int?, String)])
    func badTracesAreRefusedWithTheLineAndTheProblem(csv: String, line: Int?, message: String) {
        let error = #expect(throws: TraceError.self) { try Trace(csv: csv) }
        #expect(error?.line == line)
        #expect(error?.description.hasPrefix(message) == true, "\(error?.description ?? "no error")")
    }

    @Test func clusterDescriptionsAreReadAndBadOnesExplained() throws {
        let shape = try ClusterShape(parsing: "2x8/32/2, 1*4/16.5/0")
        #expect(shape.nodeCount == 3)
        #expect(shape.capacity == Resources(cpu: 20, memoryGiB: 80.5, gpu: 4))
        #expect(shape.nodes().map(\.id) == ["node-1", "node-2", "node-3"])
        #expect(try ClusterShape(parsing: shape.description) == shape)
        for bad in ["", "2x8/32", "ax8/32/2", "2x8/32/-1", "0x8/32/2"] {
            let error = #expect(throws: SimulationError.self) { try ClusterShape(parsing: bad) }
            #expect(error?.description.contains("COUNTxCPU/MEMORY_GIB/GPU") == true)
        }
    }

    // MARK: Synthetic traces

    @Test func generatorIsDeterministicBySeedAndShapedLikeGPUClusterTraces() throws {
        let trace = SyntheticTraceGenerator(jobCount: 4000, seed: 42).generate()
        #expect(trace == SyntheticTraceGenerator(jobCount: 4000, seed: 42).generate())
        #expect(trace != SyntheticTraceGenerator(jobCount: 4000, seed: 43).generate())
        #expect(try Trace(csv: trace.csv) == trace)

        let gpuJobs = trace.jobs.filter { $0.resources.gpu > 0 }
        let cpuOnly = trace.jobs.count - gpuJobs.count
        #expect((300...700).contains(cpuOnly))  // about 12 %
        #expect(gpuJobs.filter { $0.resources.gpu == 1 }.count * 2 > gpuJobs.count)  // mostly 1 GPU
        #expect(gpuJobs.contains { $0.resources.gpu >= 16 })  // some large gangs
        let durations = trace.jobs.map(\.duration).sorted()
        #expect(durations[durations.count - 1] > 20 * durations[durations.count / 2])  // heavy tail
        let perNamespace = Dictionary(grouping: trace.jobs, by: \.namespace).mapValues(\.count)
        #expect(Set(perNamespace.keys) == ["vision", "language", "speech", "recsys"])
        #expect(perNamespace["vision"]! > 2 * perNamespace["recsys"]!)
        #expect(trace.jobs.map(\.submitTime) == trace.jobs.map(\.submitTime).sorted())
        #expect(Set(trace.jobs.map(\.id)).count == trace.jobs.count)
    }

    @Test func simulatingTheSameTraceTwiceGivesTheSameReport() throws {
        let trace = SyntheticTraceGenerator(jobCount: 300, seed: 5, load: 1.5).generate()
        for policy in SchedulingPolicyName.allCases {
            let simulator = Simulator(policy: policy.makePolicy())
            let first = try simulator.run(trace)
            #expect(first.completed == 300)
            #expect(first == (try simulator.run(trace)))
        }
    }
}

/// What a policy promised and when jobs started, recorded across a replay.
final class ReservationLog: Sendable {
    /// Each reserved job's first expected start.
    let promises = Mutex<[String: Double]>([:])
    let starts = Mutex<[String: Double]>([:])
}

/// Passes decisions through unchanged, noting reservations and starts in `log`.
struct RecordingPolicy: SchedulingPolicy {
    let inner: any SchedulingPolicy
    let log: ReservationLog

    var name: SchedulingPolicyName { inner.name }

    func schedule(_ snapshot: SchedulingSnapshot) -> SchedulingDecision {
        let decision = inner.schedule(snapshot)
        log.promises.withLock { promises in
            for reservation in decision.reservations where promises[reservation.jobID] == nil {
                promises[reservation.jobID] = reservation.expectedStart
            }
        }
        log.starts.withLock { starts in
            for placement in decision.placements { starts[placement.jobID] = snapshot.now }
        }
        return decision
    }
}
