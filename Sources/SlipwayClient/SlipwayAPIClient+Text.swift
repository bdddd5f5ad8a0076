import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension SlipwayAPIClient {
    /// POSTs plain text (an agent's log chunk) and ignores the answer's body.
    public func postText(_ path: String, _ text: String) async throws {
        var request = HTTPClientRequest(url: baseURL + "/api/v1" + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        request.headers.add(name: "User-Agent", value: "slipway-agent")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(string: text))
        _ = try await executeRaw(request)
    }

    /// GETs text (a job's log) and the `Slipway-Log-Offset` header, if the server sent one.
    public func getText(_ path: String) async throws -> (text: String, offset: Int64?) {
        var request = HTTPClientRequest(url: baseURL + "/api/v1" + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await http.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Self.failure(status: Int(response.status.code), reason: response.status.reasonPhrase, body: Data(buffer: buffer))
        }
        return (String(buffer: buffer), response.headers.first(name: "Slipway-Log-Offset").flatMap { Int64($0) })
    }

    /// Streams a text body (a followed log) chunk by chunk to `receive` until the server ends it.
    public func streamText(_ path: String, receive: (String) -> Void) async throws {
        var request = HTTPClientRequest(url: baseURL + "/api/v1" + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await http.execute(request, timeout: .hours(24))
        guard (200..<300).contains(Int(response.status.code)) else {
            let buffer = try await response.body.collect(upTo: 1 << 20)
            throw Self.failure(status: Int(response.status.code), reason: response.status.reasonPhrase, body: Data(buffer: buffer))
        }
        for try await chunk in response.body { receive(String(buffer: chunk)) }
    }
}
