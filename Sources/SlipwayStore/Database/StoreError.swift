/// An error from the metadata store that a caller can act on.
///
/// A struct wrapping a private enum, so that new cases do not break callers.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case notFound(resource: String, name: String)
        case alreadyExists(resource: String, name: String)
        case conflict(code: String, message: String)
        case configuration(String)
    }

    private let kind: Kind

    /// The resource does not exist (or is not visible to the caller).
    public static func notFound(_ resource: String, _ name: String) -> StoreError {
        StoreError(kind: .notFound(resource: resource, name: name))
    }

    /// A resource with that name already exists.
    public static func alreadyExists(_ resource: String, _ name: String) -> StoreError {
        StoreError(kind: .alreadyExists(resource: resource, name: name))
    }

    /// The change would break a rule of the platform (the last owner, a non-empty namespace).
    public static func conflict(code: String, _ message: String) -> StoreError {
        StoreError(kind: .conflict(code: code, message: message))
    }

    /// The store is configured wrongly.
    public static func configuration(_ message: String) -> StoreError {
        StoreError(kind: .configuration(message))
    }

    /// A stable machine-readable code: `not_found`, `already_exists`, `configuration`, or the conflict's own code.
    public var code: String {
        switch kind {
        case .notFound: "not_found"
        case .alreadyExists: "already_exists"
        case .conflict(let code, _): code
        case .configuration: "configuration"
        }
    }

    /// Whether the error says a resource was missing.
    public var isNotFound: Bool { if case .notFound = kind { true } else { false } }
    /// Whether the error says a resource already existed.
    public var isAlreadyExists: Bool { if case .alreadyExists = kind { true } else { false } }
    /// Whether the error is a rule conflict.
    public var isConflict: Bool { if case .conflict = kind { true } else { false } }

    public var description: String {
        switch kind {
        case .notFound(let resource, let name): "\(resource) '\(name)' does not exist"
        case .alreadyExists(let resource, let name): "\(resource) '\(name)' already exists"
        case .conflict(_, let message): message
        case .configuration(let message): message
        }
    }
}
