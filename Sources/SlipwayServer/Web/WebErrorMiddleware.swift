import Foundation
import HTTPTypes
import Hummingbird

/// Answers errors on web pages with an HTML page (or, when not signed in, a redirect to the login page).
struct WebErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pages: PageRenderer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIErrorMiddleware<Context>.apiError(for: error, request: request, logger: context.logger)
            if apiError.status == .unauthorized, request.method == .get {
                let target =
                    request.uri.path == "/"
                    ? "" : "?next=" + (request.uri.description.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
                return Response(status: .seeOther, headers: [.location: "/login" + target])
            }
            let page = ErrorPage(
                layout: .make(context.caller, section: ""), status: "\(apiError.status.code)",
                heading: apiError.status == .notFound ? "Not found" : apiError.status.reasonPhrase, message: apiError.message)
            return pages.render("error", page, status: apiError.status)
        }
    }
}
