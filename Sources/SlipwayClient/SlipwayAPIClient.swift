import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SlipwayDomain

/// The HTTP methods the API uses.
public enum APIMethod: String, Sendable {
    case GET, POST, PUT, PATCH, DELETE
}

/// A failed API call, as the server explained it.
public struct APIClientError: Error, CustomStringConvertible, Sendable {
    /// HTTP status, or 0 when the server could not be reached.
    public var status: Int
    /// The server's machine-readable code (`not_found`, `invalid_name`, …) or `connection_failed`.
    public var code: String
    /// The server's sentence.
    public var message: String

    public var description: String { status == 0 ? message : "\(message) (\(status) \(code))" }

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}

/// A typed client of Slipway's REST API (`/api/v1`), authenticated by an API token.
public struct SlipwayAPIClient: Sendable {
    /// The server, e.g. `http://127.0.0.1:8080`.
    public let baseURL: String
    /// The API token sent as `Authorization: Bearer`.
    public let token: String?
    let http: HTTPClient
    private let timeout: TimeAmount

    public init(baseURL: String, token: String?, http: HTTPClient = .shared, timeout: TimeAmount = .seconds(60)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.http = http
        self.timeout = timeout
    }

    /// Sends a request with an optional JSON body and decodes the JSON answer.
    public func send<Response: Decodable>(
        _ method: APIMethod, _ path: String, body: (some Encodable)? = Optional<Empty>.none, as: Response.Type = Response.self
    ) async throws -> Response {
        let data = try await sendRaw(method, path, body: body)
        do {
            return try APICoding.decoder().decode(Response.self, from: data)
        } catch {
            throw APIClientError(status: 200, code: "unexpected_response", message: "the server's answer could not be read: \(error)")
        }
    }

    /// Sends a request whose successful answer has no body worth reading.
    public func sendIgnoringResponse(_ method: APIMethod, _ path: String, body: (some Encodable)? = Optional<Empty>.none) async throws {
        _ = try await sendRaw(method, path, body: body)
    }

    /// A value that encodes to nothing, for requests without a body.
    public struct Empty: Codable, Sendable {}

    private func sendRaw(_ method: APIMethod, _ path: String, body: (some Encodable)?) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + "/api/v1" + path)
        request.method = HTTPMethod(rawValue: method.rawValue)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "slipway-cli")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try APICoding.encoder().encode(body)))
        }
        return try await executeRaw(request)
    }

    /// Sends `request` and decodes its JSON answer.
    func execute<Response: Decodable>(_ request: HTTPClientRequest, as type: Response.Type) async throws -> Response {
        let data = try await executeRaw(request)
        do {
            return try APICoding.decoder().decode(Response.self, from: data)
        } catch {
            throw APIClientError(status: 200, code: "unexpected_response", message: "the server's answer could not be read: \(error)")
        }
    }

    func executeRaw(_ request: HTTPClientRequest) async throws -> Data {
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
            buffer = try await response.body.collect(upTo: 64 << 20)
        } catch let error as APIClientError {
            throw error
        } catch {
            throw APIClientError(status: 0, code: "connection_failed", message: "could not reach the Slipway server at \(baseURL): \(error)")
        }
        let data = Data(buffer: buffer)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Self.failure(status: Int(response.status.code), reason: response.status.reasonPhrase, body: data)
        }
        return data
    }

    /// The error a failed response carries.
    static func failure(status: Int, reason: String, body: Data) -> APIClientError {
        if let failure = try? APICoding.decoder().decode(APIErrorBody.self, from: body) {
            return APIClientError(status: status, code: failure.error.code, message: failure.error.message)
        }
        return APIClientError(status: status, code: "http_error", message: "the server answered \(status) \(reason)")
    }
}

extension SlipwayAPIClient {
    /// Percent-encodes one path segment.
    public static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text
    }
}
