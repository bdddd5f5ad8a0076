/// An error from a blob store.
///
/// A struct wrapping a private enum, so that new cases do not break callers.
public struct BlobStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case digestMismatch(expected: BlobDigest, actual: BlobDigest)
        case sizeMismatch(expected: Int64, actual: Int64)
        case notFound(BlobDigest)
        case io(String)
    }

    private let kind: Kind

    /// The bytes received do not hash to the digest the writer announced; nothing was stored.
    public static func digestMismatch(expected: BlobDigest, actual: BlobDigest) -> BlobStoreError {
        BlobStoreError(kind: .digestMismatch(expected: expected, actual: actual))
    }

    /// The number of bytes received differs from the size announced; nothing was stored.
    public static func sizeMismatch(expected: Int64, actual: Int64) -> BlobStoreError {
        BlobStoreError(kind: .sizeMismatch(expected: expected, actual: actual))
    }

    /// No blob has that digest.
    public static func notFound(_ digest: BlobDigest) -> BlobStoreError { BlobStoreError(kind: .notFound(digest)) }

    /// The storage failed (disk full, permissions).
    public static func io(_ message: String) -> BlobStoreError { BlobStoreError(kind: .io(message)) }

    /// Whether the blob was missing.
    public var isNotFound: Bool { if case .notFound = kind { true } else { false } }
    /// Whether the content did not match what was announced.
    public var isMismatch: Bool {
        switch kind {
        case .digestMismatch, .sizeMismatch: true
        default: false
        }
    }

    public var description: String {
        switch kind {
        case .digestMismatch(let expected, let actual):
            "the uploaded bytes hash to \(actual), not the announced \(expected); nothing was stored"
        case .sizeMismatch(let expected, let actual):
            "received \(actual) bytes, not the announced \(expected); nothing was stored"
        case .notFound(let digest): "blob \(digest) does not exist"
        case .io(let message): "blob storage failed: \(message)"
        }
    }
}
