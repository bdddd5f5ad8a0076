import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension SlipwayAPIClient {
    /// Sends an Open Inference Protocol request body to `/v2/models/{deployment}[/versions/{v}]/infer` and returns the
    /// answer's body. - Throws: ``APIClientError`` with the gateway's `{"error": …}` sentence.
    public func infer(deployment: String, version: Int?, body: Data) async throws -> Data {
        let path = "/v2/models/\(Self.segment(deployment))" + (version.map { "/versions/\($0)" } ?? "") + "/infer"
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "slipway-cli")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(data: body))
        return try await inferenceCall(request)
    }

    /// The model's metadata: `GET /v2/models/{deployment}`.
    public func modelMetadata(deployment: String, version: Int?) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + "/v2/models/\(Self.segment(deployment))" + (version.map { "/versions/\($0)" } ?? ""))
        request.headers.add(name: "User-Agent", value: "slipway-cli")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return try await inferenceCall(request)
    }

    private func inferenceCall(_ request: HTTPClientRequest) async throws -> Data {
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .minutes(10))
            buffer = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw APIClientError(status: 0, code: "connection_failed", message: "could not reach the Slipway gateway at \(baseURL): \(error)")
        }
        let data = Data(buffer: buffer)
        guard (200..<300).contains(Int(response.status.code)) else {
            let message = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["error"] as? String
            throw APIClientError(
                status: Int(response.status.code), code: "inference_failed",
                message: message ?? "the gateway answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        return data
    }
}
