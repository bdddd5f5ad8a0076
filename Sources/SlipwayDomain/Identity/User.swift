import Foundation

/// A person (or service account) who signs in to Slipway.
public struct User: Codable, Sendable, Hashable, Identifiable {
    /// Stable identifier.
    public var id: UUID
    /// The sign-in name, unique across the installation.
    public var username: ResourceName
    /// Shown in the web UI; defaults to the username.
    public var displayName: String
    /// Optional contact address.
    public var email: String?
    /// Administrators manage users, quotas and nodes, and may act in every namespace.
    public var isAdmin: Bool
    /// A disabled user can neither sign in nor use tokens.
    public var isDisabled: Bool
    /// When the user was created.
    public var createdAt: Date

    public init(id: UUID, username: ResourceName, displayName: String, email: String?, isAdmin: Bool, isDisabled: Bool, createdAt: Date) {
        self.id = id
        self.username = username
        self.displayName = displayName
        self.email = email
        self.isAdmin = isAdmin
        self.isDisabled = isDisabled
        self.createdAt = createdAt
    }
}
