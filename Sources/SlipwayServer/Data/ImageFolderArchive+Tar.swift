import NIOCore
import SlipwayBlobs
import SlipwayData
import SlipwayDomain

extension ImageFolderArchive {
    /// Reads the tar or tar.gz archive stored as `digest` (gzip is told by its first bytes) and calls `emit` with a
    /// record per image.
    ///
    /// Pass 1 reads the whole archive once and runs every header through ``ArchivePolicy`` — the ratio measured against
    /// the archive's size, also while it is being decompressed — and stores nothing. Only if every entry passes, pass 2
    /// reads it again and streams each image straight into the blob store, counting the bytes really produced.
    /// - Throws: ``DataImportError`` naming the entry refused, or saying the archive is damaged or truncated.
    func records(fromTar digest: BlobDigest, emit: (DatasetRecord) async throws -> Void) async throws {
        guard let archiveSize = try await blobs.info(digest)?.size else { throw BlobStoreError.notFound(digest) }

        // Pass 1: check every header, and the decompressed stream, before storing anything.
        var policy = ArchivePolicy(limits: limits, archiveSize: archiveSize)
        let streamPolicy = policy
        let scan = TarArchiveStream(try await blobs.read(digest, chunkSize: 1 << 20)) { produced in
            try streamPolicy.admitDecompressed(bytes: produced)
        }
        var images: [(ordinal: Int, path: String, parts: [String])] = []
        var ordinal = 0
        while let entry = try await scan.nextEntry() {
            defer { ordinal += 1 }
            try policy.admit(path: entry.path, kind: entry.kind, size: entry.size)
            guard entry.kind == .file, let parts = ImageFolderLayout.imageParts(ofPath: entry.path) else { continue }
            images.append((ordinal, entry.path, parts))
        }
        let layout = try ImageFolderLayout(images: images.map(\.parts))

        // Pass 2: stream each image into the blob store, counting the bytes really produced.
        let unpack = TarArchiveStream(try await blobs.read(digest, chunkSize: 1 << 20))
        var pending = images[...]
        var produced: Int64 = 0
        ordinal = 0
        while let image = pending.first, let entry = try await unpack.nextEntry() {
            defer { ordinal += 1 }
            guard ordinal == image.ordinal else { continue }
            pending.removeFirst()
            guard entry.path == image.path, entry.kind == .file else {
                throw DataImportError.invalid("the archive changed while it was read: entry \(ordinal) is not '\(image.path)' any more")
            }
            var written: Int64 = 0
            var header: [UInt8] = []
            let content = unpack.content { [limits] bytes in
                written += Int64(bytes.readableBytes)
                produced += Int64(bytes.readableBytes)
                if written > entry.size || produced > limits.maximumUnpackedBytes {
                    throw DataImportError.limit("archive entry '\(entry.path)' unpacks to more bytes than it declares or the limit allows")
                }
                if header.count < ImageDimensions.headerLength {
                    header += bytes.readableBytesView.prefix(ImageDimensions.headerLength - header.count)
                }
            }
            let info = try await blobs.put(content, expected: nil)
            try await emit(layout.record(parts: image.parts, stored: info, header: header))
        }
        if let missing = pending.first {
            throw DataImportError.invalid("the archive changed while it was read: '\(missing.path)' is gone")
        }
    }
}
