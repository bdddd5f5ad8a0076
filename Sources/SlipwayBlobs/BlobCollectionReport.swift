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
