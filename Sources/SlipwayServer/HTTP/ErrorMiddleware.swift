import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SlipwayDomain
import SlipwayStore

/// Turns every error thrown by an API route into the one error shape, with the right status.
///
/// Errors meant for clients (``APIError``, store errors, Hummingbird's HTTP errors, body limits) keep
/// their status and get a code; anything else is a bug: it is logged with context and answered with a 500.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw Self.apiError(for: error, request: request, logger: context.logger)
        }
    }

    static func apiError(for error: any Error, request: Request, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as StoreError:
            if error.isNotFound { return APIError(.notFound, code: error.code, error.description) }
            if error.isAlreadyExists || error.isConflict { return APIError(.conflict, code: error.code, error.description) }
        case let error as HTTPError:
            return APIError(error.status, code: code(for: error.status), error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            return APIError(.contentTooLarge, code: "payload_too_large", "the request body is larger than the server accepts")
        default:
            break
        }
        logger.error(
            "unhandled error",
            metadata: [
                "error": "\(String(reflecting: error))", "method": "\(request.method)", "path": "\(request.uri.path)",
            ])
        return APIError(.internalServerError, code: "internal", "the server failed to handle the request; the error was logged")
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .badRequest: "bad_request"
        case .unauthorized: "unauthenticated"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .conflict: "conflict"
        case .contentTooLarge: "payload_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        default: status.code < 500 ? "bad_request" : "internal"
        }
    }
}
