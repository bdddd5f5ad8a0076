import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// User accounts, managed by administrators.
struct UserController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy
    let passwords: PasswordHasher

    func register(on api: RouterGroup<AppRequestContext>) {
        api.get("users", use: list)
        api.post("users", use: create)
        api.get("users/{username}", use: show)
        api.patch("users/{username}", use: update)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<User> {
        _ = try access.admin(context)
        return ItemList(items: try await store.users.list())
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Created<User> {
        let caller = try access.admin(context)
        let body = try await request.decodeJSON(CreateUserRequest.self, context: context)
        let username = try validName(body.username, field: "username")
        if let problem = PasswordHasher.problem(with: body.password) { throw APIError.invalidField("password", problem) }
        try Self.validate(email: body.email)
        let user = try await store.users.create(
            NewUser(username: username, displayName: body.displayName, email: body.email, isAdmin: body.isAdmin ?? false),
            passwordHash: try await passwords.hash(body.password), by: caller.auditActor)
        return Created(value: user)
    }

    /// A user's account; users may read their own, administrators anyone's.
    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> User {
        let caller = try access.caller(context)
        let username = try context.parameters.require("username")
        guard caller.user.isAdmin || caller.user.username.value == username,
            let user = try await store.users.user(named: username)
        else { throw APIError.notFound("user '\(username)' does not exist") }
        return user
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> User {
        let caller = try access.admin(context)
        let username = try context.parameters.require("username")
        let body = try await request.decodeJSON(UpdateUserRequest.self, context: context)
        guard let user = try await store.users.user(named: username) else { throw APIError.notFound("user '\(username)' does not exist") }
        if user.id == caller.user.id, body.isAdmin == false || body.isDisabled == true {
            throw APIError.conflict("self_lockout", "administrators cannot remove their own admin rights or disable themselves")
        }
        try Self.validate(email: body.email)
        var change = UserChange(displayName: body.displayName, email: body.email, isAdmin: body.isAdmin, isDisabled: body.isDisabled)
        if let password = body.password {
            if let problem = PasswordHasher.problem(with: password) { throw APIError.invalidField("password", problem) }
            change.passwordHash = try await passwords.hash(password)
        }
        return try await store.users.update(id: user.id, change, by: caller.auditActor)
    }

    static func validate(email: String?) throws {
        guard let email else { return }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        if email.count > 254 || parts.count != 2 || parts[0].isEmpty || !parts[1].contains(".") || email.contains(" ") {
            throw APIError.invalidField("email", "must be an e-mail address such as ada@example.com")
        }
    }
}
