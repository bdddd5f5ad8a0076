import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SlipwayDomain
import SlipwayStore

/// Authenticates MLflow clients with their standard credentials: `MLFLOW_TRACKING_TOKEN` arrives as
/// `Authorization: Bearer <API token>`, `MLFLOW_TRACKING_USERNAME`/`PASSWORD` as Basic. A verified Basic
/// credential is remembered (by its SHA-256) for a minute, so a client that sends it on every call does not
/// pay a bcrypt check each time; a changed password or a disabled user is noticed within that minute.
struct MLflowAuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let store: MetadataStore
    let passwords: PasswordHasher
    let now: @Sendable () -> Date
    let cache = BasicCredentialCache()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authorization = request.headers[.authorization] else {
            throw MLflowError.unauthenticated(
                "Slipway needs credentials: set MLFLOW_TRACKING_TOKEN to an API token, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { throw MLflowError.unauthenticated("the Authorization header is malformed") }
        var context = context
        switch parts[0].lowercased() {
        case "bearer":
            let secret = String(parts[1]).trimmingCharacters(in: .whitespaces)
            guard let caller = try await BearerTokens(store: store).caller(secret: secret, at: now()) else {
                throw MLflowError.unauthenticated("the API token is unknown, expired or revoked")
            }
            context.caller = caller
        case "basic":
            guard let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
                let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { throw MLflowError.unauthenticated("the Basic credentials are malformed") }
            let username = String(text[..<colon])
            let password = String(text[text.index(after: colon)...])
            let key = Data(SHA256.hash(data: decoded))
            if let user = cache.user(for: key, at: now()) {
                context.caller = Caller(user: user, credential: .basic)
            } else {
                let credentials = username.contains("\0") ? nil : try await store.users.credentials(named: username)
                let matches = try await passwords.verify(password, against: credentials?.passwordHash)
                guard matches, let user = credentials?.user, !user.isDisabled else {
                    throw MLflowError.unauthenticated("wrong username or password, or the account is disabled")
                }
                cache.remember(user, for: key, at: now())
                context.caller = Caller(user: user, credential: .basic)
            }
        default:
            throw MLflowError.unauthenticated("unsupported Authorization scheme; use Bearer (an API token) or Basic")
        }
        return try await next(request, context)
    }
}

/// Basic credentials verified recently, by the SHA-256 of `username:password`.
final class BasicCredentialCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Data: (user: User, until: Date)] = [:]

    func user(for key: Data, at time: Date) -> User? {
        lock.withLock {
            guard let entry = entries[key], entry.until > time else { return nil }
            return entry.user
        }
    }

    func remember(_ user: User, for key: Data, at time: Date) {
        lock.withLock {
            if entries.count > 10_000 { entries = entries.filter { $0.value.until > time } }
            entries[key] = (user, time.addingTimeInterval(60))
        }
    }
}

/// Turns every error under the MLflow routes into MLflow's shape: `{"error_code", "message"}` with the
/// status the stock client branches on. Never a 5xx for a user's mistake (the client retries 5xx).
struct MLflowErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try Self.mlflowError(for: error, logger: context.logger, request: request).response(from: request, context: context)
        }
    }

    static func mlflowError(for error: any Error, logger: Logger, request: Request) -> MLflowError {
        switch error {
        case let error as MLflowError:
            return error
        case let error as APIError:
            switch error.status {
            case .notFound: return .notFound(error.message)
            case .unauthorized: return .unauthenticated(error.message)
            case .forbidden: return .denied(error.message)
            case .conflict: return .exists(error.message)
            case .contentTooLarge: return MLflowError(status: .contentTooLarge, code: "INVALID_PARAMETER_VALUE", message: error.message)
            default: return .invalid(error.message)
            }
        case let error as StoreError:
            if error.isNotFound { return .notFound(error.description) }
            if error.isAlreadyExists { return .exists(error.description) }
            return .invalid(error.description)
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            return MLflowError(status: .contentTooLarge, code: "INVALID_PARAMETER_VALUE", message: "the request body is too large")
        case let error as HTTPError where error.status == .notFound:
            return MLflowError(
                status: .notFound, code: "ENDPOINT_NOT_FOUND", message: "Slipway does not serve \(request.method) \(request.uri.path)")
        default:
            logger.error("unhandled error in an MLflow call", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return MLflowError(status: .internalServerError, code: "INTERNAL_ERROR", message: "the server failed; see its log")
        }
    }
}
