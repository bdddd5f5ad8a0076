import Foundation
import SQLKit
import SlipwayDomain

/// Fields of a user to create.
public struct NewUser: Sendable {
    public var username: ResourceName
    public var displayName: String
    public var email: String?
    public var isAdmin: Bool

    public init(username: ResourceName, displayName: String? = nil, email: String? = nil, isAdmin: Bool = false) {
        self.username = username
        self.displayName = displayName ?? username.value
        self.email = email
        self.isAdmin = isAdmin
    }
}

/// Changes to a user; `nil` fields stay as they are.
public struct UserChange: Sendable {
    public var displayName: String?
    public var email: String?
    public var passwordHash: String?
    public var isAdmin: Bool?
    public var isDisabled: Bool?

    public init(displayName: String? = nil, email: String? = nil, passwordHash: String? = nil, isAdmin: Bool? = nil, isDisabled: Bool? = nil) {
        self.displayName = displayName
        self.email = email
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
        self.isDisabled = isDisabled
    }
}

/// Stores users and their password hashes.
public protocol UserRepository: Sendable {
    /// Creates a user. - Throws: ``StoreError`` `already_exists` when the username is taken.
    func create(_ user: NewUser, passwordHash: String, by actor: AuditActor) async throws -> User
    /// The user with this username.
    func user(named username: String) async throws -> User?
    /// The user with this id.
    func user(id: UUID) async throws -> User?
    /// The user and the stored password hash, for signing in.
    func credentials(named username: String) async throws -> (user: User, passwordHash: String)?
    /// Every user, by username.
    func list() async throws -> [User]
    /// Applies `change`. - Throws: ``StoreError`` `not_found`.
    func update(id: UUID, _ change: UserChange, by actor: AuditActor) async throws -> User
    /// How many users exist.
    func count() async throws -> Int
}

/// Users in the SQL database.
public struct SQLUserRepository: UserRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(_ user: NewUser, passwordHash: String, by actor: AuditActor) async throws -> User {
        let row = UserRow(
            id: UUID().uuidString, username: user.username.value, displayName: user.displayName, email: user.email,
            passwordHash: passwordHash, isAdmin: user.isAdmin, isDisabled: false, createdAt: Date().timeIntervalSince1970)
        do {
            try await database.write { db in
                if try await db.select().column("id").from("users").where("username", .equal, row.username).first() != nil {
                    throw StoreError.alreadyExists("user", row.username)
                }
                try await db.insert(into: "users").model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
                try await db.recordAudit(
                    actor, "user.create", targetType: "user", target: row.username,
                    details: ["is_admin": String(row.isAdmin)])
            }
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("user", row.username)
        }
        return try row.user()
    }

    public func user(named username: String) async throws -> User? {
        try await credentials(named: username)?.user
    }

    public func user(id: UUID) async throws -> User? {
        try await database.read { db in
            try await db.select().column("*").from("users").where("id", .equal, id.uuidString)
                .first(decoding: UserRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.user()
    }

    public func credentials(named username: String) async throws -> (user: User, passwordHash: String)? {
        // A name that is not valid cannot exist; not asking the database also keeps bytes it rejects (NUL) away from it.
        guard ResourceName.problem(with: username) == nil else { return nil }
        guard
            let row = try await database.read({ db in
                try await db.select().column("*").from("users").where("username", .equal, username)
                    .first(decoding: UserRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            })
        else { return nil }
        return (try row.user(), row.passwordHash)
    }

    public func list() async throws -> [User] {
        try await database.read { db in
            try await db.select().column("*").from("users").orderBy("username")
                .all(decoding: UserRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { try $0.user() }
    }

    public func update(id: UUID, _ change: UserChange, by actor: AuditActor) async throws -> User {
        try await database.write { db in
            guard
                var row = try await db.select().column("*").from("users").where("id", .equal, id.uuidString)
                    .first(decoding: UserRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("user", id.uuidString) }
            var changed: [String: String] = [:]
            if let value = change.displayName { row.displayName = value; changed["display_name"] = value }
            if let value = change.email { row.email = value; changed["email"] = value }
            if let value = change.passwordHash { row.passwordHash = value; changed["password"] = "changed" }
            if let value = change.isAdmin { row.isAdmin = value; changed["is_admin"] = String(value) }
            if let value = change.isDisabled { row.isDisabled = value; changed["is_disabled"] = String(value) }
            try await db.update("users")
                .set("display_name", to: row.displayName).set("email", to: row.email)
                .set("password_hash", to: row.passwordHash).set("is_admin", to: row.isAdmin)
                .set("is_disabled", to: row.isDisabled)
                .where("id", .equal, row.id).run()
            if change.isDisabled == true {
                // A disabled user's browser sessions end at once.
                try await db.delete(from: "web_sessions").where("user_id", .equal, row.id).run()
            }
            try await db.recordAudit(actor, "user.update", targetType: "user", target: row.username, details: changed)
            return try row.user()
        }
    }

    public func count() async throws -> Int {
        try await database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM users").first(decodingColumn: "n", as: Int.self) ?? 0
        }
    }
}

struct UserRow: Codable, Sendable {
    var id: String
    var username: String
    var displayName: String
    var email: String?
    var passwordHash: String
    var isAdmin: Bool
    var isDisabled: Bool
    var createdAt: Double

    func user() throws -> User {
        User(
            id: UUID(uuidString: id)!, username: try ResourceName(validating: username), displayName: displayName,
            email: email, isAdmin: isAdmin, isDisabled: isDisabled, createdAt: Date(timeIntervalSince1970: createdAt))
    }
}
