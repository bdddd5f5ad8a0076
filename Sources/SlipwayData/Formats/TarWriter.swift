import Foundation

/// Writes a tar archive (POSIX ustar, with a pax `path` record for names ustar cannot hold) of regular files,
/// byte for byte the same for the same files: no times, owners or user names go in, only paths, permission bits
/// and content. That makes an archive's SHA-256 a name for its content (a job's code snapshot).
///
/// Entries are written in the order given; callers sort them for a stable digest.
public struct TarWriter {
    private let output: FileHandle
    /// Bytes written so far.
    public private(set) var size: Int64 = 0

    /// Writes to `output`, which must be open for writing at its start.
    public init(output: FileHandle) {
        self.output = output
    }

    /// Adds a regular file at `path` (relative, `/`-separated) with `mode` (`0o644`, `0o755`), its content read from `source`.
    /// - Throws: when the file changes size while being read, or writing fails.
    public mutating func addFile(path: String, mode: Int, source: URL) throws {
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        let length = Int64(try input.seekToEnd())
        try input.seek(toOffset: 0)
        if Array(path.utf8).count > 100 { try write(Self.paxHeader(path: path)) }
        try write(Self.header(name: path, mode: mode, size: length, type: UInt8(ascii: "0")))
        var copied: Int64 = 0
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            copied += Int64(chunk.count)
            guard copied <= length else { break }
            try write(chunk)
        }
        guard copied == length else {
            throw DataImportError.invalid("\(path) changed while it was being archived; archive again")
        }
        try write(Data(count: Self.padding(length)))
    }

    /// Writes the two zero blocks that end an archive.
    public mutating func finish() throws {
        try write(Data(count: 1024))
    }

    private mutating func write(_ data: Data) throws {
        try output.write(contentsOf: data)
        size += Int64(data.count)
    }

    static func padding(_ size: Int64) -> Int { Int((512 - size % 512) % 512) }

    /// A pax extended header carrying `path`, with its content and padding.
    static func paxHeader(path: String) -> Data {
        // A record is "LEN path=VALUE\n", LEN counting the whole record, its own digits included.
        let body = " path=\(path)\n"
        var length = body.utf8.count + 1
        while String(length).utf8.count + body.utf8.count != length { length += 1 }
        let record = Data("\(length)\(body)".utf8)
        var data = header(name: "PaxHeader", mode: 0o644, size: Int64(record.count), type: UInt8(ascii: "x"))
        data.append(record)
        data.append(Data(count: padding(Int64(record.count))))
        return data
    }

    /// One 512-byte ustar header; a name over 100 bytes is cut (a pax header before it holds the whole path).
    static func header(name: String, mode: Int, size: Int64, type: UInt8) -> Data {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in Array(text.utf8).prefix(width).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(Int64(mode & 0o7777), at: 100, width: 8)
        octal(0, at: 108, width: 8)  // uid
        octal(0, at: 116, width: 8)  // gid
        octal(size, at: 124, width: 12)
        octal(0, at: 136, width: 12)  // mtime
        block[156] = type
        put("ustar\0", at: 257, width: 6)
        put("00", at: 263, width: 2)
        for index in 148..<156 { block[index] = UInt8(ascii: " ") }
        let checksum = block.reduce(0) { $0 + Int64($1) }
        put(String(String(checksum, radix: 8)).leftPadded(to: 6), at: 148, width: 6)
        block[154] = 0
        block[155] = UInt8(ascii: " ")
        return Data(block)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
