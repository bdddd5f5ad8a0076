import Foundation

/// An opaque page token: the offset of the next page and a fingerprint of the query that made it, so a
/// token cannot be replayed with another filter or ordering.
public struct PageToken: Sendable, Hashable {
    public var offset: Int
    public var query: String

    public init(offset: Int, query: String) {
        self.offset = offset
        self.query = query
    }

    /// Base64 of `offset:fingerprint`.
    public var encoded: String {
        Data("\(offset):\(Self.fingerprint(query))".utf8).base64EncodedString()
    }

    /// The token's offset. - Throws: ``SearchSyntaxError`` for a malformed token or one from another query.
    public static func decode(_ token: String, query: String) throws -> PageToken {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8) else {
            throw SearchSyntaxError("invalid page token")
        }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let offset = Int(parts[0]), offset >= 0 else { throw SearchSyntaxError("invalid page token") }
        guard parts[1] == Self.fingerprint(query) else {
            throw SearchSyntaxError("the page token belongs to another search; repeat the same filter and order_by with it")
        }
        return PageToken(offset: offset, query: query)
    }

    /// FNV-1a of the query, in hex: stable across processes and servers.
    static func fingerprint(_ query: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in query.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
