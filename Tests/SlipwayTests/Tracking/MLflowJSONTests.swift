import Foundation
import SlipwayDomain
import Testing

@testable import SlipwayServer

/// The hand-written JSON of MLflow's hot answers (runs, searches, metric history) says exactly what the
/// Codable wire types say: the same keys, values, absent fields, escapes and spellings of NaN and infinity.
@Suite("MLflow JSON writer")
struct MLflowJSONTests {
    static let awkward = "quote \" backslash \\ slash / newline \n tab \t bell \u{07} nul-free ünïcødé 🚀"

    static let detail = RunDetail(
        info: RunInfo(
            runID: "0123456789abcdef0123456789abcdef", experimentID: "7", name: awkward, userID: "ada", status: .finished,
            startTime: 1_700_000_000_123,
            endTime: nil, artifactURI: "mlflow-artifacts:/7/0123456789abcdef0123456789abcdef/artifacts", lifecycleStage: .active),
        metrics: [
            MetricPoint(key: "acc", value: 0.1, timestamp: 1, step: 0), MetricPoint(key: "nan", value: .nan, timestamp: 2, step: 3),
            MetricPoint(key: "up", value: .infinity, timestamp: 3, step: -1), MetricPoint(key: "down", value: -.infinity, timestamp: 4, step: 9),
            MetricPoint(key: "tiny", value: 1e-300, timestamp: 5, step: 1), MetricPoint(key: "whole", value: 5, timestamp: 6, step: 2),
            MetricPoint(key: "huge", value: 1.5e300, timestamp: Int64.max, step: Int64.min),
        ],
        params: [KeyValue(key: "lr", value: "0.01"), KeyValue(key: awkward, value: awkward)],
        tags: [KeyValue(key: "mlflow.runName", value: awkward), KeyValue(key: "empty", value: "")],
        inputs: [
            RunDatasetInput(
                name: "iris", digest: "abc", sourceType: "slipway", source: "team/p/iris@1", schema: "{\"x\": 1}", profile: nil,
                tags: [KeyValue(key: "mlflow.data.context", value: "training")]),
            RunDatasetInput(name: "bare", digest: "d", sourceType: "code", source: "{}", schema: nil, profile: "p", tags: []),
        ], modelInputs: ["m-0123", "m-4567"], modelOutputs: [RunModelOutput(modelID: "m-89ab", step: 3)])

    /// JSON re-encoded canonically (through the Codable types, keys sorted), so two encodings compare as values.
    static func canonical<T: Codable>(_ data: Data, as type: T.Type) throws -> String {
        let value = try MLflowWire.decoder().decode(T.self, from: data)
        let encoder = MLflowWire.encoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    struct RunEnvelope: Codable {
        var run: MLflowWire.Run
    }

    struct RunPageBody: Codable {
        var runs: [MLflowWire.Run]
        var nextPageToken: String?
    }

    struct MetricPageBody: Codable {
        var metrics: [MLflowWire.Metric]
        var nextPageToken: String?
    }

    @Test
    func aRunIsWrittenAsTheWireTypesEncodeIt() throws {
        let written = Data(MLflowJSONWriter.runJSON(Self.detail))
        #expect(try JSONSerialization.jsonObject(with: written) is [String: Any], "valid JSON")
        let expected = try MLflowWire.encoder().encode(RunEnvelope(run: MLflowWire.Run(Self.detail)))
        #expect(try Self.canonical(written, as: RunEnvelope.self) == Self.canonical(expected, as: RunEnvelope.self))
        let text = String(decoding: written, as: UTF8.self)
        #expect(text.contains(#""value":"NaN""#) && text.contains(#""value":"Infinity""#) && text.contains(#""value":"-Infinity""#))
        #expect(!text.contains("end_time"), "an absent end time is left out, as the encoder does")
        #expect(text.contains(#""model_inputs":[{"model_id":"m-0123"},{"model_id":"m-4567"}]"#))
        #expect(text.contains(#""outputs":{"model_outputs":[{"model_id":"m-89ab","step":3}]}"#))
        #expect(text.contains(#""schema":"{\"x\": 1}""#), "nested JSON travels as an escaped string")
    }

    @Test
    func pagesOfRunsAndMetricsMatchTheWireTypes() throws {
        var finished = Self.detail
        finished.info.endTime = 1_700_000_999_000
        let runs = [Self.detail, finished]
        let page = Data(MLflowJSONWriter.runPageJSON(runs, nextPageToken: "MTA6YWJj"))
        let expectedPage = try MLflowWire.encoder().encode(RunPageBody(runs: runs.map(MLflowWire.Run.init), nextPageToken: "MTA6YWJj"))
        #expect(try Self.canonical(page, as: RunPageBody.self) == Self.canonical(expectedPage, as: RunPageBody.self))
        let last = String(decoding: Data(MLflowJSONWriter.runPageJSON([], nextPageToken: nil)), as: UTF8.self)
        #expect(last == #"{"runs":[]}"#)

        let metrics = Data(MLflowJSONWriter.metricPageJSON(Self.detail.metrics, nextPageToken: nil))
        let expectedMetrics = try MLflowWire.encoder().encode(MetricPageBody(metrics: Self.detail.metrics.map(MLflowWire.Metric.init)))
        #expect(try Self.canonical(metrics, as: MetricPageBody.self) == Self.canonical(expectedMetrics, as: MetricPageBody.self))
        #expect(!String(decoding: metrics, as: UTF8.self).contains("next_page_token"))
    }

    @Test
    func stringsEscapeExactlyWhatJSONRequires() {
        var writer = MLflowJSONWriter()
        writer.string("a\"b\\c/d\u{01}\u{1f}é\r\n\u{08}\u{0c}")
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #""a\"b\\c/d\u0001\u001fé\r\n\b\f""#)
    }
}
