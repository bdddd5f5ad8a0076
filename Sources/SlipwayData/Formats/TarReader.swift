import NIOCore

/// One entry of a tar archive, as its header (and any GNU long-name or pax header before it) describes it.
public struct TarEntry: Sendable, Hashable {
    /// The path: a pax `path` record, else a GNU long name, else the ustar `prefix` and `name` fields joined.
    public var path: String
    /// What the entry is, in the words of ``ArchivePolicy``: character and block devices and FIFOs are `.other`.
    public var kind: ArchivePolicy.EntryKind
    /// The header's type flag (`0`, `5`, `2`, …) as a byte.
    public var typeFlag: UInt8
    /// How many bytes of content follow the header: 0 for folders, links and devices, which carry none.
    public var size: Int64
    /// A link's target (a pax `linkpath`, a GNU long link name or the `linkname` field); empty for other entries.
    public var linkTarget: String
    /// The permission bits (`0o755`), when the header's mode field is readable.
    public var mode: Int?

    public init(path: String, kind: ArchivePolicy.EntryKind, typeFlag: UInt8, size: Int64, linkTarget: String = "", mode: Int? = nil) {
        self.path = path
        self.kind = kind
        self.typeFlag = typeFlag
        self.size = size
        self.linkTarget = linkTarget
        self.mode = mode
    }
}

/// Reads a tar archive (ustar, GNU and pax) from bytes given in pieces of any size, without ever holding an entry
/// or the archive whole: feed it with ``append(_:)`` and take ``next()`` events until it asks for more.
///
/// It verifies every header's checksum, reads sizes in octal or base-256, joins the ustar `prefix` to the name,
/// applies GNU long names (`L`, `K`) and pax extended headers (`x`: `path`, `size`, `linkpath`) to the entry that
/// follows, ignores pax global headers (`g`), and stops at the two zero blocks that end an archive. Content bytes are
/// handed out as slices of the input, not copied. Pure code: decompression and storage happen elsewhere.
public struct TarReader {
    /// What the reader found next.
    public enum Event: Sendable, Equatable {
        /// A header: the entry's content, if any, follows as `data` events.
        case entry(TarEntry)
        /// The next bytes of the current entry's content.
        case data(ByteBuffer)
        /// The end-of-archive blocks; nothing follows.
        case end
    }

    /// The size of a tar block: headers are one block; content is padded to whole blocks.
    public static let blockSize = 512

    /// The largest GNU long name or pax header accepted, in bytes: such headers are held whole while read.
    public let maximumMetadataSize: Int

    private enum State {
        case header
        case metadata(type: UInt8, remaining: Int, padding: Int)
        case data(remaining: Int64, padding: Int)
        case padding(Int)
        case firstZeroBlock
        case ended
    }

    private var input = ByteBuffer()
    private var state = State.header
    private var headersRead = 0
    private var lastPath: String?
    private var currentPath = ""
    private var metadata: [UInt8] = []
    private var longName: String?
    private var longLinkName: String?
    private var paxPath: String?
    private var paxSize: Int64?
    private var paxLinkPath: String?

    public init(maximumMetadataSize: Int = 1 << 20) {
        self.maximumMetadataSize = maximumMetadataSize
    }

    /// Whether the end-of-archive blocks have been read.
    public var isAtEnd: Bool {
        if case .ended = state { return true }
        return false
    }

    /// Gives the reader the next bytes of the archive. Bytes after the end of the archive are ignored.
    public mutating func append(_ buffer: ByteBuffer) {
        if isAtEnd || buffer.readableBytes == 0 { return }
        if input.readableBytes == 0 {
            input = buffer
        } else {
            var merged = ByteBufferAllocator().buffer(capacity: input.readableBytes + buffer.readableBytes)
            merged.writeImmutableBuffer(input)
            merged.writeImmutableBuffer(buffer)
            input = merged
        }
    }

    /// The next event, or `nil` when the reader needs more bytes (``append(_:)``) to tell.
    /// After ``Event/end`` it keeps answering `.end`.
    /// - Throws: ``DataImportError`` for a header with a wrong checksum or unreadable fields.
    public mutating func next() throws -> Event? {
        while true {
            switch state {
            case .ended:
                return .end
            case .header:
                guard let block = input.readBytes(length: Self.blockSize) else { return nil }
                if block.allSatisfy({ $0 == 0 }) {
                    if longName != nil || longLinkName != nil || paxPath != nil || paxSize != nil || paxLinkPath != nil {
                        throw damaged("a long-name or pax header is followed by the end of the archive")
                    }
                    state = .firstZeroBlock
                    continue
                }
                if let event = try readHeader(block) { return event }
            case .metadata(let type, let remaining, let padding):
                if remaining > 0 {
                    guard input.readableBytes > 0 else { return nil }
                    let count = min(remaining, input.readableBytes)
                    metadata += input.readBytes(length: count)!
                    state = .metadata(type: type, remaining: remaining - count, padding: padding)
                    continue
                }
                try applyMetadata(type: type)
                state = padding > 0 ? .padding(padding) : .header
            case .data(let remaining, let padding):
                if remaining == 0 {
                    state = padding > 0 ? .padding(padding) : .header
                    continue
                }
                guard input.readableBytes > 0 else { return nil }
                let count = Int(min(remaining, Int64(input.readableBytes)))
                let slice = input.readSlice(length: count)!
                state = .data(remaining: remaining - Int64(count), padding: padding)
                return .data(slice)
            case .padding(let remaining):
                guard input.readableBytes > 0 else { return nil }
                let count = min(remaining, input.readableBytes)
                input.moveReaderIndex(forwardBy: count)
                state = remaining > count ? .padding(remaining - count) : .header
            case .firstZeroBlock:
                guard let block = input.readBytes(length: Self.blockSize) else { return nil }
                guard block.allSatisfy({ $0 == 0 }) else { throw damaged("a single zero block is followed by more entries") }
                state = .ended
                input = ByteBuffer()
                return .end
            }
        }
    }

    /// Says that no more bytes will come: fine once the archive's end blocks were read (a lone zero block at the very end
    /// is accepted too). - Throws: ``DataImportError`` when the archive stops short.
    public func finish() throws {
        let after = lastPath.map { "after entry '\($0)'" } ?? "before its first entry"
        switch state {
        case .ended, .firstZeroBlock:
            return
        case .header where headersRead == 0:
            throw DataImportError.invalid(input.readableBytes == 0 ? "the file is empty, not a tar archive" : "the file is not a tar archive")
        case .header where input.readableBytes == 0:
            throw DataImportError.invalid(
                "the archive is truncated: it stops \(after) without the blocks that end a tar archive")
        case .header, .metadata:
            throw DataImportError.invalid("the archive is truncated: it stops inside a header \(after)")
        case .data, .padding:
            throw DataImportError.invalid("the archive is truncated: it stops inside entry '\(currentPath)'")
        }
    }

    // MARK: - Headers

    private mutating func readHeader(_ block: [UInt8]) throws -> Event? {
        guard let stored = Self.octal(block[148..<156]) else { throw wrongChecksum() }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = (148..<156).contains(index) ? 0x20 : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else { throw wrongChecksum() }
        headersRead += 1

        let type = block[156]
        guard let declaredSize = Self.number(block[124..<136]) else { throw damaged("a header has an unreadable size") }
        let isPOSIX = block[257..<263].elementsEqual("ustar\0".utf8)
        var path = Self.string(block[0..<100])
        if isPOSIX {
            let prefix = Self.string(block[345..<500])
            if !prefix.isEmpty { path = prefix + "/" + path }
        }

        switch type {
        case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g"):
            guard declaredSize <= Int64(maximumMetadataSize) else {
                throw DataImportError.invalid(
                    "the archive is damaged or hostile: a long-name or pax header of \(declaredSize) bytes is larger than \(maximumMetadataSize)")
            }
            metadata = []
            state = .metadata(type: type, remaining: Int(declaredSize), padding: Self.padding(declaredSize))
            return nil
        default:
            break
        }

        let kind: ArchivePolicy.EntryKind
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "2"): kind = .symbolicLink
        case UInt8(ascii: "1"): kind = .hardLink
        default: kind = .other
        }
        // Links, devices, FIFOs and folders carry no content, whatever their size field says.
        let carriesNoContent = [UInt8]("123456".utf8).contains(type)
        let size = carriesNoContent ? 0 : (paxSize ?? declaredSize)
        let entry = TarEntry(
            path: paxPath ?? longName ?? path, kind: kind, typeFlag: type, size: size,
            linkTarget: paxLinkPath ?? longLinkName ?? Self.string(block[157..<257]), mode: Self.octal(block[100..<108]).map { Int($0 & 0o7777) })
        (longName, longLinkName, paxPath, paxSize, paxLinkPath) = (nil, nil, nil, nil, nil)
        lastPath = entry.path
        currentPath = entry.path
        state = .data(remaining: size, padding: Self.padding(size))
        return .entry(entry)
    }

    private mutating func applyMetadata(type: UInt8) throws {
        defer { metadata = [] }
        switch type {
        case UInt8(ascii: "L"): longName = Self.string(metadata[...])
        case UInt8(ascii: "K"): longLinkName = Self.string(metadata[...])
        case UInt8(ascii: "x"):
            for (key, value) in try paxRecords(metadata) {
                switch key {
                case "path": paxPath = value
                case "linkpath": paxLinkPath = value
                case "size":
                    guard let size = Int64(value), size >= 0 else { throw damaged("a pax header has an unreadable size '\(value)'") }
                    paxSize = size
                default: break
                }
            }
        default: break  // `g`: global pax headers change nothing that matters here.
        }
    }

    /// The `key=value` records of a pax header: each is `LENGTH key=value\n`, LENGTH counting the whole record.
    private func paxRecords(_ bytes: [UInt8]) throws -> [(String, String)] {
        var records: [(String, String)] = []
        var start = 0
        while start < bytes.count {
            if bytes[start] == 0 { break }  // some writers pad the header with NULs
            guard let space = bytes[start...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: bytes[start..<space], as: UTF8.self)), length > space - start + 1,
                start + length <= bytes.count, bytes[start + length - 1] == UInt8(ascii: "\n"),
                let equals = bytes[(space + 1)..<(start + length)].firstIndex(of: UInt8(ascii: "="))
            else { throw damaged("a pax header is malformed") }
            records.append(
                (
                    String(decoding: bytes[(space + 1)..<equals], as: UTF8.self),
                    String(decoding: bytes[(equals + 1)..<(start + length - 1)], as: UTF8.self)
                ))
            start += length
        }
        return records
    }

    private func wrongChecksum() -> DataImportError {
        headersRead == 0
            ? DataImportError.invalid("the file is not a tar archive (its first header's checksum is wrong)")
            : damaged("a header has a wrong checksum")
    }

    private func damaged(_ problem: String) -> DataImportError {
        DataImportError.invalid("the archive is damaged \(lastPath.map { "after entry '\($0)'" } ?? "at its first entry"): \(problem)")
    }

    // MARK: - Fields

    /// Bytes of padding after `size` bytes of content, up to the next block.
    static func padding(_ size: Int64) -> Int {
        Int((Int64(blockSize) - size % Int64(blockSize)) % Int64(blockSize))
    }

    /// A NUL-terminated text field.
    static func string(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// A numeric field: octal digits (spaces and NULs around them), or GNU base-256 when the first byte's high bit is set.
    static func number(_ field: ArraySlice<UInt8>) -> Int64? {
        guard let first = field.first else { return nil }
        guard first & 0x80 != 0 else { return octal(field) }
        guard first & 0x40 == 0 else { return nil }  // negative
        var value = Int64(first & 0x3F)
        for byte in field.dropFirst() {
            guard value <= (Int64.max - Int64(byte)) >> 8 else { return nil }
            value = value << 8 | Int64(byte)
        }
        return value
    }

    /// An octal field; empty or all blank reads as 0.
    static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
        let blank: (UInt8) -> Bool = { $0 == 0 || $0 == UInt8(ascii: " ") }
        let digits = field.drop(while: blank).prefix(while: { !blank($0) })
        guard field.drop(while: blank).dropFirst(digits.count).allSatisfy(blank) else { return nil }
        var value: Int64 = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(digit), value <= (Int64.max >> 3) else { return nil }
            value = value << 3 | Int64(digit - UInt8(ascii: "0"))
        }
        return value
    }
}
