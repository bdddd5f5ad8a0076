import NIOCore
import SlipwayBlobs
import SlipwayData

/// A tar or tar.gz blob read entry by entry, each entry's content as a stream of buffers.
///
/// Gzip is told by the blob's first two bytes (1f 8b) and decompressed as the blob is read, a window at a time, so
/// neither the archive nor an entry is ever held whole. After the archive's end blocks the rest of a gzip stream is
/// still read, so that a damaged or truncated file is noticed. Used by one task at a time.
final class TarArchiveStream {
    private var chunks: BlobChunks.AsyncIterator
    private var reader = TarReader()
    private var inflater: GzipInflater?
    /// The blob's first bytes, held until there are two to tell gzip by; `nil` once told.
    private var head: ByteBuffer? = ByteBuffer()
    private var sourceEnded = false
    private var ended = false
    private var stashed: TarReader.Event?
    private let checkProduced: (Int64) throws -> Void

    /// Tar bytes produced so far: the blob's bytes for a tar, the decompressed bytes for a tar.gz.
    private(set) var producedBytes: Int64 = 0

    /// - Parameters:
    ///   - chunks: the blob.
    ///   - checkProduced: called with ``producedBytes`` each time it grows; throws to stop (a gzip bomb).
    init(_ chunks: BlobChunks, checkProduced: @escaping (Int64) throws -> Void = { _ in }) {
        self.chunks = chunks.makeAsyncIterator()
        self.checkProduced = checkProduced
    }

    /// The next entry, skipping what is left of the current entry's content; `nil` after the last one.
    /// - Throws: ``DataImportError`` when the archive is damaged or truncated.
    func nextEntry() async throws -> TarEntry? {
        while true {
            switch try await nextEvent() {
            case .entry(let entry): return entry
            case .data: continue
            case .end: return nil
            }
        }
    }

    /// The next bytes of the current entry's content; `nil` at its end.
    func nextContent() async throws -> ByteBuffer? {
        let event = try await nextEvent()
        if case .data(let bytes) = event { return bytes }
        stashed = event
        return nil
    }

    private func nextEvent() async throws -> TarReader.Event {
        if let event = stashed {
            stashed = nil
            return event
        }
        if ended { return .end }
        while true {
            if let event = try reader.next() {
                if case .end = event { try await finishSource() }
                return event
            }
            guard try await feed() else {
                try reader.finish()
                ended = true
                return .end
            }
        }
    }

    /// After the end blocks: reads the rest of a gzip stream, so its checksum and length are verified.
    private func finishSource() async throws {
        ended = true
        guard inflater != nil else { return }
        while try await feed() {}
    }

    /// Gives the reader more tar bytes; `false` once the blob is exhausted.
    private func feed() async throws -> Bool {
        while true {
            if let inflater {
                if let output = try inflater.next() {
                    try produce(output)
                    return true
                }
                if sourceEnded {
                    try inflater.finish()
                    return false
                }
            } else if sourceEnded {
                return false
            }
            var bytes = try await chunks.next()
            if bytes == nil { sourceEnded = true }
            if var head {
                if head.readableBytes == 0, let first = bytes, first.readableBytes >= GzipInflater.magic.count {
                    head = first
                } else if let bytes {
                    head.writeImmutableBuffer(bytes)
                }
                if head.readableBytes < GzipInflater.magic.count && !sourceEnded {
                    self.head = head
                    continue
                }
                self.head = nil
                if head.readableBytesView.starts(with: GzipInflater.magic) { inflater = try GzipInflater() }
                bytes = head
            }
            guard let bytes else { continue }
            if let inflater {
                inflater.append(bytes)
            } else {
                try produce(bytes)
                return true
            }
        }
    }

    private func produce(_ bytes: ByteBuffer) throws {
        producedBytes += Int64(bytes.readableBytes)
        try checkProduced(producedBytes)
        reader.append(bytes)
    }
}

extension TarArchiveStream {
    /// The current entry's content as a sequence of buffers (for ``BlobStore/put(_:expected:)``), each shown to `observe`
    /// first, which may throw to stop it. Read it before asking for the next entry.
    func content(observe: @escaping (ByteBuffer) throws -> Void) -> Content {
        Content(stream: self, observe: observe)
    }

    /// The content of one entry, read from the stream as it is iterated; iterate it once.
    struct Content: AsyncSequence {
        typealias Element = ByteBuffer
        let stream: TarArchiveStream
        let observe: (ByteBuffer) throws -> Void

        struct AsyncIterator: AsyncIteratorProtocol {
            let stream: TarArchiveStream
            let observe: (ByteBuffer) throws -> Void

            mutating func next() async throws -> ByteBuffer? {
                guard let bytes = try await stream.nextContent() else { return nil }
                try observe(bytes)
                return bytes
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream, observe: observe) }
    }
}
