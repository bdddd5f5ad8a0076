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
