import Foundation
import Hummingbird

/// The outermost error handler: every error a route throws (or a request no route matched) is answered here,
/// with the API's JSON error under `/api/`, and elsewhere with an HTML page — or, for a visitor who is not
/// signed in, a redirect to the login page that returns afterwards.
struct ErrorResponseMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pages: PageRenderer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if ["/api/2.0/", "/ajax-api/2.0/", "/api/3.0/"].contains(where: request.uri.path.hasPrefix) {
                // MLflow clients branch on `error_code`: answer in their shape even for routes that do not exist.
                return try MLflowErrorMiddleware.mlflowError(for: error, logger: context.logger, request: request)
                    .response(from: request, context: context)
            }
            if request.uri.path == "/v2" || request.uri.path.hasPrefix("/v2/") {
                // Inference clients read `{"error": "…"}`, for routes that do not exist too.
                return InferenceErrorMiddleware.response(for: error, request: request, logger: context.logger)
            }
            var apiError = APIErrorMiddleware<Context>.apiError(for: error, request: request, logger: context.logger)
            let unmatched = (error as? HTTPError)?.status == .notFound
            if request.uri.path.hasPrefix("/api/") {
                if unmatched {
                    apiError.message = "no API route matches \(request.method) \(request.uri.path); the routes are listed in /api/v1/openapi.json"
                }
                return try apiError.response(from: request, context: context)
            }
            if apiError.status == .unauthorized, request.method == .get {
                let next =
                    request.uri.path == "/"
                    ? "" : "?next=" + (request.uri.description.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
                return Response(status: .seeOther, headers: [.location: "/login" + next])
            }
            let page = ErrorPage(
                layout: .make(context.caller, section: ""), status: "\(apiError.status.code)",
                heading: apiError.status == .notFound ? "Not found" : apiError.status.reasonPhrase,
                message: unmatched ? "There is no page at \(request.uri.path)." : apiError.message)
            return pages.render("error", page, status: apiError.status)
        }
    }
}
