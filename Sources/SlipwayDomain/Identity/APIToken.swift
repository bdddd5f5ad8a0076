import Foundation

/// A long-lived credential for scripts and the CLI. Only a hash of its secret is stored;
/// the secret itself is shown once, when the token is created.
public struct APIToken: Codable, Sendable, Hashable, Identifiable {
    enum CodingKeys: String, CodingKey {
        case id
        case userID = "userId"
        case name
        case prefix
        case createdAt
        case expiresAt
        case lastUsedAt
        case revokedAt
    }

    /// Stable identifier, used to revoke the token.
    public var id: UUID
    /// The user the token acts as.
    public var userID: UUID
    /// A label chosen by the user ("laptop", "ci").
    public var name: ResourceName
    /// The first characters of the secret, to recognise it in a list.
    public var prefix: String
    /// When the token was created.
    public var createdAt: Date
    /// After this time the token no longer authenticates; `nil` for never.
    public var expiresAt: Date?
    /// The last time the token authenticated a request (updated at most once a minute).
    public var lastUsedAt: Date?
    /// When the token was revoked, if it was.
    public var revokedAt: Date?

    public init(id: UUID, userID: UUID, name: ResourceName, prefix: String, createdAt: Date, expiresAt: Date?, lastUsedAt: Date?, revokedAt: Date?) {
        self.id = id
        self.userID = userID
        self.name = name
        self.prefix = prefix
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Whether the token may authenticate a request at `now`.
    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }
}

/// A token together with its secret: returned once, at creation.
public struct IssuedAPIToken: Codable, Sendable {
    /// The stored token.
    public var token: APIToken
    /// The secret to send as `Authorization: Bearer <secret>`. It cannot be shown again.
    public var secret: String

    public init(token: APIToken, secret: String) {
        self.token = token
        self.secret = secret
    }
}
