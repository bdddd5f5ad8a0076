import CompressNIO
import NIOCore
import SlipwayData

/// Decompresses a gzip stream given in pieces, one window of output at a time, so output never piles up in memory.
///
/// Several members one after the other (as `cat a.gz b.gz` makes) are read as one stream; bytes after the last member
/// that do not start another one (padding) are ignored. zlib verifies each member's CRC and length as it ends, and
/// ``finish()`` refuses a stream that stops inside a member.
final class GzipInflater {
    /// The first two bytes of every gzip member.
    static let magic: [UInt8] = [0x1F, 0x8B]

    private let decompressor: ZlibDecompressor
    private let windowSize: Int
    private let allocator = ByteBufferAllocator()
    private var input: ByteBuffer
    /// zlib reached the end of the current member.
    private var memberEnded = false
    /// The bytes after the last member start no new one: they, and all that follow, are ignored.
    private var ignoringRest = false
    /// The last call filled its window: zlib may hold more output even without more input.
    private var mayHoldOutput = false

    /// - Parameter windowSize: the most bytes ``next()`` returns at once.
    init(windowSize: Int = 64 << 10) throws {
        self.decompressor = try ZlibDecompressor(algorithm: .gzip)
        self.windowSize = windowSize
        self.input = allocator.buffer(capacity: 16)
    }

    /// Gives the next compressed bytes.
    func append(_ compressed: ByteBuffer) {
        guard !ignoringRest, compressed.readableBytes > 0 else { return }
        if input.readableBytes == 0 {
            input = compressed
        } else {
            var merged = allocator.buffer(capacity: input.readableBytes + compressed.readableBytes)
            merged.writeImmutableBuffer(input)
            merged.writeImmutableBuffer(compressed)
            input = merged
        }
    }

    /// The next decompressed bytes (at most a window), or `nil` when more input is needed.
    /// - Throws: ``DataImportError`` when the compressed data is corrupt.
    func next() throws -> ByteBuffer? {
        while true {
            if ignoringRest { return nil }
            if memberEnded {
                guard input.readableBytes >= Self.magic.count else { return nil }
                guard input.readableBytesView.starts(with: Self.magic) else {
                    ignoringRest = true
                    input = allocator.buffer(capacity: 16)
                    return nil
                }
                try decompressor.reset()
                memberEnded = false
            }
            guard input.readableBytes > 0 || mayHoldOutput else { return nil }
            var window = allocator.buffer(capacity: windowSize)
            do {
                try decompressor.inflate(from: &input, to: &window)
                // Without an error zlib stops before the end of its input only at the end of a member.
                mayHoldOutput = false
                if input.readableBytes > 0 { memberEnded = true }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                mayHoldOutput = true
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                mayHoldOutput = false
            } catch {
                throw DataImportError.invalid("the archive is damaged: its gzip data is corrupt (\(error))")
            }
            if window.readableBytes > 0 { return window }
        }
    }

    /// Says that no more input will come; call it once ``next()`` has returned `nil`.
    /// - Throws: ``DataImportError`` when the stream stops inside a member (a truncated file).
    func finish() throws {
        if memberEnded || ignoringRest { return }
        // zlib does not tell whether it reached the member's end: offer it one more byte, which an ended member leaves unread.
        var probe = allocator.buffer(capacity: 16)
        probe.writeInteger(UInt8(0))
        var output = allocator.buffer(capacity: 64)
        let truncated = DataImportError.invalid("the archive is truncated: its gzip data stops short")
        do {
            try decompressor.inflate(from: &probe, to: &output)
        } catch {
            throw truncated
        }
        guard probe.readableBytes == 1, output.readableBytes == 0 else { throw truncated }
        memberEnded = true
    }
}
