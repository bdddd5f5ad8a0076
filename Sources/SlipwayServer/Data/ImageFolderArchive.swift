import Foundation
import NIOCore
import SlipwayBlobs
import SlipwayData
import SlipwayDomain
import ZIPFoundation

/// Imports an archive of an image folder (one sub-folder per class, or images directly for unlabeled
/// data) on the server: a zip, or a tar or tar.gz (``records(fromTar:emit:)``). Every entry is checked by
/// ``ArchivePolicy`` before anything is unpacked: paths that leave the archive, links, devices, too many entries,
/// too many bytes or a suspicious compression ratio are refused. While unpacking, the bytes actually produced are
/// counted too, so an archive that lies about its sizes is stopped. Records are made the same way for every format
/// (``ImageFolderLayout``).
struct ImageFolderArchive: Sendable {
    let blobs: any BlobStore
    let limits: ArchiveLimits

    /// Reads the archive stored as `digest`, in `format` (``DataFormat/imageFolderZip`` or
    /// ``DataFormat/imageFolderTar``), and calls `emit` with a record per image.
    func records(fromArchive digest: BlobDigest, format: DataFormat, emit: (DatasetRecord) async throws -> Void) async throws {
        switch format {
        case .imageFolderTar: try await records(fromTar: digest, emit: emit)
        default: try await records(fromZip: digest, emit: emit)
        }
    }

    /// Reads the zip archive stored as `digest` and calls `emit` with a record per image. Zip needs random access, so the
    /// blob is copied to a local file; each image goes through a temporary file into the blob store; the temporary folder
    /// is always removed.
    func records(fromZip digest: BlobDigest, emit: (DatasetRecord) async throws -> Void) async throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-archive-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workspace) }

        // ZIP needs random access: copy the blob to a local file first (for a file store this is a local copy).
        let archiveFile = workspace.appendingPathComponent("archive.zip")
        _ = FileManager.default.createFile(atPath: archiveFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: archiveFile)
        for try await chunk in try await blobs.read(digest, chunkSize: 1 << 20) {
            try handle.write(contentsOf: Data(chunk.readableBytesView))
        }
        try handle.close()

        let archive: Archive
        do {
            archive = try Archive(url: archiveFile, accessMode: .read)
        } catch {
            throw DataImportError.invalid("the file is not a zip archive")
        }

        // Pass 1: check every entry before unpacking anything.
        var policy = ArchivePolicy(limits: limits)
        var images: [(entry: Entry, parts: [String])] = []
        for entry in archive {
            let kind: ArchivePolicy.EntryKind =
                switch entry.type {
                case .file: .file
                case .directory: .directory
                case .symlink: .symbolicLink
                }
            try policy.admit(
                path: entry.path, kind: kind, compressedSize: Int64(entry.compressedSize), uncompressedSize: Int64(entry.uncompressedSize))
            guard entry.type == .file, let parts = ImageFolderLayout.imageParts(ofPath: entry.path) else { continue }
            images.append((entry, parts))
        }
        let layout = try ImageFolderLayout(images: images.map(\.parts))
        var produced: Int64 = 0

        // Pass 2: unpack image by image, counting the bytes really produced.
        for (index, image) in images.enumerated() {
            let temporary = workspace.appendingPathComponent("entry-\(index)")
            _ = FileManager.default.createFile(atPath: temporary.path, contents: nil)
            let output = try FileHandle(forWritingTo: temporary)
            var written: Int64 = 0
            let declared = Int64(image.entry.uncompressedSize)
            do {
                _ = try archive.extract(image.entry, skipCRC32: false) { data in
                    written += Int64(data.count)
                    produced += Int64(data.count)
                    if written > declared || produced > limits.maximumUnpackedBytes {
                        throw DataImportError.limit("archive entry '\(image.entry.path)' unpacks to more bytes than it declares or the limit allows")
                    }
                    try output.write(contentsOf: data)
                }
                try output.close()
            } catch let error as DataImportError {
                try? output.close()
                throw error
            } catch {
                try? output.close()
                throw DataImportError.invalid("archive entry '\(image.entry.path)' cannot be unpacked: the archive is damaged")
            }
            let header =
                (FileHandle(forReadingAtPath: temporary.path).flatMap { try? $0.read(upToCount: ImageDimensions.headerLength) })
                .map { [UInt8]($0) } ?? []
            let info = try await blobs.putFile(at: temporary.path)
            try? FileManager.default.removeItem(at: temporary)
            try await emit(layout.record(parts: image.parts, stored: info, header: header))
        }
    }
}

/// How an archive's images become records, the same for every archive format: hidden files and `__MACOSX` are skipped,
/// a single folder wrapping everything (`pets/cats/1.png`) is not a class, the first folder left is the class, the id
/// is the path left without its extension, and width and height come from the image's header.
struct ImageFolderLayout {
    /// Whether the first folder of every image path wraps the archive's content rather than naming a class.
    let wrapped: Bool

    /// The layout of an archive whose images have these paths (as ``imageParts(ofPath:)`` splits them).
    /// - Throws: ``DataImportError`` when there are no images.
    init(images: [[String]]) throws {
        guard !images.isEmpty else { throw DataImportError.invalid("the archive holds no images (.png, .jpg, .jpeg, .gif, .bmp, .webp)") }
        let firsts = Set(images.map { $0.first ?? "" })
        wrapped = firsts.count == 1 && images.allSatisfy { $0.count >= 2 }
    }

    /// The folders and name of an archive path (`.` and empty parts dropped), or `nil` when it is not an image to
    /// import: a hidden file or folder, `__MACOSX`, or a file without an image extension.
    static func imageParts(ofPath path: String) -> [String]? {
        let parts = path.split(separator: "/").filter { $0 != "." }.map(String.init)
        if parts.isEmpty || parts.contains(where: { $0.hasPrefix(".") || $0 == "__MACOSX" }) { return nil }
        guard MediaTypes.image(forFileNamed: parts[parts.count - 1]) != nil else { return nil }
        return parts
    }

    /// The record of the image at `parts`, stored as `stored`, whose file starts with `header`.
    func record(parts: [String], stored: BlobInfo, header: [UInt8]) -> DatasetRecord {
        let parts = wrapped ? Array(parts.dropFirst()) : parts
        let relative = parts.joined(separator: "/")
        var record = DatasetRecord(
            id: String(relative.prefix(upTo: relative.lastIndex(of: ".") ?? relative.endIndex)),
            file: RecordFile(sha256: stored.digest.hex, size: stored.size, mediaType: MediaTypes.image(forFileNamed: relative)!, path: relative))
        if let dimensions = ImageDimensions.of(header) {
            record.fields = ["width": .integer(Int64(dimensions.width)), "height": .integer(Int64(dimensions.height))]
        }
        if parts.count >= 2 { record.annotations = [.imported(label: parts[0])] }
        return record
    }
}
