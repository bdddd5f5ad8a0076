import Foundation
import NIOCore
import SlipwayData
import SlipwayDomain

/// A job's code as a content-addressed archive: `pack` turns a folder into a reproducible tar (the same files give
/// the same SHA-256, so an unchanged folder is never uploaded twice), `unpack` writes one back into a folder with
/// every entry checked (no absolute paths, no `..`, no links).
public enum CodeArchive {
    /// Folders and files never packed: version control, virtual environments, caches and build output.
    public static let alwaysIgnored = [
        ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".build", ".build-*", ".ipynb_checkpoints", "*.pyc",
        ".DS_Store", ".mypy_cache", ".pytest_cache",
    ]
    /// The largest folder packed, in bytes.
    public static let maximumBytes: Int64 = 512 << 20
    /// The most files packed.
    public static let maximumFiles = 50_000

    /// What packing made.
    public struct Packed: Sendable {
        /// The archive, in a temporary file the caller removes.
        public var file: URL
        public var digest: FileDigest
        public var files: Int
        /// Symbolic links left out (archives hold files only).
        public var skippedLinks: [String]
    }

    /// Packs the regular files under `folder`, leaving out ``alwaysIgnored`` names and the patterns of the folder's
    /// `.slipwayignore` (one glob per line, `#` for comments, matched against a file's path and its name; a trailing
    /// `/` matches folders only).
    /// - Throws: ``CodeArchiveError`` when the folder is missing, empty, or too large.
    public static func pack(_ folder: URL) throws -> Packed {
        let root = folder.standardizedFileURL.resolvingSymlinksInPath()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw CodeArchiveError("\(folder.path) is not a folder")
        }
        var patterns = alwaysIgnored
        if let text = try? String(contentsOf: root.appendingPathComponent(".slipwayignore"), encoding: .utf8) {
            patterns += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        var files: [(path: String, url: URL, mode: Int)] = []
        var links: [String] = []
        var total: Int64 = 0
        func walk(_ directory: URL, _ prefix: String) throws {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            for name in names {
                let url = directory.appendingPathComponent(name)
                let path = prefix.isEmpty ? name : prefix + "/" + name
                let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
                let type = attributes[.type] as? FileAttributeType
                if type == .typeSymbolicLink {
                    links.append(path)
                    continue
                }
                let isDirectory = type == .typeDirectory
                if ignored(path: path, name: name, isDirectory: isDirectory, patterns: patterns) { continue }
                if isDirectory {
                    try walk(url, path)
                } else if type == .typeRegular {
                    let permissions = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o644
                    files.append((path, url, permissions & 0o111 != 0 ? 0o755 : 0o644))
                    total += (attributes[.size] as? NSNumber)?.int64Value ?? 0
                    guard files.count <= maximumFiles, total <= maximumBytes else {
                        throw CodeArchiveError(
                            "\(folder.path) holds more than \(maximumFiles) files or \(maximumBytes >> 20) MiB; "
                                + "list what the job does not need (data, checkpoints) in \(folder.path)/.slipwayignore")
                    }
                }
            }
        }
        try walk(root, "")
        guard !files.isEmpty else { throw CodeArchiveError("\(folder.path) holds no files to pack") }
        let archive = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-code-\(UUID().uuidString).tar")
        _ = FileManager.default.createFile(atPath: archive.path, contents: nil)
        do {
            let handle = try FileHandle(forWritingTo: archive)
            defer { try? handle.close() }
            var writer = TarWriter(output: handle)
            for file in files { try writer.addFile(path: file.path, mode: file.mode, source: file.url) }
            try writer.finish()
            try handle.synchronize()
            return Packed(file: archive, digest: try FileDigest.of(path: archive.path), files: files.count, skippedLinks: links)
        } catch {
            try? FileManager.default.removeItem(at: archive)
            throw error
        }
    }

    /// Whether a path is left out by one of `patterns`.
    static func ignored(path: String, name: String, isDirectory: Bool, patterns: [String]) -> Bool {
        patterns.contains { pattern in
            var pattern = pattern
            if pattern.hasSuffix("/") {
                guard isDirectory else { return false }
                pattern.removeLast()
            }
            if pattern.hasPrefix("/") { pattern.removeFirst() }
            return fnmatch(pattern, name, 0) == 0 || fnmatch(pattern, path, FNM_PATHNAME) == 0
        }
    }

    /// Unpacks the tar archive `archive` into `folder`, which is created.
    /// - Returns: how many files were written.
    /// - Throws: ``CodeArchiveError`` for an entry that would leave the folder, a link, or a damaged archive.
    @discardableResult
    public static func unpack(_ archive: URL, into folder: URL) throws -> Int {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let input = try FileHandle(forReadingFrom: archive)
        defer { try? input.close() }
        let archiveSize = Int64(try input.seekToEnd())
        try input.seek(toOffset: 0)
        var reader = TarReader()
        var policy = ArchivePolicy(limits: ArchiveLimits(maximumUnpackedBytes: 4 << 30, maximumEntries: 200_000), archiveSize: archiveSize)
        var current: FileHandle?
        var written = 0
        defer { try? current?.close() }
        do {
            var finished = false
            while !finished {
                while let event = try reader.next() {
                    switch event {
                    case .entry(let entry):
                        try current?.close()
                        current = nil
                        try policy.admit(path: entry.path, kind: entry.kind, size: entry.size)
                        let target = folder.appendingPathComponent(entry.path)
                        if entry.kind == .directory {
                            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                            continue
                        }
                        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                        _ = FileManager.default.createFile(
                            atPath: target.path, contents: nil, attributes: [.posixPermissions: (entry.mode ?? 0o644) & 0o755])
                        current = try FileHandle(forWritingTo: target)
                        written += 1
                    case .data(let buffer):
                        try current?.write(contentsOf: Data(buffer.readableBytesView))
                    case .end:
                        finished = true
                    }
                    if finished { break }
                }
                if finished { break }
                guard let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty else {
                    try reader.finish()
                    break
                }
                reader.append(ByteBuffer(bytes: chunk))
            }
        } catch let error as DataImportError {
            throw CodeArchiveError("the code archive cannot be unpacked: \(error)")
        }
        return written
    }
}

/// Why a folder could not be packed, or an archive unpacked, in a sentence.
public struct CodeArchiveError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}
