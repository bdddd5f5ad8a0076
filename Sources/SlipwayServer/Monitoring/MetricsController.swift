import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayDomain
import SlipwayServing
import SlipwayStore

/// `GET /metrics`: Prometheus' text exposition of the gateway's series (per deployment and model version: requests
/// by status code, latency and queue-time histograms, batch sizes, requests in flight, ready replicas) and of the
/// platform's state read at scrape time (nodes with capacity and use, jobs, deployments and replicas by state).
///
/// Open by default, as Prometheus scrapes inside the network; with `SLIPWAY_METRICS_TOKEN` set it needs
/// `Authorization: Bearer <that token>`.
struct MetricsController: Sendable {
    let metrics: GatewayMetrics
    let store: MetadataStore
    let token: String?

    func register(on router: Router<AppRequestContext>) {
        router.get("metrics", use: scrape)
    }

    @Sendable func scrape(_ request: Request, context: AppRequestContext) async throws -> Response {
        if let token {
            guard let sent = request.headers[.authorization], SecretGenerator.constantTimeEquals(sent, "Bearer " + token) else {
                return Response(
                    status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", .wwwAuthenticate: "Bearer"],
                    body: .init(byteBuffer: ByteBuffer(string: "send the metrics token as 'Authorization: Bearer <token>'\n")))
            }
        }
        var bytes = metrics.exposition()
        bytes.append(contentsOf: Array(try await platformSeries().utf8))
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The platform's state as gauges.
    func platformSeries() async throws -> String {
        var lines: [String] = []
        func gauge(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            for sample in samples {
                let labels = sample.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
                lines.append("\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(sample.value)")
            }
        }
        let nodes = try await store.compute.nodes()
        gauge("slipway_node_up", "1 for each node by state.", nodes.map { ([("node", $0.name), ("state", $0.state.rawValue)], 1) })
        gauge(
            "slipway_node_capacity", "What each node offers, by resource (cpu in cores, memory in bytes, gpu in devices).",
            nodes.flatMap { node in
                [
                    ([("node", node.name), ("resource", "cpu")], node.capacity.cpu),
                    ([("node", node.name), ("resource", "memory")], Double(node.capacity.memoryBytes)),
                    ([("node", node.name), ("resource", "gpu")], Double(node.capacity.gpu)),
                ]
            })
        gauge(
            "slipway_node_used", "What each node's work uses, as its agent last reported.",
            nodes.flatMap { node in
                [
                    ([("node", node.name), ("resource", "cpu")], node.usage.cpu),
                    ([("node", node.name), ("resource", "memory")], Double(node.usage.memoryBytes)),
                    ([("node", node.name), ("resource", "gpu")], Double(node.usage.gpu)),
                ]
            })
        let active = try await store.compute.jobs(
            namespaceIDs: nil, projectID: nil, states: JobState.allCases.filter { !$0.isFinal }, limit: 100_000)
        gauge(
            "slipway_jobs", "Jobs not yet over, by state and namespace.",
            Dictionary(grouping: active, by: { "\($0.state.rawValue)|\($0.namespace)" }).map { key, jobs in
                let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                return ([("state", parts[0]), ("namespace", parts.count > 1 ? parts[1] : "")], Double(jobs.count))
            }.sorted { $0.labels.map(\.1).joined() < $1.labels.map(\.1).joined() })
        let deployments = try await store.serving.deployments(namespaceIDs: nil, projectID: nil)
        gauge(
            "slipway_deployment_state", "1 for each deployment, labelled with its state and the revision it serves.",
            deployments.map {
                ([("deployment", $0.name), ("state", $0.state.rawValue), ("revision", String($0.servingRevision ?? 0))], 1)
            })
        let replicas = try await store.serving.replicas(deploymentID: nil, includeStopped: false)
        gauge(
            "slipway_replicas", "Serving replicas by deployment and state.",
            Dictionary(grouping: replicas, by: { "\($0.deployment)|\($0.state.rawValue)" }).map { key, group in
                let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                return ([("deployment", parts[0]), ("state", parts.count > 1 ? parts[1] : "")], Double(group.count))
            }.sorted { $0.labels.map(\.1).joined() < $1.labels.map(\.1).joined() })
        gauge(
            "slipway_replica_restarts", "How often each replica's worker was restarted.",
            replicas.map { ([("deployment", $0.deployment), ("replica", $0.id.uuidString.lowercased())], Double($0.restarts)) })
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value as the exposition format writes it.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
