import Foundation

// Request and response bodies of the identity and tenancy API (`/api/v1`), shared by the
// server and the client. JSON keys are snake_case on the wire.

/// A list response: `{"items": [...]}`.
public struct ItemList<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public init(items: [Item]) { self.items = items }
}

/// `POST /api/v1/auth/token`: exchange a username and password for a new API token.
public struct PasswordTokenRequest: Codable, Sendable {
    public var username: String
    public var password: String
    public var name: String
    public var expiresInDays: Int?
    public init(username: String, password: String, name: String, expiresInDays: Int? = nil) {
        self.username = username
        self.password = password
        self.name = name
        self.expiresInDays = expiresInDays
    }
}

/// `POST /api/v1/tokens`: create a token for the calling user.
public struct CreateTokenRequest: Codable, Sendable {
    public var name: String
    public var expiresInDays: Int?
    public init(name: String, expiresInDays: Int? = nil) {
        self.name = name
        self.expiresInDays = expiresInDays
    }
}

/// `POST /api/v1/users` (admins).
public struct CreateUserRequest: Codable, Sendable {
    public var username: String
    public var password: String
    public var displayName: String?
    public var email: String?
    public var isAdmin: Bool?
    public init(username: String, password: String, displayName: String? = nil, email: String? = nil, isAdmin: Bool? = nil) {
        self.username = username
        self.password = password
        self.displayName = displayName
        self.email = email
        self.isAdmin = isAdmin
    }
}

/// `PATCH /api/v1/users/{username}` (admins).
public struct UpdateUserRequest: Codable, Sendable {
    public var displayName: String?
    public var email: String?
    public var password: String?
    public var isAdmin: Bool?
    public var isDisabled: Bool?
    public init(displayName: String? = nil, email: String? = nil, password: String? = nil, isAdmin: Bool? = nil, isDisabled: Bool? = nil) {
        self.displayName = displayName
        self.email = email
        self.password = password
        self.isAdmin = isAdmin
        self.isDisabled = isDisabled
    }
}

/// `POST /api/v1/me/password`: a user changes their own password.
public struct ChangePasswordRequest: Codable, Sendable {
    public var currentPassword: String
    public var newPassword: String
    public init(currentPassword: String, newPassword: String) {
        self.currentPassword = currentPassword
        self.newPassword = newPassword
    }
}

/// `POST /api/v1/namespaces`.
public struct CreateNamespaceRequest: Codable, Sendable {
    public var name: String
    public var displayName: String?
    public var description: String?
    public init(name: String, displayName: String? = nil, description: String? = nil) {
        self.name = name
        self.displayName = displayName
        self.description = description
    }
}

/// `PATCH /api/v1/namespaces/{namespace}`.
public struct UpdateNamespaceRequest: Codable, Sendable {
    public var displayName: String?
    public var description: String?
    public init(displayName: String? = nil, description: String? = nil) {
        self.displayName = displayName
        self.description = description
    }
}

/// A namespace as listed for a caller, with the caller's role in it (`nil` for admins who are not members).
public struct NamespaceListing: Codable, Sendable {
    public var namespace: Namespace
    public var role: Role?
    public init(namespace: Namespace, role: Role?) {
        self.namespace = namespace
        self.role = role
    }
}

/// `PUT /api/v1/namespaces/{namespace}/members/{username}`.
public struct SetMemberRequest: Codable, Sendable {
    public var role: Role
    public init(role: Role) { self.role = role }
}

/// `POST /api/v1/namespaces/{namespace}/projects`.
public struct CreateProjectRequest: Codable, Sendable {
    public var name: String
    public var description: String?
    public init(name: String, description: String? = nil) {
        self.name = name
        self.description = description
    }
}

/// `PATCH /api/v1/namespaces/{namespace}/projects/{project}`.
public struct UpdateProjectRequest: Codable, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// A page of audit events, newest first; pass `next_before` as `before` to get the next page.
public struct AuditPage: Codable, Sendable {
    public var items: [AuditEvent]
    public var nextBefore: Int64?
    public init(items: [AuditEvent], nextBefore: Int64?) {
        self.items = items
        self.nextBefore = nextBefore
    }
}

/// The error body every failed `/api/v1` request returns.
public struct APIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }
    public var error: Detail
    public init(code: String, message: String) { self.error = Detail(code: code, message: message) }
}

/// The JSON coders both sides of the API use: snake_case keys, ISO 8601 dates.
public enum APICoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
