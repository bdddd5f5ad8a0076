import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// Signing in from scripts (`/auth/token`) and the caller's own account (`/me`).
struct AuthController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy
    let passwords: PasswordHasher
    let tokens: TokenIssuer

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post("auth/token", use: passwordToken)
        api.get("me", use: me)
        api.post("me/password", use: changePassword)
    }

    /// Exchanges a username and password for a new API token (what `slipway login` does).
    @Sendable func passwordToken(_ request: Request, context: AppRequestContext) async throws -> Created<IssuedAPIToken> {
        let body = try await request.decodeJSON(PasswordTokenRequest.self, context: context)
        let user = try await verifiedUser(username: body.username, password: body.password)
        return Created(value: try await tokens.issue(for: user, name: body.name, expiresInDays: body.expiresInDays, by: .user(user)))
    }

    @Sendable func me(_ request: Request, context: AppRequestContext) async throws -> User {
        try access.caller(context).user
    }

    @Sendable func changePassword(_ request: Request, context: AppRequestContext) async throws -> User {
        let caller = try access.caller(context)
        let body = try await request.decodeJSON(ChangePasswordRequest.self, context: context)
        _ = try await verifiedUser(username: caller.user.username.value, password: body.currentPassword)
        if let problem = PasswordHasher.problem(with: body.newPassword) { throw APIError.invalidField("new_password", problem) }
        return try await store.users.update(
            id: caller.user.id, UserChange(passwordHash: try await passwords.hash(body.newPassword)), by: caller.auditActor)
    }

    /// The enabled user with this username and password. - Throws: 401 `invalid_credentials` otherwise, saying nothing of which was wrong.
    func verifiedUser(username: String, password: String) async throws -> User {
        let credentials = try await store.users.credentials(named: username)
        let matches = try await passwords.verify(password, against: credentials?.passwordHash)
        guard matches, let user = credentials?.user, !user.isDisabled else {
            throw APIError(.unauthorized, code: "invalid_credentials", "the username or password is wrong, or the account is disabled")
        }
        return user
    }
}

/// Creates API tokens: validates the request, makes the secret, stores only its hash.
struct TokenIssuer: Sendable {
    let store: MetadataStore
    let now: @Sendable () -> Date

    /// The longest lifetime a token may be given.
    static let maximumDays = 3650

    func issue(for user: User, name: String, expiresInDays: Int?, by actor: AuditActor) async throws -> IssuedAPIToken {
        let name = try validName(name, field: "name")
        if let days = expiresInDays, !(1...Self.maximumDays).contains(days) {
            throw APIError.invalidField("expires_in_days", "must be between 1 and \(Self.maximumDays)")
        }
        let secret = SecretGenerator.apiTokenSecret()
        let token = try await store.tokens.create(
            userID: user.id, name: name, prefix: String(secret.prefix(12)), secretHash: SecretGenerator.digest(secret),
            expiresAt: expiresInDays.map { now().addingTimeInterval(Double($0) * 86400) }, by: actor)
        return IssuedAPIToken(token: token, secret: secret)
    }
}
