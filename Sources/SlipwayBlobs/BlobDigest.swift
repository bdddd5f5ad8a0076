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

    /// The digest a finished hash computed.
    init(finalizing digest: SHA256.Digest) {
        let digits = Array("0123456789abcdef".utf8)
        self.hex = String(unsafeUninitializedCapacity: 64) { text in
            var index = 0
            for byte in digest {
                text[index] = digits[Int(byte >> 4)]
                text[index + 1] = digits[Int(byte & 0x0f)]
                index += 2
            }
            return index
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let digest = BlobDigest(hex: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text.prefix(80))' is not a SHA-256 hex digest"))
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
