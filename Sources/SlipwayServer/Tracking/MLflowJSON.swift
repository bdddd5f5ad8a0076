import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayDomain

/// A small JSON writer for MLflow's hot answers (runs, run searches, metric history): bytes go straight into
/// a buffer, with no reflection and no key conversion. It writes the same JSON values as `MLflowWire.encoder()`
/// does for the same types (snake_case keys, absent nil fields, NaN and infinities as strings).
struct MLflowJSONWriter {
    private var text: JSONText
    var bytes: [UInt8] { text.bytes }

    init(capacity: Int = 4096) {
        text = JSONText(capacity: capacity)
    }

    /// Appends literal JSON text (punctuation, keys).
    mutating func raw(_ literal: StaticString) {
        text.raw(literal)
    }

    /// Appends `value` as a JSON string.
    mutating func string(_ value: String) {
        text.string(value)
    }

    mutating func int(_ value: Int64) {
        text.integer(value)
    }

    /// A double as MLflow sends it: a JSON number, or "NaN", "Infinity", "-Infinity".
    mutating func double(_ value: Double) {
        if value.isNaN {
            raw("\"NaN\"")
        } else if value.isInfinite {
            if value > 0 { raw("\"Infinity\"") } else { raw("\"-Infinity\"") }
        } else {
            text.raw(value.description)
        }
    }

    /// `"key":"value"` pairs as `[{"key":…,"value":…}]`.
    mutating func keyValues(_ pairs: [KeyValue]) {
        raw("[")
        for (index, pair) in pairs.enumerated() {
            if index > 0 { raw(",") }
            raw("{\"key\":")
            string(pair.key)
            raw(",\"value\":")
            string(pair.value)
            raw("}")
        }
        raw("]")
    }

    mutating func metric(_ point: MetricPoint) {
        raw("{\"key\":")
        string(point.key)
        raw(",\"value\":")
        double(point.value)
        raw(",\"timestamp\":")
        int(point.timestamp)
        raw(",\"step\":")
        int(point.step)
        raw("}")
    }

    mutating func runInfo(_ info: RunInfo) {
        raw("{\"run_id\":")
        string(info.runID)
        raw(",\"run_uuid\":")
        string(info.runID)
        raw(",\"run_name\":")
        string(info.name)
        raw(",\"experiment_id\":")
        string(info.experimentID)
        raw(",\"user_id\":")
        string(info.userID)
        raw(",\"status\":")
        string(info.status.rawValue)
        raw(",\"start_time\":")
        int(info.startTime)
        if let end = info.endTime {
            raw(",\"end_time\":")
            int(end)
        }
        raw(",\"artifact_uri\":")
        string(info.artifactURI)
        raw(",\"lifecycle_stage\":")
        string(info.lifecycleStage.rawValue)
        raw("}")
    }

    /// A run as `runs/get` and `runs/search` return it: `{info, data: {metrics, params, tags}, inputs, outputs}`.
    mutating func run(_ detail: RunDetail) {
        raw("{\"info\":")
        runInfo(detail.info)
        raw(",\"data\":{\"metrics\":[")
        for (index, point) in detail.metrics.enumerated() {
            if index > 0 { raw(",") }
            metric(point)
        }
        raw("],\"params\":")
        keyValues(detail.params)
        raw(",\"tags\":")
        keyValues(detail.tags)
        raw("},\"inputs\":{\"dataset_inputs\":[")
        for (index, input) in detail.inputs.enumerated() {
            if index > 0 { raw(",") }
            raw("{\"tags\":")
            keyValues(input.tags)
            raw(",\"dataset\":{\"name\":")
            string(input.name)
            raw(",\"digest\":")
            string(input.digest)
            raw(",\"source_type\":")
            string(input.sourceType)
            raw(",\"source\":")
            string(input.source)
            if let schema = input.schema {
                raw(",\"schema\":")
                string(schema)
            }
            if let profile = input.profile {
                raw(",\"profile\":")
                string(profile)
            }
            raw("}}")
        }
        raw("],\"model_inputs\":[")
        for (index, model) in detail.modelInputs.enumerated() {
            if index > 0 { raw(",") }
            raw("{\"model_id\":")
            string(model)
            raw("}")
        }
        raw("]},\"outputs\":{\"model_outputs\":[")
        for (index, output) in detail.modelOutputs.enumerated() {
            if index > 0 { raw(",") }
            raw("{\"model_id\":")
            string(output.modelID)
            raw(",\"step\":")
            int(output.step)
            raw("}")
        }
        raw("]}}")
    }

    /// `,"next_page_token":"…"` when there is a next page.
    mutating func nextPageToken(_ token: String?) {
        guard let token else { return }
        raw(",\"next_page_token\":")
        string(token)
    }

}

extension MLflowJSONWriter {
    /// `{"run": …}`.
    static func runJSON(_ detail: RunDetail) -> [UInt8] {
        var writer = MLflowJSONWriter(capacity: 1024 + 64 * (detail.metrics.count + detail.params.count + detail.tags.count))
        writer.raw("{\"run\":")
        writer.run(detail)
        writer.raw("}")
        return writer.bytes
    }

    /// `{"runs": […], "next_page_token": …}`.
    static func runPageJSON(_ runs: [RunDetail], nextPageToken: String?) -> [UInt8] {
        let items = runs.reduce(0) { $0 + $1.metrics.count + $1.params.count + $1.tags.count }
        var writer = MLflowJSONWriter(capacity: 256 + 512 * runs.count + 64 * items)
        writer.raw("{\"runs\":[")
        for (index, run) in runs.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.run(run)
        }
        writer.raw("]")
        writer.nextPageToken(nextPageToken)
        writer.raw("}")
        return writer.bytes
    }

    /// `{"metrics": […], "next_page_token": …}`.
    static func metricPageJSON(_ points: some Collection<MetricPoint>, nextPageToken: String?) -> [UInt8] {
        var writer = MLflowJSONWriter(capacity: 64 + 80 * points.count)
        writer.raw("{\"metrics\":[")
        for (index, point) in points.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.metric(point)
        }
        writer.raw("]")
        writer.nextPageToken(nextPageToken)
        writer.raw("}")
        return writer.bytes
    }

    /// A 200 response carrying `json`.
    static func response(_ json: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}
