import Foundation
import HTTPTypes
import Hummingbird
import SlipwayDomain

// The MLflow REST API's JSON: requests and responses as the stock client sends and expects them
// (../shared/reference/mlflow-rest.md). Field names are snake_case on the wire.

/// An MLflow error: `{"error_code": "...", "message": "..."}` with the status the client expects.
struct MLflowError: Error, HTTPResponseError, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    static func notFound(_ message: String) -> MLflowError { MLflowError(status: .notFound, code: "RESOURCE_DOES_NOT_EXIST", message: message) }
    static func exists(_ message: String) -> MLflowError { MLflowError(status: .badRequest, code: "RESOURCE_ALREADY_EXISTS", message: message) }
    static func invalid(_ message: String) -> MLflowError { MLflowError(status: .badRequest, code: "INVALID_PARAMETER_VALUE", message: message) }
    static func denied(_ message: String) -> MLflowError { MLflowError(status: .forbidden, code: "PERMISSION_DENIED", message: message) }
    static func unauthenticated(_ message: String) -> MLflowError {
        MLflowError(status: .unauthorized, code: "UNAUTHENTICATED", message: message)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["error_code": code, "message": message], options: [.sortedKeys])
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Basic realm=\"slipway\", Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: .init(bytes: body)))
    }
}

/// A double as MLflow sends it: a JSON number, or "NaN", "Infinity", "-Infinity" as strings.
struct WireDouble: Codable, Sendable {
    var value: Double

    init(_ value: Double) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            value = number
            return
        }
        guard let text = try? container.decode(String.self) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a metric value must be a number")
        }
        switch text {
        case "NaN", "nan": value = .nan
        case "Infinity", "inf", "+Infinity": value = .infinity
        case "-Infinity", "-inf": value = -.infinity
        default:
            guard let number = Double(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text.prefix(40))' is not a number")
            }
            value = number
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if value.isNaN {
            try container.encode("NaN")
        } else if value.isInfinite {
            try container.encode(value > 0 ? "Infinity" : "-Infinity")
        } else {
            try container.encode(value)
        }
    }
}

/// An int64 that may arrive as a number or a decimal string (protobuf JSON allows both).
struct WireInt: Codable, Sendable {
    var value: Int64

    init(_ value: Int64) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            value = number
        } else if let text = try? container.decode(String.self), let number = Int64(text) {
            value = number
        } else if let number = try? container.decode(Double.self), number.isFinite, number == number.rounded(),
            abs(number) < 9.2e18
        {
            value = Int64(number)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be an integer")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A wire type whose coding keys are spelled out in snake_case (no key conversion): decoded without the
/// snake-case strategy, which is costly for large bodies such as a batch of 1,000 metrics.
protocol MLflowWireKeyed {}

enum MLflowWire {
    struct Tag: Codable, Sendable {
        var key: String
        var value: String?
    }

    struct Experiment: Codable, Sendable {
        var experimentId: String
        var name: String
        var artifactLocation: String
        var lifecycleStage: String
        var lastUpdateTime: Int64
        var creationTime: Int64
        var tags: [Tag]

        init(_ experiment: SlipwayDomain.Experiment) {
            experimentId = experiment.id
            name = experiment.name
            artifactLocation = experiment.artifactLocation
            lifecycleStage = experiment.lifecycleStage.rawValue
            lastUpdateTime = experiment.lastUpdateTime
            creationTime = experiment.creationTime
            tags = experiment.tags.map { Tag(key: $0.key, value: $0.value) }
        }
    }

    struct Metric: Codable, Sendable {
        var key: String
        var value: WireDouble
        var timestamp: WireInt?
        var step: WireInt?
        /// Set when the point is also logged against an MLflow 3 logged model.
        var modelId: String?
        var datasetName: String?
        var datasetDigest: String?

        init(_ point: MetricPoint) {
            key = point.key
            value = WireDouble(point.value)
            timestamp = WireInt(point.timestamp)
            step = WireInt(point.step)
        }

        enum CodingKeys: String, CodingKey {
            case key, value, timestamp, step
            case modelId = "model_id"
            case datasetName = "dataset_name"
            case datasetDigest = "dataset_digest"
        }
    }

    struct RunInfo: Codable, Sendable {
        var runId: String
        var runUuid: String
        var runName: String
        var experimentId: String
        var userId: String
        var status: String
        var startTime: Int64
        var endTime: Int64?
        var artifactUri: String
        var lifecycleStage: String

        init(_ info: SlipwayDomain.RunInfo) {
            runId = info.runID
            runUuid = info.runID
            runName = info.name
            experimentId = info.experimentID
            userId = info.userID
            status = info.status.rawValue
            startTime = info.startTime
            endTime = info.endTime
            artifactUri = info.artifactURI
            lifecycleStage = info.lifecycleStage.rawValue
        }
    }

    struct RunData: Codable, Sendable {
        var metrics: [Metric]
        var params: [Tag]
        var tags: [Tag]
    }

    struct DatasetDescription: Codable, Sendable {
        var name: String
        var digest: String
        var sourceType: String
        var source: String
        var schema: String?
        var profile: String?
    }

    struct DatasetInput: Codable, Sendable {
        var tags: [Tag]?
        var dataset: DatasetDescription
    }

    /// A logged model a run used (MLflow 3's `ModelInput`).
    struct ModelInput: Codable, Sendable {
        var modelId: String
    }

    /// A logged model a run produced (MLflow 3's `ModelOutput`).
    struct ModelOutput: Codable, Sendable {
        var modelId: String
        var step: Int64
    }

    struct RunInputs: Codable, Sendable {
        var datasetInputs: [DatasetInput]
        var modelInputs: [ModelInput]
    }

    struct RunOutputs: Codable, Sendable {
        var modelOutputs: [ModelOutput]
    }

    struct Run: Codable, Sendable {
        var info: RunInfo
        var data: RunData
        var inputs: RunInputs
        var outputs: RunOutputs

        init(_ detail: RunDetail) {
            info = RunInfo(detail.info)
            data = RunData(
                metrics: detail.metrics.map(Metric.init), params: detail.params.map { Tag(key: $0.key, value: $0.value) },
                tags: detail.tags.map { Tag(key: $0.key, value: $0.value) })
            inputs = RunInputs(
                datasetInputs: detail.inputs.map { input in
                    DatasetInput(
                        tags: input.tags.map { Tag(key: $0.key, value: $0.value) },
                        dataset: DatasetDescription(
                            name: input.name, digest: input.digest, sourceType: input.sourceType, source: input.source, schema: input.schema,
                            profile: input.profile))
                }, modelInputs: detail.modelInputs.map { ModelInput(modelId: $0) })
            outputs = RunOutputs(modelOutputs: detail.modelOutputs.map { ModelOutput(modelId: $0.modelID, step: $0.step) })
        }
    }

    // MARK: Requests

    struct CreateExperiment: Codable, Sendable {
        var name: String?
        var artifactLocation: String?
        var tags: [Tag]?
    }

    struct ExperimentID: Codable, Sendable {
        var experimentId: String?
    }

    struct UpdateExperiment: Codable, Sendable {
        var experimentId: String?
        var newName: String?
    }

    struct SetExperimentTag: Codable, Sendable {
        var experimentId: String?
        var key: String?
        var value: String?
    }

    struct SearchExperiments: Codable, Sendable {
        var maxResults: WireInt?
        var pageToken: String?
        var filter: String?
        var orderBy: [String]?
        var viewType: String?
    }

    struct CreateRun: Codable, Sendable {
        var experimentId: String?
        var userId: String?
        var runName: String?
        var startTime: WireInt?
        var tags: [Tag]?
    }

    struct RunID: Codable, Sendable {
        var runId: String?
        var runUuid: String?
        var id: String? { runId ?? runUuid }
    }

    struct UpdateRun: Codable, Sendable {
        var runId: String?
        var runUuid: String?
        var status: String?
        var endTime: WireInt?
        var runName: String?
    }

    struct LogParam: Codable, Sendable {
        var runId: String?
        var runUuid: String?
        var key: String?
        var value: String?
    }

    struct LogMetric: Codable, Sendable {
        var runId: String?
        var runUuid: String?
        var key: String?
        var value: WireDouble?
        var timestamp: WireInt?
        var step: WireInt?
    }

    struct LogBatch: Codable, Sendable, MLflowWireKeyed {
        var runId: String?
        var metrics: [Metric]?
        var params: [Tag]?
        var tags: [Tag]?

        enum CodingKeys: String, CodingKey {
            case runId = "run_id"
            case metrics, params, tags
        }
    }

    struct SetTag: Codable, Sendable {
        var runId: String?
        var runUuid: String?
        var key: String?
        var value: String?
    }

    struct DeleteTag: Codable, Sendable {
        var runId: String?
        var key: String?
    }

    struct LogInputs: Codable, Sendable {
        var runId: String?
        var datasets: [DatasetInput]?
        /// MLflow 3: logged models the run used.
        var models: [ModelInputRequest]?
    }

    /// A model input as the client sends it (`model_id` may be missing in a malformed request).
    struct ModelInputRequest: Codable, Sendable {
        var modelId: String?
    }

    struct SearchRuns: Codable, Sendable {
        var experimentIds: [String]?
        var filter: String?
        var runViewType: String?
        var maxResults: WireInt?
        var orderBy: [String]?
        var pageToken: String?
    }
}

extension MLflowWire {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// The decoder of ``MLflowWireKeyed`` types: keys as they are.
    static let keyedDecoder = JSONDecoder()

    /// A 200 response with `value` as MLflow JSON.
    static func response(_ value: some Encodable) throws -> Response {
        let data = try encoder().encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: data)))
    }

    /// `{}`, the answer of calls that return nothing.
    static var empty: Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: "{}")))
    }
}
