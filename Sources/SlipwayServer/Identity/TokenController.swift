import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// The caller's API tokens: list, create (the secret is shown once), revoke.
struct TokenController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy
    let tokens: TokenIssuer

    func register(on api: RouterGroup<AppRequestContext>) {
        api.get("tokens", use: list)
        api.post("tokens", use: create)
        api.delete("tokens/{id}", use: revoke)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<APIToken> {
        let caller = try access.caller(context)
        return ItemList(items: try await store.tokens.list(userID: caller.user.id))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Created<IssuedAPIToken> {
        let caller = try access.caller(context)
        let body = try await request.decodeJSON(CreateTokenRequest.self, context: context)
        return Created(value: try await tokens.issue(for: caller.user, name: body.name, expiresInDays: body.expiresInDays, by: caller.auditActor))
    }

    /// Revokes one of the caller's tokens (administrators may revoke anyone's).
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> APIToken {
        let caller = try access.caller(context)
        let text = try context.parameters.require("id")
        guard let id = UUID(uuidString: text), let token = try await store.tokens.token(id: id),
              token.userID == caller.user.id || caller.user.isAdmin
        else { throw APIError.notFound("token '\(text)' does not exist") }
        return try await store.tokens.revoke(id: id, by: caller.auditActor)
    }
}
