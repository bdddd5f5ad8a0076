import Foundation
import SQLKit
import SlipwayDomain

/// Stores API tokens by the hash of their secret.
public protocol TokenRepository: Sendable {
    /// Stores a new token. - Throws: ``StoreError`` `already_exists` when the user has a live token of that name.
    func create(userID: UUID, name: ResourceName, prefix: String, secretHash: String, expiresAt: Date?, by actor: AuditActor) async throws -> APIToken
    /// The user's tokens, newest first, revoked ones included.
    func list(userID: UUID) async throws -> [APIToken]
    /// The token with this id.
    func token(id: UUID) async throws -> APIToken?
    /// Revokes the token; revoking twice is harmless. - Throws: ``StoreError`` `not_found`.
    func revoke(id: UUID, by actor: AuditActor) async throws -> APIToken
    /// The usable token whose secret hashes to `secretHash`, and its user; records the use.
    func authenticate(secretHash: String, at now: Date) async throws -> (token: APIToken, user: User)?
}

/// API tokens in the SQL database.
public struct SQLTokenRepository: TokenRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(
        userID: UUID, name: ResourceName, prefix: String, secretHash: String, expiresAt: Date?, by actor: AuditActor
    ) async throws -> APIToken {
        let row = TokenRow(
            id: UUID().uuidString, userId: userID.uuidString, name: name.value, prefix: prefix, secretHash: secretHash,
            createdAt: Date().timeIntervalSince1970, expiresAt: expiresAt?.timeIntervalSince1970, lastUsedAt: nil, revokedAt: nil)
        do {
            try await database.write { db in
                let clash = try await db.select().column("id").from("api_tokens")
                    .where("user_id", .equal, row.userId).where("name", .equal, row.name).where("revoked_at", .is, SQLLiteral.null)
                    .first()
                if clash != nil { throw StoreError.alreadyExists("token", row.name) }
                try await db.insert(into: "api_tokens").model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
                try await db.recordAudit(
                    actor, "token.create", targetType: "token", target: row.name,
                    details: ["token_id": row.id, "prefix": prefix])
            }
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("token", row.name)
        }
        return try row.token()
    }

    public func list(userID: UUID) async throws -> [APIToken] {
        try await database.read { db in
            try await db.select().column("*").from("api_tokens").where("user_id", .equal, userID.uuidString)
                .orderBy("created_at", .descending)
                .all(decoding: TokenRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { try $0.token() }
    }

    public func token(id: UUID) async throws -> APIToken? {
        try await database.read { db in
            try await db.select().column("*").from("api_tokens").where("id", .equal, id.uuidString)
                .first(decoding: TokenRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.token()
    }

    public func revoke(id: UUID, by actor: AuditActor) async throws -> APIToken {
        try await database.write { db in
            guard
                var row = try await db.select().column("*").from("api_tokens").where("id", .equal, id.uuidString)
                    .first(decoding: TokenRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("token", id.uuidString) }
            if row.revokedAt == nil {
                row.revokedAt = Date().timeIntervalSince1970
                try await db.update("api_tokens").set("revoked_at", to: row.revokedAt).where("id", .equal, row.id).run()
                try await db.recordAudit(actor, "token.revoke", targetType: "token", target: row.name, details: ["token_id": row.id])
            }
            return try row.token()
        }
    }

    public func authenticate(secretHash: String, at now: Date) async throws -> (token: APIToken, user: User)? {
        let found = try await database.read { db -> (TokenRow, UserRow)? in
            guard
                let token = try await db.select().column("*").from("api_tokens").where("secret_hash", .equal, secretHash)
                    .first(decoding: TokenRow.self, keyDecodingStrategy: .convertFromSnakeCase),
                let user = try await db.select().column("*").from("users").where("id", .equal, token.userId)
                    .first(decoding: UserRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { return nil }
            return (token, user)
        }
        guard let (tokenRow, userRow) = found else { return nil }
        let token = try tokenRow.token()
        let user = try userRow.user()
        guard token.isUsable(at: now), !user.isDisabled else { return nil }
        // Record the use at most once a minute, so reads do not turn every request into a write.
        if (tokenRow.lastUsedAt ?? 0) < now.timeIntervalSince1970 - 60 {
            try await database.write { db in
                try await db.update("api_tokens").set("last_used_at", to: now.timeIntervalSince1970)
                    .where("id", .equal, tokenRow.id).run()
            }
        }
        return (token, user)
    }
}

struct TokenRow: Codable, Sendable {
    var id: String
    var userId: String
    var name: String
    var prefix: String
    var secretHash: String
    var createdAt: Double
    var expiresAt: Double?
    var lastUsedAt: Double?
    var revokedAt: Double?

    func token() throws -> APIToken {
        APIToken(
            id: UUID(uuidString: id)!, userID: UUID(uuidString: userId)!, name: try ResourceName(validating: name), prefix: prefix,
            createdAt: Date(timeIntervalSince1970: createdAt), expiresAt: expiresAt.map(Date.init(timeIntervalSince1970:)),
            lastUsedAt: lastUsedAt.map(Date.init(timeIntervalSince1970:)), revokedAt: revokedAt.map(Date.init(timeIntervalSince1970:)))
    }
}
