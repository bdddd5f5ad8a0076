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
/// (`..`, absolute paths), links of any kind, devices, and archives past the limits (a zip or gzip bomb).
/// Zip entries are checked with their own compressed sizes; tar and tar.gz entries, which have none, against the archive's size.
/// Pure code: it sees what the archive declares; the unpacker also counts the bytes actually produced.
public struct ArchivePolicy: Sendable {
    /// What an archive entry is; anything but a file or a folder is refused.
    public enum EntryKind: Sendable, Hashable {
        case file
        case directory
        case symbolicLink
        case hardLink
        case other
    }

    public let limits: ArchiveLimits
    /// For an archive compressed as a whole (tar.gz) or not at all (tar): its size, which the ratio is measured against.
    public let archiveSize: Int64?
    private var entries = 0
    private var unpacked: Int64 = 0
    private var compressed: Int64 = 0

    /// A policy for an archive whose entries are compressed one by one (zip): see ``admit(path:kind:compressedSize:uncompressedSize:)``.
    public init(limits: ArchiveLimits) {
        self.limits = limits
        self.archiveSize = nil
    }

    /// A policy for an archive compressed as a whole (tar.gz) or not at all (tar), whose entries have no compressed size
    /// of their own: the compression ratio is that of everything unpacked to `archiveSize`, the archive's size in bytes.
    /// See ``admit(path:kind:size:)`` and ``admitDecompressed(bytes:)``.
    public init(limits: ArchiveLimits, archiveSize: Int64) {
        self.limits = limits
        self.archiveSize = archiveSize
    }

    /// Takes one entry of a zip archive into account. - Throws: ``DataImportError`` saying which entry and why.
    public mutating func admit(path: String, kind: EntryKind, compressedSize: Int64, uncompressedSize: Int64) throws {
        guard try admitFile(path: path, kind: kind) else { return }
        unpacked += uncompressedSize
        compressed += compressedSize
        try checkTotal()
        if uncompressedSize > 1 << 20, Double(uncompressedSize) > Double(max(compressedSize, 1)) * limits.maximumCompressionRatio {
            throw DataImportError.limit(
                "archive entry '\(path)' unpacks to more than \(Int(limits.maximumCompressionRatio)) times its compressed size")
        }
        try checkRatio(unpacked: unpacked, compressed: compressed)
    }

    /// Takes one entry of a tar or tar.gz archive into account, `size` being the content its header declares: the same
    /// rules as for zip, the ratio being that of all declared content to ``archiveSize``.
    /// - Throws: ``DataImportError`` saying which entry and why.
    public mutating func admit(path: String, kind: EntryKind, size: Int64) throws {
        guard try admitFile(path: path, kind: kind) else { return }
        unpacked += max(size, 0)
        try checkTotal()
        try checkRatio(unpacked: unpacked, compressed: archiveSize ?? unpacked)
    }

    /// Checks the bytes that decompressing a whole archive (tar.gz) has produced so far, headers, padding and anything
    /// after the archive's end included, so that a gzip bomb is stopped while it is being decompressed: against the ratio
    /// to ``archiveSize``, and against the unpacked limit plus room for a header and padding per entry.
    /// - Throws: ``DataImportError`` `limit` when either is exceeded.
    public func admitDecompressed(bytes: Int64) throws {
        let room = Double(limits.maximumUnpackedBytes) + Double(limits.maximumEntries) * Self.tarBytesPerEntry + Double(16 << 20)
        if Double(bytes) > room {
            throw DataImportError.limit("the archive unpacks to more than \(limits.maximumUnpackedBytes) bytes")
        }
        try checkRatio(unpacked: bytes, compressed: archiveSize ?? bytes)
    }

    /// The most bytes a tar entry takes besides its content: its header, a pax or long-name header, and padding.
    static let tarBytesPerEntry: Double = 4096

    /// Counts an entry and checks its path and kind; returns whether it is a file whose size counts.
    private mutating func admitFile(path: String, kind: EntryKind) throws -> Bool {
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
            return false
        case .file:
            return true
        }
    }

    private func checkTotal() throws {
        if unpacked > limits.maximumUnpackedBytes {
            throw DataImportError.limit("the archive unpacks to more than \(limits.maximumUnpackedBytes) bytes")
        }
    }

    /// The whole-archive ratio rule; archives unpacking to 16 MiB or less are never refused by it.
    private func checkRatio(unpacked: Int64, compressed: Int64) throws {
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
