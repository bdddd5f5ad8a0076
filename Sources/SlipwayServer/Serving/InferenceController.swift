import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import SlipwayDomain
import SlipwayServing
import SlipwayStore

/// The Open Inference Protocol (KServe V2 / Triton REST) under `/v2`: health, server and model metadata, model
/// readiness, and inference with JSON tensors or the binary tensor extension. A deployment's name is the model's name;
/// `/versions/{v}` names one of the registry versions it serves, otherwise the traffic split chooses.
///
/// Requests need an API token (or a browser session with its CSRF token) of someone who may see the deployment's
/// namespace, unless the deployment is public. Every error is `{"error": "…"}`: 4xx for the client's mistakes, 503
/// with `Retry-After` when the version's queue is full or no replica is ready, 504 when the model did not answer in
/// time.
struct InferenceController: Sendable {
    let gateway: InferenceGateway
    let directory: ServingDirectory
    let store: MetadataStore
    let settings: GatewaySettings
    let metrics: GatewayMetrics

    func register(on router: Router<AppRequestContext>, authentication: InferenceAuthenticationMiddleware) {
        let v2 = router.group("v2").add(middleware: InferenceErrorMiddleware()).add(middleware: authentication)
        v2.get("", use: serverMetadata)
        v2.get("health/live") { _, _ in try InferenceController.json(["live": true]) }
        v2.get("health/ready") { _, _ in try InferenceController.json(["ready": true]) }
        v2.get("models/{model}", use: modelMetadata)
        v2.get("models/{model}/versions/{version}", use: modelMetadata)
        v2.get("models/{model}/ready", use: modelReady)
        v2.get("models/{model}/versions/{version}/ready", use: modelReady)
        v2.post("models/{model}/infer", use: infer)
        v2.post("models/{model}/versions/{version}/infer", use: infer)
    }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    @Sendable func serverMetadata(_ request: Request, context: AppRequestContext) async throws -> Response {
        try Self.json(["name": "slipway", "version": SlipwayVersion.current, "extensions": ["binary_tensor_data"]])
    }

    /// The deployment named in the path, once the caller may use it; and the version asked for.
    func target(_ context: AppRequestContext) async throws -> (name: String, version: Int?) {
        let name = try context.parameters.require("model")
        let version: Int?
        if let text = context.parameters.get("version") {
            guard let number = Int(text), number >= 1 else {
                throw GatewayError(status: 400, "model version '\(text.prefix(40))' is not a version number")
            }
            version = number
        } else {
            version = nil
        }
        let unknown = GatewayError(status: 404, "model '\(name.prefix(200))' is not deployed")
        guard let entry = directory.entry(name) else { throw unknown }
        if entry.isPublic { return (name, version) }
        guard let caller = context.caller else {
            throw GatewayError(status: 401, "model '\(name.prefix(200))' needs an API token: send 'Authorization: Bearer <token>'")
        }
        let role: Role?
        if let cached = directory.cachedRole(user: caller.user.id, namespace: entry.namespaceID, maxAge: settings.accessCacheSeconds),
            caller.jobScope == nil
        {
            role = cached
        } else {
            role = try await caller.role(in: entry.namespaceID, store: store)
            if caller.jobScope == nil { directory.remember(user: caller.user.id, namespace: entry.namespaceID, role: role) }
        }
        guard role != nil else { throw unknown }
        return (name, version)
    }

    @Sendable func modelMetadata(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (name, version) = try await target(context)
        let (route, metadata) = try await gateway.metadata(deployment: name, version: version)
        let versions = gateway.route(named: name)?.versions.map { String($0.version) } ?? [String(route.version)]
        func tensors(_ specs: [WorkerMetadata.TensorSpec]) -> [[String: Any]] {
            specs.map { ["name": $0.name, "datatype": $0.datatype, "shape": $0.shape] }
        }
        return try Self.json([
            "name": name, "versions": versions, "platform": metadata.platform, "inputs": tensors(metadata.inputs),
            "outputs": tensors(metadata.outputs),
        ])
    }

    @Sendable func modelReady(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (name, version) = try await target(context)
        if let version, gateway.route(named: name)?.versions.contains(where: { $0.version == version }) != true {
            throw GatewayError(status: 404, "model '\(name)' has no version \(version)")
        }
        guard gateway.isReady(deployment: name, version: version) else {
            throw GatewayError(status: 400, "model '\(name)'\(version.map { " version \($0)" } ?? "") has no ready replica yet")
        }
        var body: [String: Any] = ["name": name, "ready": true]
        if let version { body["version"] = String(version) }
        return try Self.json(body)
    }

    @Sendable func infer(_ request: Request, context: AppRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let (name, version) = try await target(context)
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: settings.maxRequestBytes)
        } catch is NIOTooManyBytesError {
            throw GatewayError(status: 413, "the request is larger than the gateway's limit of \(settings.maxRequestBytes) bytes")
        }
        if let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" {
            body = try Self.inflate(body, encoding: encoding, limit: settings.maxRequestBytes)
        }
        let headerLength: Int?
        if let text = request.headers[HTTPField.Name(InferenceCodec.headerLengthField)!] {
            guard let value = Int(text) else {
                throw GatewayError(status: 400, "\(InferenceCodec.headerLengthField) must be a number of bytes, not '\(text.prefix(40))'")
            }
            headerLength = value
        } else {
            headerLength = nil
        }
        let (encoded, jsonLength) = try await answer(deployment: name, version: version, body: body, headerLength: headerLength, started: started)
        var headers: HTTPFields = [.contentType: jsonLength == nil ? "application/json" : "application/octet-stream"]
        if let jsonLength { headers[HTTPField.Name(InferenceCodec.headerLengthField)!] = String(jsonLength) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: encoded)))
    }

    /// Decodes a request body, runs it through the gateway and encodes the answer; counts it in the version's series.
    /// - Returns: the response body and, when it holds binary outputs, the length of its JSON part.
    func answer(deployment name: String, version: Int?, body: ByteBuffer, headerLength: Int?, started: ContinuousClock.Instant) async throws
        -> (Data, Int?)
    {
        let decoded: InferenceRequest
        do {
            decoded = try InferenceCodec.decodeRequest(Data(buffer: body, byteTransferStrategy: .noCopy), headerLength: headerLength)
        } catch let error as InferenceRequestError {
            throw GatewayError(status: 400, error.message)
        }
        let timeout = decoded.timeoutMicroseconds.map { Duration.microseconds(max(1, $0)) }
        let answer = try await gateway.infer(
            deployment: name, version: version, inputs: decoded.inputs, outputs: decoded.outputs.map(\.name), timeout: timeout, started: started)
        let encoded = try InferenceCodec.encodeResponse(
            modelName: name, modelVersion: String(answer.route.version), id: decoded.id, outputs: answer.outputs, request: decoded)
        answer.series.answered(status: 200, latency: ContinuousClock.now - started)
        return encoded
    }

    /// A body sent with `Content-Encoding: gzip` or `deflate`, inflated up to `limit` bytes.
    static func inflate(_ body: ByteBuffer, encoding: String, limit: Int) throws -> ByteBuffer {
        let algorithm: CompressionAlgorithm
        switch encoding {
        case "gzip", "x-gzip": algorithm = .gzip()
        case "deflate": algorithm = .zlib()
        default: throw GatewayError(status: 415, "Content-Encoding '\(encoding.prefix(40))' is not supported; send gzip, deflate or identity")
        }
        var input = body
        do {
            let output = try input.decompress(with: algorithm, maxSize: limit)
            return output
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw GatewayError(status: 413, "the request inflates to more than the gateway's limit of \(limit) bytes")
        } catch {
            throw GatewayError(status: 400, "the request body is not valid \(encoding) data")
        }
    }
}

/// Answers every error under `/v2` in the Open Inference Protocol's shape, `{"error": "…"}`, with its status (and
/// `Retry-After` for 503). Unexpected errors are logged and answered 500.
struct InferenceErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.response(for: error, request: request, logger: context.logger)
        }
    }

    static func response(for error: any Error, request: Request, logger: Logger) -> Response {
        var status = 500
        var message = "the gateway failed; see the server's log"
        var headers: HTTPFields = [.contentType: "application/json"]
        switch error {
        case let error as GatewayError:
            status = error.status
            message = error.message
            if let retry = error.retryAfter { headers[.retryAfter] = String(retry) }
        case let error as WorkerError:
            status = error.status
            message = error.message
        case let error as APIError:
            status = Int(error.status.code)
            message = error.message
        case let error as HTTPError where error.status == .notFound:
            status = 404
            message = "no Open Inference Protocol route matches \(request.method) \(request.uri.path)"
        case let error as HTTPError:
            status = Int(error.status.code)
            message = error.body ?? error.status.reasonPhrase
        default:
            logger.error("inference request \(request.method) \(request.uri.path) failed: \(error)")
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["error": message])) ?? Data("{\"error\":\"failed\"}".utf8)
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
