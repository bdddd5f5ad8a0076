import ArgumentParser
import Foundation
import SlipwayScheduling

/// `slipway simulate …`: replays job traces through the scheduling policies on a simulated cluster, makes
/// synthetic traces, and times one scheduling decision. Runs locally; needs no server.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a job trace through a scheduling policy on a simulated cluster.",
        discussion: """
            The trace is CSV with a header: submit_time,duration,cpu,memory_gib,gpu,namespace (seconds, cores, GiB,
            GPUs; memory_bytes may replace memory_gib; job_id is optional). See docs/scheduling.md.
            """,
        subcommands: [Replay.self, Generate.self, BenchDecision.self],
        defaultSubcommand: Replay.self)

    /// `slipway simulate [run] --trace FILE --policy NAME`.
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Replay a trace and print completion times, makespan, utilization, fairness and waiting.")

        @Option(help: "The trace file (CSV).")
        var trace: String

        @Option(help: "The scheduling policy: fifo or drf.")
        var policy: String = "drf"

        @Option(help: "The cluster: COUNTxCPU/MEMORY_GIB/GPU groups separated by commas (default \(ClusterShape.standard)).")
        var nodes: String?

        @Option(help: "Seconds a job may wait before it gets a reservation (drf).")
        var starvationBound: Double = 3600

        @Option(help: "Most reservations held at once (drf).")
        var maxReservations: Int = 4

        @Option(help: "A namespace's fair-share weight, NAME=WEIGHT (repeatable; default 1).")
        var weight: [String] = []

        @Option(help: "A namespace's GPU quota, NAME=GPUS (repeatable; default none).")
        var gpuQuota: [String] = []

        @Option(help: "Runtime estimates are the true duration times this factor; 0 gives jobs no estimate.")
        var estimateFactor: Double = 1

        @Option(name: [.short, .long], help: "Output format: table or json.")
        var output: OutputFormat = .table

        func validate() throws {
            do { _ = try SchedulingPolicyName(parsing: policy) } catch { throw ValidationError(String(describing: error)) }
            guard starvationBound >= 0, maxReservations >= 0, estimateFactor >= 0 else {
                throw ValidationError("--starvation-bound, --max-reservations and --estimate-factor must be 0 or more")
            }
        }

        func run() throws {
            try reportingErrors {
                let cluster = try nodes.map(ClusterShape.init(parsing:)) ?? .standard
                let trace = try readTrace(trace)
                var namespaces: [String: NamespaceShare] = [:]
                for (name, value) in try pairs(weight, option: "--weight") {
                    guard let number = Double(value), number > 0 else {
                        throw CLIError("--weight \(name)=\(value): the weight must be a number above 0")
                    }
                    namespaces[name, default: .standard].weight = number
                }
                for (name, value) in try pairs(gpuQuota, option: "--gpu-quota") {
                    guard let number = Int(value), number >= 0 else {
                        throw CLIError("--gpu-quota \(name)=\(value): the quota must be a whole number")
                    }
                    namespaces[name, default: .standard].quota.gpu = number
                }
                let policy = try SchedulingPolicyName(parsing: policy).makePolicy(
                    SchedulingOptions(starvationBound: starvationBound, maximumReservations: maxReservations))
                let simulator = Simulator(
                    cluster: cluster, policy: policy,
                    options: SimulationOptions(namespaces: namespaces, runtimeEstimateFactor: estimateFactor > 0 ? estimateFactor : nil))
                let clock = ContinuousClock()
                let started = clock.now
                let report = try simulator.run(trace)
                let seconds = (clock.now - started).seconds
                let throughput = seconds > 0 ? Double(report.jobs) / seconds : 0
                switch output {
                case .json:
                    try printJSON(SimulationOutput(report: report, wallSeconds: seconds, jobsPerSecond: throughput))
                case .table:
                    print(render(report, seconds: seconds, throughput: throughput))
                }
            }
        }

        private func pairs(_ values: [String], option: String) throws -> [(String, String)] {
            try values.map { text in
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw CLIError("\(option) takes NAME=VALUE, not '\(text)'") }
                return (parts[0], parts[1])
            }
        }

        private func render(_ report: SimulationReport, seconds: Double, throughput: Double) -> String {
            func percent(_ value: Double?) -> String { value.map { String(format: "%.1f %%", $0 * 100) } ?? "-" }
            var rows: [[String]] = [
                ["average job completion time", timeText(report.averageCompletionTime)],
                ["p95 job completion time", timeText(report.p95CompletionTime)],
                ["makespan", timeText(report.makespan)],
                ["average wait", timeText(report.averageWait)],
                ["longest wait", timeText(report.longestWait) + (report.longestWaitJobID.map { " (\($0))" } ?? "")],
                ["utilization: cpu", percent(report.utilization.cpu)],
                ["utilization: memory", percent(report.utilization.memory)],
                ["utilization: gpu", percent(report.utilization.gpu)],
                [
                    "fairness (Jain's index)",
                    report.fairness.map { String(format: "%.3f", $0) + " over \(timeText(report.contendedTime)) with 2+ namespaces waiting" }
                        ?? "- (no two namespaces ever waited at once)",
                ],
                ["jobs that could never fit", String(report.neverFit)],
            ]
            if report.neverStarted > 0 { rows.append(["jobs that never started", String(report.neverStarted)]) }
            rows.append(["scheduling decisions", String(report.decisions)])
            rows.append(["simulated in", String(format: "%.2f s (%.0f jobs/s)", seconds, throughput)])
            let summary = Table(headers: ["FIGURE", "VALUE"], rows: rows).rendered
            let namespaces = Table(
                headers: ["NAMESPACE", "JOBS", "COMPLETED", "AVG JCT", "AVG WAIT", "LONGEST WAIT", "SLOWDOWN", "GPU-HOURS"],
                rows: report.namespaces.map {
                    [
                        $0.namespace, String($0.jobs), String($0.completed), timeText($0.averageCompletionTime), timeText($0.averageWait),
                        timeText($0.longestWait), String(format: "%.2f", $0.meanBoundedSlowdown), String(format: "%.1f", $0.gpuHours),
                    ]
                }
            ).rendered
            return """
                Policy \(report.policy) on \(report.cluster): \(report.jobs) jobs, \(report.completed) completed

                \(summary)

                \(namespaces)
                """
        }
    }

    /// `slipway simulate generate --jobs N --seed S --out FILE`.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic trace shaped like published GPU-cluster traces (Philly, Helios, PAI).")

        @Option(help: "How many jobs.")
        var jobs: Int = 1000

        @Option(help: "The random seed: the same seed gives the same trace.")
        var seed: UInt64 = 1

        @Option(help: "Offered load relative to the cluster's capacity (1 keeps it just busy; above 1 queues grow).")
        var load: Double = 1.0

        @Option(help: "The cluster the load is relative to: COUNTxCPU/MEMORY_GIB/GPU[,…] (default \(ClusterShape.standard)).")
        var nodes: String?

        @Option(help: "Where to write the CSV (standard output when omitted).")
        var out: String?

        func validate() throws {
            guard jobs > 0 else { throw ValidationError("--jobs must be at least 1") }
            guard load > 0, load.isFinite else { throw ValidationError("--load must be a number above 0") }
        }

        func run() throws {
            try reportingErrors {
                let cluster = try nodes.map(ClusterShape.init(parsing:)) ?? .standard
                let trace = SyntheticTraceGenerator(jobCount: jobs, seed: seed, load: load, cluster: cluster).generate()
                guard let out else {
                    print(trace.csv, terminator: "")
                    return
                }
                do {
                    try Data(trace.csv.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                } catch {
                    throw CLIError("cannot write \(out): \(error.localizedDescription)")
                }
                let span = trace.jobs.last.map(\.submitTime) ?? 0
                FileHandle.standardError.write(Data("wrote \(trace.jobs.count) jobs submitted over \(timeText(span)) to \(out)\n".utf8))
            }
        }
    }

    /// `slipway simulate bench-decision --jobs 10000 --nodes 1000`.
    struct BenchDecision: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-decision", abstract: "Time one scheduling decision on a busy cluster with a long queue (median of several runs).")

        @Option(help: "Queued jobs.")
        var jobs: Int = 10_000

        @Option(help: "Nodes.")
        var nodes: Int = 1000

        @Option(help: "The scheduling policy: fifo or drf.")
        var policy: String = "drf"

        @Option(help: "How many timed runs (after one untimed).")
        var runs: Int = 7

        @Option(help: "The random seed of the snapshot.")
        var seed: UInt64 = 1

        @Option(name: [.short, .long], help: "Output format: table or json.")
        var output: OutputFormat = .table

        func validate() throws {
            do { _ = try SchedulingPolicyName(parsing: policy) } catch { throw ValidationError(String(describing: error)) }
            guard jobs > 0, nodes > 0, runs > 0 else { throw ValidationError("--jobs, --nodes and --runs must be at least 1") }
        }

        func run() throws {
            let name = try SchedulingPolicyName(parsing: policy)
            let scheduler = name.makePolicy()
            let snapshot = DecisionBenchmark.snapshot(jobs: jobs, nodes: nodes, seed: seed)
            var decision = scheduler.schedule(snapshot)
            let clock = ContinuousClock()
            var times: [Double] = []
            for _ in 0..<runs {
                let started = clock.now
                decision = scheduler.schedule(snapshot)
                times.append((clock.now - started).seconds * 1000)
            }
            times.sort()
            let result = DecisionTiming(
                policy: name.rawValue, jobs: jobs, nodes: nodes, runs: runs, medianMilliseconds: times[times.count / 2],
                minimumMilliseconds: times[0], maximumMilliseconds: times[times.count - 1], placedJobs: decision.placedJobIDs.count,
                placedTasks: decision.placements.count, reservations: decision.reservations.count)
            switch output {
            case .json:
                try printJSON(result)
            case .table:
                print(
                    "One \(result.policy) decision, \(jobs) queued jobs on \(nodes) nodes: "
                        + String(
                            format: "median %.1f ms (min %.1f, max %.1f, %d runs); placed %d jobs (%d tasks), %d reservations",
                            result.medianMilliseconds, result.minimumMilliseconds, result.maximumMilliseconds, runs, result.placedJobs,
                            result.placedTasks, result.reservations))
            }
        }
    }
}

/// `slipway simulate --output json`: the report and how fast it was made.
private struct SimulationOutput: Encodable {
    var report: SimulationReport
    var wallSeconds: Double
    var jobsPerSecond: Double
}

/// `slipway simulate bench-decision --output json`.
private struct DecisionTiming: Encodable {
    var policy: String
    var jobs: Int
    var nodes: Int
    var runs: Int
    var medianMilliseconds: Double
    var minimumMilliseconds: Double
    var maximumMilliseconds: Double
    var placedJobs: Int
    var placedTasks: Int
    var reservations: Int
}

/// Reads and parses a trace file.
private func readTrace(_ path: String) throws -> Trace {
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw CLIError("cannot read the trace \(path): \(error.localizedDescription)")
    }
    do {
        return try Trace(csv: text)
    } catch let error as TraceError {
        throw CLIError("\(path), \(error)")
    }
}

/// Runs a simulation command body, turning its errors into one line on stderr and exit code 1.
private func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    } catch let error as SimulationError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

private func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `7512 s (2 h 5 min)`.
private func timeText(_ seconds: Double) -> String {
    guard seconds >= 60 else { return String(format: "%.0f s", seconds) }
    let total = Int(seconds.rounded())
    let words: String
    if total < 3600 {
        words = "\(total / 60) min"
    } else if total < 86_400 {
        words = "\(total / 3600) h \(total % 3600 / 60) min"
    } else {
        words = "\(total / 86_400) d \(total % 86_400 / 3600) h"
    }
    return "\(total) s (\(words))"
}

extension Duration {
    /// The duration in seconds.
    fileprivate var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}
