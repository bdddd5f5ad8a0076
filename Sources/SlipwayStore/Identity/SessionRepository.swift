import Foundation
import SQLKit
import SlipwayDomain

/// A signed-in browser session. The cookie holds a random id; only its hash is stored.
public struct WebSession: Sendable, Hashable {
    /// SHA-256 of the cookie's session id.
    public var idHash: String
    /// The signed-in user.
    public var userID: UUID
    /// The token every form post of this session must carry.
    public var csrfToken: String
    /// When the session ends.
    public var expiresAt: Date

    public init(idHash: String, userID: UUID, csrfToken: String, expiresAt: Date) {
        self.idHash = idHash
        self.userID = userID
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

/// Stores browser sessions. Sessions live in the database so any replica can serve any request.
public protocol SessionRepository: Sendable {
    /// Stores a new session.
    func create(_ session: WebSession, by actor: AuditActor) async throws
    /// The live session with this id hash, and its enabled user.
    func session(idHash: String, at now: Date) async throws -> (session: WebSession, user: User)?
    /// Ends a session (sign out).
    func delete(idHash: String, by actor: AuditActor) async throws
    /// Removes sessions that ended before `now`; returns how many.
    @discardableResult func deleteExpired(at now: Date) async throws -> Int
}

/// Browser sessions in the SQL database.
public struct SQLSessionRepository: SessionRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(_ session: WebSession, by actor: AuditActor) async throws {
        try await database.write { db in
            try await db.insert(into: "web_sessions")
                .columns("id_hash", "user_id", "csrf_token", "created_at", "expires_at")
                .values(
                    SQLBind(session.idHash), SQLBind(session.userID.uuidString), SQLBind(session.csrfToken),
                    SQLBind(Date().timeIntervalSince1970), SQLBind(session.expiresAt.timeIntervalSince1970)
                )
                .run()
            try await db.recordAudit(actor, "session.create", targetType: "session", target: actor.name)
        }
    }

    public func session(idHash: String, at now: Date) async throws -> (session: WebSession, user: User)? {
        try await database.read { db -> (session: WebSession, user: User)? in
            guard
                let row = try await db.select().column("*").from("web_sessions").where("id_hash", .equal, idHash)
                    .where("expires_at", .greaterThan, now.timeIntervalSince1970).first(),
                let userID = try row.decode(column: "user_id", as: String.self) as String?,
                let user = try await db.select().column("*").from("users").where("id", .equal, userID)
                    .first(decoding: UserRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { return nil }
            let session = WebSession(
                idHash: idHash, userID: UUID(uuidString: userID)!, csrfToken: try row.decode(column: "csrf_token", as: String.self),
                expiresAt: Date(timeIntervalSince1970: try row.decode(column: "expires_at", as: Double.self)))
            let resolved = try user.user()
            return resolved.isDisabled ? nil : (session, resolved)
        }
    }

    public func delete(idHash: String, by actor: AuditActor) async throws {
        try await database.write { db in
            try await db.delete(from: "web_sessions").where("id_hash", .equal, idHash).run()
            try await db.recordAudit(actor, "session.delete", targetType: "session", target: actor.name)
        }
    }

    @discardableResult
    public func deleteExpired(at now: Date) async throws -> Int {
        try await database.write { db in
            let count =
                try await db.raw("SELECT COUNT(*) AS n FROM web_sessions WHERE expires_at <= \(bind: now.timeIntervalSince1970)")
                .first(decodingColumn: "n", as: Int.self) ?? 0
            try await db.delete(from: "web_sessions").where("expires_at", .lessThanOrEqual, now.timeIntervalSince1970).run()
            return count
        }
    }
}
