import Foundation
import HTTPTypes
import Hummingbird
import SlipwayDomain
import SlipwayServing
import SlipwayStore
import Synchronization

/// Who calls the gateway, remembered briefly: inference clients send the same bearer token with every request,
/// and looking it up in the database each time would cost more than the model. A token revoked or expired stops
/// working within ``lifetime`` (5 seconds); a token that does not authenticate is never remembered. Browser
/// sessions (the "try it" form's page) go through ``AuthenticationMiddleware`` as everywhere else.
struct InferenceAuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let store: MetadataStore
    let now: @Sendable () -> Date
    let fallback: AuthenticationMiddleware
    let callers: RememberedCallers
    var lifetime: TimeInterval = 5

    init(store: MetadataStore, now: @escaping @Sendable () -> Date, callers: RememberedCallers = RememberedCallers()) {
        self.store = store
        self.now = now
        self.callers = callers
        self.fallback = AuthenticationMiddleware(store: store, now: now, requireCSRFHeader: true)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authorization = request.headers[.authorization], authorization.count > 7,
            authorization.prefix(7).lowercased() == "bearer "
        else { return try await fallback.handle(request, context: context, next: next) }
        let secret = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        // The secret itself is the key: it is in memory with the request anyway, and hashing it would cost more than
        // the lookup saves.
        let key = secret
        let time = now()
        var context = context
        if let caller = callers.caller(for: key, at: time) {
            context.caller = caller
            return try await next(request, context)
        }
        guard let caller = try await BearerTokens(store: store).caller(secret: secret, at: time) else {
            throw GatewayError(status: 401, "the API token is unknown, expired or revoked")
        }
        // A job's token lives only while its attempt holds its node: it is checked every time.
        if caller.jobScope == nil {
            var until = time.addingTimeInterval(lifetime)
            if case .token(let token) = caller.credential, let expiry = token.expiresAt { until = min(until, expiry) }
            callers.remember(caller, for: key, until: until)
        }
        context.caller = caller
        return try await next(request, context)
    }
}

/// Callers by the digest of their token, each until a moment.
final class RememberedCallers: Sendable {
    private let entries = Mutex<[String: (caller: Caller, until: Date)]>([:])

    func caller(for key: String, at now: Date) -> Caller? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.until <= now {
                entries[key] = nil
                return nil
            }
            return entry.caller
        }
    }

    func remember(_ caller: Caller, for key: String, until: Date) {
        entries.withLock { entries in
            if entries.count >= 10_000 { entries.removeAll() }
            entries[key] = (caller, until)
        }
    }
}
