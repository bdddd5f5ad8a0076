import Foundation
import Hummingbird

/// The outermost error handler: requests that no route matched, or errors that escaped a group's own handler,
/// get the API's JSON error under `/api/` and an HTML page elsewhere.
struct FallbackErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pages: PageRenderer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var apiError = APIErrorMiddleware<Context>.apiError(for: error, request: request, logger: context.logger)
            if request.uri.path.hasPrefix("/api/") {
                if let error = error as? HTTPError, error.status == .notFound {
                    apiError.message = "no API route matches \(request.method) \(request.uri.path); the routes are listed in /api/v1/openapi.json"
                }
                return try apiError.response(from: request, context: context)
            }
            let page = ErrorPage(
                layout: .make(context.caller, section: ""), status: "\(apiError.status.code)",
                heading: apiError.status == .notFound ? "Not found" : apiError.status.reasonPhrase,
                message: apiError.status == .notFound ? "There is no page at \(request.uri.path)." : apiError.message)
            return pages.render("error", page, status: apiError.status)
        }
    }
}
