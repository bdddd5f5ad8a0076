import Foundation
import NIOCore
import SlipwayBlobs
import SlipwayData
import SlipwayDomain
import ZIPFoundation

/// Imports a zip archive of an image folder (one sub-folder per class, or images directly for unlabeled
/// data) on the server. Every entry is checked by ``ArchivePolicy`` before anything is unpacked: paths that
/// leave the archive, links, too many entries, too many bytes or a suspicious compression ratio are refused.
/// While unpacking, the bytes actually produced are counted too, so an archive that lies about its sizes is
/// stopped. Each image goes through a temporary file into the blob store; the temporary folder is always removed.
struct ImageFolderArchive: Sendable {
    let blobs: any BlobStore
    let limits: ArchiveLimits

    /// Reads the archive stored as `digest` and calls `emit` with a record per image.
    func records(fromArchive digest: BlobDigest, emit: (DatasetRecord) async throws -> Void) async throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-archive-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workspace) }

        // ZIP needs random access: copy the blob to a local file first (for a file store this is a local copy).
        let archiveFile = workspace.appendingPathComponent("archive.zip")
        FileManager.default.createFile(atPath: archiveFile.path, contents: nil)
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
        var images: [(entry: Entry, path: String)] = []
        var skipped = 0
        for entry in archive {
            let kind: ArchivePolicy.EntryKind =
                switch entry.type {
                case .file: .file
                case .directory: .directory
                case .symlink: .symbolicLink
                }
            try policy.admit(
                path: entry.path, kind: kind, compressedSize: Int64(entry.compressedSize), uncompressedSize: Int64(entry.uncompressedSize))
            guard entry.type == .file else { continue }
            let parts = entry.path.split(separator: "/")
            if parts.contains(where: { $0.hasPrefix(".") || $0 == "__MACOSX" }) { continue }
            if MediaTypes.image(forFileNamed: entry.path) == nil {
                skipped += 1
                continue
            }
            images.append((entry, entry.path))
        }
        guard !images.isEmpty else { throw DataImportError.invalid("the archive holds no images (.png, .jpg, .jpeg, .gif, .bmp, .webp)") }

        // A folder wrapping everything (`pets/cats/1.png`) is not a class: strip it.
        let firsts = Set(images.map { $0.path.split(separator: "/").first.map(String.init) ?? "" })
        let wrapped = firsts.count == 1 && images.allSatisfy { $0.path.split(separator: "/").count >= 2 }
        var produced: Int64 = 0

        // Pass 2: unpack image by image, counting the bytes really produced.
        for (index, image) in images.enumerated() {
            var parts = image.path.split(separator: "/").map(String.init)
            if wrapped { parts.removeFirst() }
            let relative = parts.joined(separator: "/")
            let temporary = workspace.appendingPathComponent("entry-\(index)")
            FileManager.default.createFile(atPath: temporary.path, contents: nil)
            let output = try FileHandle(forWritingTo: temporary)
            var written: Int64 = 0
            let declared = Int64(image.entry.uncompressedSize)
            do {
                _ = try archive.extract(image.entry, skipCRC32: false) { data in
                    written += Int64(data.count)
                    produced += Int64(data.count)
                    if written > declared || produced > limits.maximumUnpackedBytes {
                        throw DataImportError.limit("archive entry '\(image.path)' unpacks to more bytes than it declares or the limit allows")
                    }
                    try output.write(contentsOf: data)
                }
                try output.close()
            } catch let error as DataImportError {
                try? output.close()
                throw error
            } catch {
                try? output.close()
                throw DataImportError.invalid("archive entry '\(image.path)' cannot be unpacked: the archive is damaged")
            }
            let header =
                (FileHandle(forReadingAtPath: temporary.path).flatMap { try? $0.read(upToCount: ImageDimensions.headerLength) })
                .map { [UInt8]($0) } ?? []
            let info = try await blobs.putFile(at: temporary.path)
            try? FileManager.default.removeItem(at: temporary)
            var record = DatasetRecord(
                id: String(relative.prefix(upTo: relative.lastIndex(of: ".") ?? relative.endIndex)),
                file: RecordFile(
                    sha256: info.digest.hex, size: info.size, mediaType: MediaTypes.image(forFileNamed: relative)!, path: relative))
            if let dimensions = ImageDimensions.of(header) {
                record.fields = ["width": .integer(Int64(dimensions.width)), "height": .integer(Int64(dimensions.height))]
            }
            if parts.count >= 2 { record.annotations = [.imported(label: parts[0])] }
            try await emit(record)
        }
    }
}
