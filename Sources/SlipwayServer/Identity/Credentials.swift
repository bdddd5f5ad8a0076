import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// Hashes and checks passwords with bcrypt, off the event loops.
public struct PasswordHasher: Sendable {
    /// bcrypt work factor.
    public let cost: Int

    public init(cost: Int) {
        self.cost = min(max(cost, 4), 31)
    }

    /// The longest password bcrypt can tell apart.
    static let maximumBytes = 72
    /// The shortest password accepted for a new account.
    static let minimumLength = 8

    /// Returns why `password` is not acceptable for a new account, or `nil`.
    static func problem(with password: String) -> String? {
        if password.count < minimumLength { return "must be at least \(minimumLength) characters long" }
        if password.utf8.count > maximumBytes { return "must be at most \(maximumBytes) bytes long" }
        return nil
    }

    /// A bcrypt hash of `password`.
    public func hash(_ password: String) async throws -> String {
        let cost = UInt8(self.cost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. Always does the same work, so a missing user takes as long as a wrong password.
    public func verify(_ password: String, against hash: String?) async throws -> Bool {
        let hash = hash ?? Self.decoyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        return matches && hash != Self.decoyHash
    }

    /// A valid hash of a random password, checked against when the user does not exist.
    private static let decoyHash = Bcrypt.hash(SecretGenerator.hex(bytes: 16), cost: 10)
}

/// Makes random secrets and hashes them for storage.
enum SecretGenerator {
    /// `bytes` random bytes as lowercase hex, from the system's cryptographic generator.
    static func hex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// A new API token secret: `slw_` and 64 hex digits.
    static func apiTokenSecret() -> String { "slw_" + hex(bytes: 32) }

    /// What a job attempt's token starts with.
    static let jobTokenPrefix = "slwt_"

    /// A new token for a job's attempt: `slwt_` and 64 hex digits.
    static func jobTokenSecret() -> String { jobTokenPrefix + hex(bytes: 32) }

    /// The SHA-256 of `secret` as hex: what is stored in place of tokens and session ids.
    static func digest(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares two strings in time independent of where they differ.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
