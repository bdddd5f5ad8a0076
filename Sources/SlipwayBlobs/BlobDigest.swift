import Crypto
import Foundation

/// The SHA-256 of a blob's bytes: its name in every blob store.
///
/// Only 64 lowercase hex digits are accepted, so a digest can never name a path outside the store.
public struct BlobDigest: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The 64 lowercase hex digits.
    public let hex: String

    /// Validates `hex`; returns `nil` for anything but 64 lowercase hex digits.
    public init?(hex: String) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        self.hex = hex
    }

    /// The digest of `bytes`, computed here.
    public init(of bytes: some DataProtocol) {
        self.init(finalizing: SHA256.hash(data: bytes))
    }

    init(finalizing digest: SHA256.Digest) {
        self.hex = digest.map { String(format: "%02x", $0) }.joined()
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let digest = BlobDigest(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a SHA-256 hex digest"))
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    public var description: String { "sha256:\(hex)" }

    public static func < (lhs: BlobDigest, rhs: BlobDigest) -> Bool { lhs.hex < rhs.hex }
}

/// What a store knows of one blob.
public struct BlobInfo: Hashable, Sendable, Codable {
    /// The blob's name.
    public var digest: BlobDigest
    /// Its length in bytes.
    public var size: Int64

    public init(digest: BlobDigest, size: Int64) {
        self.digest = digest
        self.size = size
    }
}

/// What a garbage collection removed.
public struct BlobCollectionReport: Sendable, Equatable {
    /// Blobs deleted because nothing referenced them.
    public var deleted: [BlobDigest] = []
    /// Bytes freed.
    public var freedBytes: Int64 = 0
    /// Unreferenced blobs kept because they are younger than the grace period (an upload may be about to reference them).
    public var keptYoung: Int = 0

    public init() {}
}
