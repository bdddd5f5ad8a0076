import Foundation
import NIOCore

/// A blob's bytes as an async sequence of chunks, read on demand: the next chunk is read only
/// when the consumer asks for it, so a slow reader never makes the store buffer a whole blob.
public struct BlobChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    private let open: @Sendable () throws -> any ChunkSource

    /// A sequence whose chunks come from the source `open` makes when iteration starts.
    public init(open: @escaping @Sendable () throws -> any ChunkSource) {
        self.open = open
    }

    /// The file at `path` in chunks of `chunkSize` bytes.
    public static func file(at path: String, chunkSize: Int) -> BlobChunks {
        BlobChunks { try FileChunkSource(path: path, chunkSize: chunkSize) }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let open: @Sendable () throws -> any ChunkSource
        fileprivate var source: (any ChunkSource)?
        fileprivate var finished = false

        public mutating func next() async throws -> ByteBuffer? {
            if finished { return nil }
            if source == nil { source = try open() }
            guard let chunk = try await source?.next() else {
                finished = true
                source = nil
                return nil
            }
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(open: open) }
}

/// Produces a blob's chunks one at a time (a file handle, an HTTP response body).
public protocol ChunkSource: AnyObject {
    /// The next chunk, or `nil` at the end.
    func next() async throws -> ByteBuffer?
}

/// Reads a file in fixed-size chunks; closes it at the end or when dropped.
final class FileChunkSource: ChunkSource {
    private let handle: FileHandle
    private let chunkSize: Int

    init(path: String, chunkSize: Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BlobStoreError.io("cannot open \(path) for reading")
        }
        self.handle = handle
        self.chunkSize = max(1, chunkSize)
    }

    func next() async throws -> ByteBuffer? {
        guard let data = try handle.read(upToCount: chunkSize), !data.isEmpty else { return nil }
        return ByteBuffer(bytes: data)
    }

    deinit {
        try? handle.close()
    }
}
