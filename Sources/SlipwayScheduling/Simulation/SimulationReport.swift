import Foundation

/// The figures of one simulated replay. Times are in seconds of simulated time.
///
/// * **Job completion time (JCT)**: end − submit time, over the jobs that completed.
/// * **Makespan**: the last completion − the first submission.
/// * **Utilization** of each resource: Σ (what a job held × how long it ran) ÷ (the cluster's capacity × makespan).
/// * **Fairness**: Jain's index, `(Σx)² / (n·Σx²)`, of the weighted dominant shares `x` (a namespace's
///   dominant share of the cluster divided by its weight) of the namespaces that have jobs waiting,
///   averaged over the time during which at least two namespaces have jobs waiting. 1 means every
///   namespace that wanted more got the same weighted share; 1/n means one of them held everything. It is
///   `nil` when no two namespaces ever waited at the same time (there was nothing to share fairly).
/// * **Waiting (queueing delay)**: start − submit time.
/// * **Bounded slowdown** (per namespace): JCT ÷ max(duration, 10 s), averaged.
public struct SimulationReport: Sendable, Hashable, Codable {
    public var policy: String
    public var cluster: String
    /// Jobs in the trace.
    public var jobs: Int
    public var completed: Int
    /// Jobs no node (or gang of nodes) of the cluster could ever hold, or larger than their namespace's quota.
    public var neverFit: Int
    /// Jobs that could fit but had not started when nothing was left to happen (0 unless a policy is broken).
    public var neverStarted: Int
    public var averageCompletionTime: Double
    public var p95CompletionTime: Double
    public var makespan: Double
    public var utilization: Utilization
    public var fairness: Double?
    /// How long at least two namespaces had jobs waiting at the same time.
    public var contendedTime: Double
    public var averageWait: Double
    public var longestWait: Double
    public var longestWaitJobID: String?
    /// Scheduling decisions the policy made.
    public var decisions: Int
    public var namespaces: [NamespaceFigures]

    /// Fractions of capacity used over the makespan; `nil` for a resource the cluster has none of.
    public struct Utilization: Sendable, Hashable, Codable {
        public var cpu: Double?
        public var memory: Double?
        public var gpu: Double?
    }

    /// One namespace's figures.
    public struct NamespaceFigures: Sendable, Hashable, Codable {
        public var namespace: String
        public var jobs: Int
        public var completed: Int
        public var averageCompletionTime: Double
        public var averageWait: Double
        public var longestWait: Double
        public var meanBoundedSlowdown: Double
        /// GPU-hours its jobs ran.
        public var gpuHours: Double
    }
}

/// Jain's fairness index of `values`: `(Σx)² / (n·Σx²)`, from 1/n (one has everything) to 1 (all equal);
/// 1 for an empty list or all zeros.
public func jainIndex(_ values: [Double]) -> Double {
    let sum = values.reduce(0, +)
    let squares = values.reduce(0) { $0 + $1 * $1 }
    guard !values.isEmpty, squares > 0 else { return 1 }
    return sum * sum / (Double(values.count) * squares)
}

/// The nearest-rank percentile (`fraction` 0.95 for p95) of `sortedValues`; 0 when empty.
func percentile(_ sortedValues: [Double], _ fraction: Double) -> Double {
    guard !sortedValues.isEmpty else { return 0 }
    let rank = Int((fraction * Double(sortedValues.count)).rounded(.up))
    return sortedValues[min(sortedValues.count, max(1, rank)) - 1]
}
