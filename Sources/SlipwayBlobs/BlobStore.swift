import Foundation
import NIOCore

/// Content-addressed storage for datasets, artifacts and models: blobs named by the SHA-256 of their bytes.
///
/// Writes are streamed and atomic: a blob becomes visible only once all its bytes are stored and its digest
/// verified, and storing content that exists already writes nothing new. Reads are streamed in chunks,
/// so no blob is ever held whole in memory. The filesystem implementation is ``FileBlobStore``;
/// an S3-compatible one serves the cluster shape.
public protocol BlobStore: Sendable {
    /// Stores the bytes of `chunks`.
    /// - Parameters:
    ///   - chunks: the content, in any chunking (an HTTP request body, a file read in pieces).
    ///   - expected: when given, the digest the content must have; on a mismatch nothing is stored.
    /// - Returns: the digest and size of what was stored.
    /// - Throws: ``BlobStoreError`` on a mismatch or a storage failure; any error of `chunks`.
    func put(_ chunks: some AsyncSequence<ByteBuffer, any Error>, expected: BlobDigest?) async throws -> BlobInfo

    /// The size of the blob, or `nil` when the store has no such blob.
    func info(_ digest: BlobDigest) async throws -> BlobInfo?

    /// The blob's bytes in chunks of at most `chunkSize` bytes.
    /// - Throws: ``BlobStoreError`` `notFound` when the store has no such blob.
    func read(_ digest: BlobDigest, chunkSize: Int) async throws -> BlobChunks

    /// Deletes a blob; returns whether it existed.
    @discardableResult func delete(_ digest: BlobDigest) async throws -> Bool

    /// Every stored blob, in no particular order, produced as the store is walked.
    func list() -> AsyncThrowingStream<BlobInfo, any Error>

    /// Deletes the blobs `isReferenced` says nothing uses, sparing those stored less than `grace` ago so that an
    /// upload in flight (blobs stored, version not yet committed) loses nothing.
    ///
    /// `isReferenced` is asked with the blob's last store time (a re-store or ``retain(_:)`` refreshes it) while the
    /// blob is locked against writers, so a writer that stores or retains the blob meanwhile is never undone:
    /// either it finds the blob gone and stores it again, or the question sees its fresh time.
    func collectGarbage(
        grace: Duration, isReferenced: @Sendable (BlobDigest, _ storedAt: Date) async throws -> Bool
    ) async throws -> BlobCollectionReport

    /// Marks a stored blob as stored now, as storing its content again would, so that a collection running now spares
    /// it (an import that will reference a blob uploaded long ago). - Returns: false when the store has no such blob.
    func retain(_ digest: BlobDigest) async throws -> Bool
}

extension BlobStore {
    /// Whether the store has the blob.
    public func contains(_ digest: BlobDigest) async throws -> Bool { try await info(digest) != nil }

    /// Stores the file at `path`, read in chunks.
    public func putFile(at path: String, expected: BlobDigest? = nil, chunkSize: Int = 1 << 20) async throws -> BlobInfo {
        try await put(BlobChunks.file(at: path, chunkSize: chunkSize), expected: expected)
    }

    /// Stores `bytes` (for small content: manifests, metadata).
    public func put(bytes: [UInt8], expected: BlobDigest? = nil) async throws -> BlobInfo {
        try await put(SingleChunk(buffer: ByteBuffer(bytes: bytes)), expected: expected)
    }

    /// The whole blob in memory: for small blobs only (manifests, metadata).
    public func bytes(_ digest: BlobDigest, limit: Int = 64 << 20) async throws -> [UInt8] {
        var result: [UInt8] = []
        for try await chunk in try await read(digest, chunkSize: 1 << 20) {
            result.append(contentsOf: chunk.readableBytesView)
            if result.count > limit { throw BlobStoreError.io("blob \(digest) is larger than \(limit) bytes") }
        }
        return result
    }
}

/// One buffer as an async sequence.
struct SingleChunk: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffer: ByteBuffer

    struct AsyncIterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer?
        mutating func next() async throws -> ByteBuffer? {
            defer { buffer = nil }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer) }
}
