import Foundation
import HTTPTypes
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// Names of the cookies the web UI uses.
enum CookieName {
    /// The browser session id.
    static let session = "slipway_session"
    /// The CSRF token of a visitor who has not signed in yet (double-submit, for the login form).
    static let loginCSRF = "slipway_login_csrf"
}

/// Establishes who is calling: from `Authorization: Bearer <token>` or from the session cookie.
///
/// A bearer token that does not authenticate is refused at once (401). For API routes, a request
/// authenticated by cookie that changes state must also carry the session's CSRF token in `X-CSRF-Token`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let store: MetadataStore
    let now: @Sendable () -> Date
    /// Whether cookie-authenticated unsafe requests must carry `X-CSRF-Token` (API routes: yes; web forms check `_csrf` themselves).
    let requireCSRFHeader: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIError.unauthenticated("unsupported Authorization header; send 'Authorization: Bearer <token>'")
            }
            let secret = String(parts[1]).trimmingCharacters(in: .whitespaces)
            guard let caller = try await BearerTokens(store: store).caller(secret: secret, at: now()) else {
                var error = APIError.unauthenticated("the API token is unknown, expired or revoked")
                error.code = "invalid_token"
                throw error
            }
            if let scope = caller.jobScope, !BearerTokens.jobMayCall(request.uri.path, scope: scope) {
                throw APIError(.forbidden, code: "job_token_scope", "a job's token may only use its own namespace and job")
            }
            context.caller = caller
        } else if let sessionID = request.cookies[CookieName.session]?.value,
            let (session, user) = try await store.sessions.session(idHash: SecretGenerator.digest(sessionID), at: now())
        {
            if requireCSRFHeader, !request.method.isSafe {
                guard let sent = request.headers[HTTPField.Name("X-CSRF-Token")!],
                    SecretGenerator.constantTimeEquals(sent, session.csrfToken)
                else {
                    throw APIError(
                        .forbidden, code: "csrf_failed", "requests authenticated by cookie must send the session's CSRF token in X-CSRF-Token")
                }
            }
            context.caller = Caller(user: user, credential: .session(session))
        }
        return try await next(request, context)
    }
}

/// Sets the largest body a route collects.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let maxBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.maxBodyBytes = maxBytes
        return try await next(request, context)
    }
}

extension HTTPRequest.Method {
    /// GET, HEAD and OPTIONS change nothing.
    var isSafe: Bool { self == .get || self == .head || self == .options }
}
