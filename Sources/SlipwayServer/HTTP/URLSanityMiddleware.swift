import Foundation
import Hummingbird

/// Refuses URLs holding NUL characters (`%00`) in their path or query before any route sees them:
/// no name or parameter of Slipway may contain one, and PostgreSQL rejects them in text.
struct URLSanityMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let uri = request.uri.description
        if uri.range(of: "%00", options: .caseInsensitive) != nil || uri.contains("\0") {
            throw APIError.badRequest("invalid_parameter", "the URL must not contain NUL characters (%00)")
        }
        return try await next(request, context)
    }
}
