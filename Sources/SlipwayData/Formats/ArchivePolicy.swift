/// The limits an uploaded archive must respect before anything in it is unpacked.
public struct ArchiveLimits: Sendable, Hashable, Codable {
    /// Total bytes all entries may unpack to.
    public var maximumUnpackedBytes: Int64
    /// How many entries the archive may hold.
    public var maximumEntries: Int
    /// How many times larger than its compressed size an entry (and the whole archive) may unpack to.
    public var maximumCompressionRatio: Double

    public init(maximumUnpackedBytes: Int64 = 20 << 30, maximumEntries: Int = 1_000_000, maximumCompressionRatio: Double = 200) {
        self.maximumUnpackedBytes = maximumUnpackedBytes
        self.maximumEntries = maximumEntries
        self.maximumCompressionRatio = maximumCompressionRatio
    }
}

/// Decides whether an archive's entries may be unpacked: refuses paths that leave the archive
/// (`..`, absolute paths), links of any kind, and archives past the limits (a zip bomb).
/// Pure code: it sees what the archive declares; the unpacker also counts the bytes actually produced.
public struct ArchivePolicy: Sendable {
    public enum EntryKind: Sendable {
        case file
        case directory
        case symbolicLink
        case hardLink
        case other
    }

    public let limits: ArchiveLimits
    private var entries = 0
    private var unpacked: Int64 = 0
    private var compressed: Int64 = 0

    public init(limits: ArchiveLimits) {
        self.limits = limits
    }

    /// Takes one entry into account. - Throws: ``DataImportError`` saying which entry and why.
    public mutating func admit(path: String, kind: EntryKind, compressedSize: Int64, uncompressedSize: Int64) throws {
        entries += 1
        if entries > limits.maximumEntries {
            throw DataImportError.limit("the archive holds more than \(limits.maximumEntries) entries")
        }
        if let problem = Self.problem(withPath: path) { throw DataImportError.invalid("archive entry '\(path)' \(problem)") }
        switch kind {
        case .symbolicLink, .hardLink:
            throw DataImportError.invalid("archive entry '\(path)' is a link; archives may hold only files and folders")
        case .other:
            throw DataImportError.invalid("archive entry '\(path)' is neither a file nor a folder")
        case .directory:
            return
        case .file:
            break
        }
        unpacked += uncompressedSize
        compressed += compressedSize
        if unpacked > limits.maximumUnpackedBytes {
            throw DataImportError.limit("the archive unpacks to more than \(limits.maximumUnpackedBytes) bytes")
        }
        if uncompressedSize > 1 << 20, Double(uncompressedSize) > Double(max(compressedSize, 1)) * limits.maximumCompressionRatio {
            throw DataImportError.limit(
                "archive entry '\(path)' unpacks to more than \(Int(limits.maximumCompressionRatio)) times its compressed size")
        }
        if unpacked > 16 << 20, Double(unpacked) > Double(max(compressed, 1)) * limits.maximumCompressionRatio {
            throw DataImportError.limit("the archive unpacks to more than \(Int(limits.maximumCompressionRatio)) times its compressed size")
        }
    }

    /// Why `path` may not be unpacked, or `nil`.
    public static func problem(withPath path: String) -> String? {
        if path.isEmpty { return "has no name" }
        if path.hasPrefix("/") || path.hasPrefix("\\") || (path.count > 1 && path.dropFirst().first == ":") {
            return "has an absolute path"
        }
        let parts = path.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        if parts.contains("..") { return "leaves the archive (it contains '..')" }
        if path.contains("\0") { return "has a NUL character in its name" }
        return nil
    }
}
