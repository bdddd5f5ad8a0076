import Foundation
import Prometheus
import Synchronization

/// The gateway's figures: Prometheus series per deployment and model version (requests by status code, latency,
/// time queued, batch sizes, requests in flight, ready replicas), and the last minutes in buckets for the web UI's
/// live charts.
public final class GatewayMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// Seconds per bucket of the recent history, and how many buckets are kept.
    public static let bucketSeconds: Double = 5
    public static let bucketsKept = 72

    private let recent = Mutex<[String: [String: [RecentBucket]]]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30),
    ]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    /// The series of one model version of one deployment, made once and kept by its queue.
    public final class VersionSeries: Sendable {
        let deployment: String
        let version: String
        let latency: DurationHistogram
        let queued: DurationHistogram
        let batchSize: ValueHistogram
        /// Time of each call to a worker, as the gateway sees it: what is left of a request's latency is the gateway's.
        let workerCall: DurationHistogram
        let inFlight: Gauge
        let readyReplicas: Gauge
        let registry: PrometheusCollectorRegistry
        private let counters = Mutex<[Int: Counter]>([:])
        let metrics: GatewayMetrics

        init(metrics: GatewayMetrics, deployment: String, version: String) {
            self.metrics = metrics
            self.registry = metrics.registry
            self.deployment = deployment
            self.version = version
            let labels = [("deployment", deployment), ("version", version)]
            latency = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    metricName: "slipway_inference_request_duration", unitName: "seconds",
                    helpText: "Time from a request's arrival at the gateway to its answer."), labels: labels, buckets: GatewayMetrics.latencyBuckets)
            queued = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    metricName: "slipway_inference_queue_duration", unitName: "seconds",
                    helpText: "Time a request waited in the gateway's queue before its batch was sent."), labels: labels,
                buckets: GatewayMetrics.latencyBuckets)
            batchSize = registry.makeValueHistogram(
                descriptor: MetricNameDescriptor(
                    metricName: "slipway_inference_batch_size", unitName: "rows", helpText: "Rows in each call the gateway sent to a worker."),
                labels: labels, buckets: GatewayMetrics.batchBuckets)
            workerCall = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    metricName: "slipway_inference_worker_call_duration", unitName: "seconds",
                    helpText: "Time of each call (one batch) from the gateway to a model worker and back."), labels: labels,
                buckets: GatewayMetrics.latencyBuckets)
            inFlight = registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "slipway_inference_in_flight", unitName: "requests", helpText: "Requests queued or at a worker now."),
                labels: labels)
            readyReplicas = registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "slipway_deployment_ready", unitName: "replicas", helpText: "Replicas the gateway routes to."),
                labels: labels)
        }

        /// Counts one answered request with its HTTP status, and its latency.
        public func answered(status: Int, latency duration: Duration) {
            let counter = counters.withLock { counters in
                if let counter = counters[status] { return counter }
                let counter = registry.makeCounter(
                    descriptor: MetricNameDescriptor(
                        metricName: "slipway_inference_requests", unitName: "total", helpText: "Inference requests answered, by status code."),
                    labels: [("deployment", deployment), ("version", version), ("code", String(status))])
                counters[status] = counter
                return counter
            }
            counter.increment()
            if status < 400 { latency.record(duration) }
            metrics.note(deployment: deployment, version: version, status: status, latency: duration, batchRows: nil)
        }

        func sentBatch(rows: Int, requests: Int) {
            batchSize.record(Double(rows))
            metrics.note(deployment: deployment, version: version, status: nil, latency: nil, batchRows: (rows, requests))
        }
    }

    /// The series of one model version (made on first use).
    public func series(deployment: String, version: String) -> VersionSeries {
        VersionSeries(metrics: self, deployment: deployment, version: version)
    }

    /// The Prometheus text exposition of every series.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    // MARK: - Recent history

    struct RecentBucket {
        var start: Double
        var requests = 0
        var errors = 0
        var latencies: [Double] = []
        var batches = 0
        var batchedRequests = 0

        init(start: Double) { self.start = start }
    }

    func note(deployment: String, version: String, status: Int?, latency: Duration?, batchRows: (rows: Int, requests: Int)?) {
        let now = Date().timeIntervalSince1970
        let start = (now / Self.bucketSeconds).rounded(.down) * Self.bucketSeconds
        recent.withLock { all in
            var buckets = all[deployment]?[version] ?? []
            if buckets.last?.start != start {
                buckets.append(RecentBucket(start: start))
                if buckets.count > Self.bucketsKept { buckets.removeFirst(buckets.count - Self.bucketsKept) }
            }
            var bucket = buckets[buckets.count - 1]
            if let status {
                bucket.requests += 1
                if status >= 400 { bucket.errors += 1 }
                if let latency, status < 400, bucket.latencies.count < 4096 {
                    bucket.latencies.append(Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15)
                }
            }
            if let batchRows {
                bucket.batches += 1
                bucket.batchedRequests += batchRows.requests
            }
            buckets[buckets.count - 1] = bucket
            all[deployment, default: [:]][version] = buckets
        }
    }

    /// One bucket's figures: `(start, requests, errors, p50 ms, p99 ms, mean requests per batch)`.
    public struct RecentFigures: Sendable, Hashable {
        public var start: Double
        public var requests: Int
        public var errors: Int
        public var p50Milliseconds: Double?
        public var p99Milliseconds: Double?
        public var meanBatchSize: Double?
    }

    /// The deployment's buckets of the last `seconds`, per version, oldest first.
    public func recent(deployment: String, seconds: Double) -> [String: [RecentFigures]] {
        let cutoff = Date().timeIntervalSince1970 - seconds
        let versions = recent.withLock { $0[deployment] ?? [:] }
        return versions.mapValues { buckets in
            buckets.filter { $0.start >= cutoff }.map { bucket in
                let sorted = bucket.latencies.sorted()
                return RecentFigures(
                    start: bucket.start, requests: bucket.requests, errors: bucket.errors, p50Milliseconds: Self.percentile(sorted, 0.5),
                    p99Milliseconds: Self.percentile(sorted, 0.99), meanBatchSize: bucket.batches == 0 ? nil : Double(bucket.batchedRequests) / Double(bucket.batches))
            }
        }
    }

    /// The nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((Double(sorted.count) * p).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    /// Forgets a deleted deployment's history.
    public func forget(deployment: String) {
        _ = recent.withLock { $0.removeValue(forKey: deployment) }
    }
}
