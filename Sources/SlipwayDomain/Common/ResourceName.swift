/// A name that identifies a resource inside its parent (a namespace, a project, a token, a user).
///
/// Names are what users type in URLs and on the command line, so they are kept to
/// `[a-z0-9][a-z0-9-]{0,62}`: lowercase, URL-safe, at most 63 characters.
public struct ResourceName: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The validated text of the name.
    public let value: String

    /// The longest name accepted.
    public static let maximumLength = 63

    /// Validates `text` as a resource name.
    /// - Throws: ``InvalidNameError`` saying what is wrong with the name.
    public init(validating text: String) throws(InvalidNameError) {
        if let problem = Self.problem(with: text) {
            throw InvalidNameError(name: text, problem: problem)
        }
        self.value = text
    }

    /// Returns a sentence describing why `text` is not a valid name, or `nil` when it is.
    public static func problem(with text: String) -> String? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty else { return "a name must not be empty" }
        guard utf8.count <= maximumLength else {
            return "a name must be at most \(maximumLength) characters long"
        }
        func isLowerAlnum(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        guard isLowerAlnum(utf8[0]) else { return "a name must start with a lowercase letter or a digit" }
        for byte in utf8.dropFirst() where !(isLowerAlnum(byte) || byte == UInt8(ascii: "-")) {
            return "a name may contain only lowercase letters, digits and '-'"
        }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(validating: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    public var description: String { value }

    public static func < (lhs: ResourceName, rhs: ResourceName) -> Bool { lhs.value < rhs.value }
}

/// Thrown when a text is not a valid ``ResourceName``.
public struct InvalidNameError: Error, CustomStringConvertible, Sendable {
    /// The rejected text.
    public let name: String
    /// Why it was rejected, as a sentence fragment.
    public let problem: String

    public var description: String {
        "'\(name)' is not a valid name: \(problem) (allowed: [a-z0-9][a-z0-9-]{0,62})"
    }
}
