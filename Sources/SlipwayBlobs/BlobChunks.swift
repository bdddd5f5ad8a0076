import NIOCore
import NIOPosix

/// A blob's bytes as an async sequence of chunks, read on demand: the next chunk is read only
/// when the consumer asks for it, so a slow reader never makes the store buffer a whole blob.
///
/// The sequence may be iterated more than once; each iteration opens its own source.
public struct BlobChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    private let open: @Sendable () throws -> any ChunkSource

    /// A sequence whose chunks come from the source `open` makes when iteration starts.
    public init(open: @escaping @Sendable () throws -> any ChunkSource) {
        self.open = open
    }

    /// The file at `path` in chunks of `chunkSize` bytes (the last one shorter), read on `threadPool`.
    public static func file(at path: String, chunkSize: Int, threadPool: NIOThreadPool = .singleton) -> BlobChunks {
        BlobChunks {
            guard let source = try FileChunkSource(path: path, chunkSize: chunkSize, threadPool: threadPool) else {
                throw BlobStoreError.io("cannot open \(path): no such file")
            }
            return source
        }
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

/// Reads a file in fixed-size chunks on a thread pool; closes it at the end or when dropped.
///
/// The file is opened when the source is made (when iteration starts); once open, it reads to its end even if the
/// file is removed meanwhile.
final class FileChunkSource: ChunkSource {
    /// The largest chunk a reader may ask for; larger requests get chunks of this size.
    static let maximumChunkSize = 16 << 20

    private var descriptor: Int32?
    private let chunkSize: Int
    private let threadPool: NIOThreadPool
    private let allocator = ByteBufferAllocator()

    /// Opens `path`; `nil` when there is no such file.
    init?(path: String, chunkSize: Int, threadPool: NIOThreadPool) throws {
        guard let descriptor = try BlobFileIO.openForReading(path) else { return nil }
        self.descriptor = descriptor
        self.chunkSize = min(max(1, chunkSize), Self.maximumChunkSize)
        self.threadPool = threadPool
    }

    func next() async throws -> ByteBuffer? {
        guard let descriptor else { return nil }
        let (size, allocator) = (chunkSize, allocator)
        let chunk = try await threadPool.runIfActive { try BlobFileIO.read(descriptor, upTo: size, allocator: allocator) }
        if chunk.readableBytes == 0 {
            BlobFileIO.close(descriptor)
            self.descriptor = nil
            return nil
        }
        return chunk
    }

    deinit {
        if let descriptor { BlobFileIO.close(descriptor) }
    }
}
