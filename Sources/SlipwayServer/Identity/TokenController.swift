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
        _ = try access.caller(context)
        return Created(value: try await create(try await request.decodeJSON(CreateTokenRequest.self, context: context), context: context))
    }

    func create(_ body: CreateTokenRequest, context: AppRequestContext) async throws -> IssuedAPIToken {
        let caller = try access.caller(context)
        return try await tokens.issue(for: caller.user, name: body.name, expiresInDays: body.expiresInDays, by: caller.auditActor)
    }

    /// Revokes one of the caller's tokens (administrators may revoke anyone's).
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> APIToken {
        try await revoke(id: try context.parameters.require("id"), context: context)
    }

    func revoke(id text: String, context: AppRequestContext) async throws -> APIToken {
        let caller = try access.caller(context)
        guard let id = UUID(uuidString: text), let token = try await store.tokens.token(id: id),
            token.userID == caller.user.id || caller.user.isAdmin
        else { throw APIError.notFound("token '\(text)' does not exist") }
        return try await store.tokens.revoke(id: id, by: caller.auditActor)
    }
}
