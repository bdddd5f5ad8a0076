import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayDomain

/// An error a client sees: an HTTP status, a stable machine-readable code and a sentence for people.
///
/// The body is always `{"error": {"code": "...", "message": "..."}}`.
public struct APIError: HTTPResponseError, CustomStringConvertible, Sendable {
    public var status: HTTPResponse.Status
    /// Stable code clients may branch on (`not_found`, `invalid_name`, …).
    public var code: String
    /// What went wrong, for a person.
    public var message: String
    /// Extra headers (`WWW-Authenticate`).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try APICoding.encoder().encode(APIErrorBody(code: code, message: message))
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError {
    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code: code, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, code: "forbidden", message) }
    static func conflict(_ code: String, _ message: String) -> APIError { APIError(.conflict, code: code, message) }

    static func unauthenticated(_ message: String = "sign in or send an API token as 'Authorization: Bearer <token>'") -> APIError {
        var error = APIError(.unauthorized, code: "unauthenticated", message)
        error.headers[.wwwAuthenticate] = "Bearer realm=\"slipway\""
        return error
    }

    static func invalidName(_ field: String, _ error: InvalidNameError) -> APIError {
        .badRequest("invalid_name", "field '\(field)': \(error.description)")
    }

    static func invalidField(_ field: String, _ problem: String) -> APIError {
        .badRequest("invalid_field", "field '\(field)' \(problem)")
    }
}

/// Validates a name from a request body or path, turning a bad one into a 400 `invalid_name`.
func validName(_ text: String, field: String) throws -> ResourceName {
    do {
        return try ResourceName(validating: text)
    } catch {
        throw APIError.invalidName(field, error)
    }
}

/// Checks that a free-text field is at most `limit` characters, turning a longer one into a 400 `invalid_field`.
func validText(_ text: String?, field: String, limit: Int) throws {
    if let text, text.count > limit { throw APIError.invalidField(field, "must be at most \(limit) characters long") }
}
