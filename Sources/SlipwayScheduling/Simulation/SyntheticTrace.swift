import Foundation

/// Makes job traces shaped like the published GPU-cluster traces — Microsoft Philly (Jeon et al., ATC
/// 2019), SenseTime Helios (Hu et al., SC 2021) and Alibaba PAI (Weng et al., NSDI 2022) — from a seed:
/// the same seed always gives the same trace.
///
/// The shape:
/// * **GPUs per job**: 12 % of jobs use no GPU (preprocessing, evaluation); of the rest 68 % use 1 GPU,
///   10 % 2, 10 % 4, 8 % 8 (a whole node), 3 % 16 and 1 % 32 (gangs spanning nodes).
/// * **CPU and memory**: GPU jobs ask 4, 6 or 8 cores and 32, 48 or 64 GiB per GPU, and one in twenty of
///   those with at most 4 GPUs is input-bound and asks 12 or 16 cores per GPU (these strand GPUs when
///   placed carelessly); CPU-only jobs ask 1–16 cores and 2–8 GiB per core.
/// * **Durations**: log-normal, heavy-tailed — median 15 minutes for GPU jobs (growing with the GPU
///   count: × (1 + ½·log₂ GPUs)), 5 minutes for CPU jobs, σ = 1.6 — clipped to 30 s … 2 days.
/// * **Namespaces**: unequal load; by default `vision` 45 %, `language` 30 %, `speech` 15 %, `recsys` 10 %.
/// * **Arrivals**: Poisson, with one submission in ten a sweep of 2–8 jobs of the same shape at once; the
///   rate is set so the offered load (GPU-time, or CPU-time for a cluster without GPUs) is `load` times
///   what the reference cluster can serve over the span of the trace.
public struct SyntheticTraceGenerator: Sendable {
    /// A namespace and its share of the submitted jobs.
    public struct NamespaceLoad: Sendable, Hashable, Codable {
        public var name: String
        public var share: Double

        public init(name: String, share: Double) {
            self.name = name
            self.share = share
        }
    }

    public var jobCount: Int
    public var seed: UInt64
    public var namespaces: [NamespaceLoad]
    /// Offered load relative to `cluster`'s capacity (above 1, queues grow over the trace).
    public var load: Double
    /// The cluster the load is relative to.
    public var cluster: ClusterShape

    public init(
        jobCount: Int, seed: UInt64, namespaces: [NamespaceLoad] = SyntheticTraceGenerator.standardNamespaces, load: Double = 1.0,
        cluster: ClusterShape = .standard
    ) {
        self.jobCount = max(0, jobCount)
        self.seed = seed
        self.namespaces = namespaces.isEmpty ? SyntheticTraceGenerator.standardNamespaces : namespaces
        self.load = load > 0 ? load : 1
        self.cluster = cluster
    }

    /// Four teams with unequal load.
    public static let standardNamespaces = [
        NamespaceLoad(name: "vision", share: 0.45), NamespaceLoad(name: "language", share: 0.30),
        NamespaceLoad(name: "speech", share: 0.15), NamespaceLoad(name: "recsys", share: 0.10),
    ]

    /// A job's shape before it has an arrival time.
    struct Draw {
        var resources: Resources
        var duration: Double
        var namespace: String
    }

    /// The trace: jobs `job-00001`, `job-00002`, … in submission order.
    public func generate() -> Trace {
        var random = SeededRandom(seed: seed)
        var draws: [Draw] = []
        var sweeps: [Bool] = []
        draws.reserveCapacity(jobCount)
        while draws.count < jobCount {
            var first = draw(&random)
            let sweep = random.uniform() < 0.1 ? 2 + random.below(7) : 1
            for copy in 0..<min(sweep, jobCount - draws.count) {
                if copy > 0 { first.duration = duration(gpu: first.resources.gpu, &random) }
                draws.append(first)
                sweeps.append(copy > 0)
            }
        }
        let capacity = cluster.capacity
        let gpuWork = draws.reduce(0.0) { $0 + Double($1.resources.gpu) * $1.duration }
        let cpuWork = draws.reduce(0.0) { $0 + $1.resources.cpu * $1.duration }
        var span = 0.0
        if capacity.gpu > 0 { span = max(span, gpuWork / (load * Double(capacity.gpu))) }
        if capacity.cpuMillicores > 0 { span = max(span, cpuWork / (load * capacity.cpu)) }
        let submissions = max(1, sweeps.filter { !$0 }.count)
        let meanGap = span / Double(submissions)
        var clock = 0.0
        var jobs: [TraceJob] = []
        jobs.reserveCapacity(jobCount)
        let width = max(5, String(jobCount).count)
        for (position, draw) in draws.enumerated() {
            if position > 0 && !sweeps[position] { clock += -log(1 - random.uniform()) * meanGap }
            let number = String(position + 1)
            jobs.append(
                TraceJob(
                    id: "job-" + String(repeating: "0", count: max(0, width - number.count)) + number, submitTime: clock.rounded(),
                    duration: draw.duration, resources: draw.resources, namespace: draw.namespace))
        }
        return Trace(jobs: jobs)
    }

    func draw(_ random: inout SeededRandom) -> Draw {
        let namespace = namespaces[random.pick(namespaces.map(\.share))].name
        let resources: Resources
        if random.uniform() < 0.12 {
            let cores = [1, 2, 4, 8, 16][random.pick([0.2, 0.3, 0.25, 0.15, 0.1])]
            let perCore = [2.0, 4, 8][random.pick([0.3, 0.5, 0.2])]
            resources = Resources(cpu: Double(cores), memoryGiB: Double(cores) * perCore, gpu: 0)
        } else {
            let gpu = [1, 2, 4, 8, 16, 32][random.pick([0.68, 0.10, 0.10, 0.08, 0.03, 0.01])]
            let inputBound = gpu <= 4 && random.uniform() < 0.05
            let coresPerGPU = inputBound ? [12.0, 16][random.below(2)] : [4.0, 6, 8][random.pick([0.3, 0.3, 0.4])]
            let memoryPerGPU = [32.0, 48, 64][random.pick([0.4, 0.3, 0.3])]
            resources = Resources(cpu: coresPerGPU * Double(gpu), memoryGiB: memoryPerGPU * Double(gpu), gpu: gpu)
        }
        return Draw(resources: resources, duration: duration(gpu: resources.gpu, &random), namespace: namespace)
    }

    func duration(gpu: Int, _ random: inout SeededRandom) -> Double {
        let median = gpu == 0 ? 300 : 900 * (1 + 0.5 * log2(Double(gpu)))
        let seconds = median * exp(1.6 * random.normal())
        return min(2 * 86_400, max(30, seconds)).rounded()
    }
}

/// A small, fast pseudo-random generator (SplitMix64) whose sequence depends on the seed alone, on every
/// platform and Swift version (the standard library's `random(in:using:)` makes no such promise, so the
/// helpers here derive numbers from the raw bits themselves).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in 0..<`bound` (`bound` > 0).
    public mutating func below(_ bound: Int) -> Int {
        Int(uniform() * Double(bound))
    }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u = 1 - uniform()
        let v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// An index drawn with probability proportional to `weights`.
    public mutating func pick(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var target = uniform() * total
        for (index, weight) in weights.enumerated() {
            target -= weight
            if target < 0 { return index }
        }
        return weights.count - 1
    }
}
