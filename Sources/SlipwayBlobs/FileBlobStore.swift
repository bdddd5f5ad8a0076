import Crypto
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A ``BlobStore`` in a local directory: the embedded default, under the data directory.
///
/// Layout: `ROOT/sha256/ab/cd/abcd…` for blobs and `ROOT/tmp/` for uploads in progress. A write goes to a
/// uniquely named temporary file while its SHA-256 is computed, is flushed to disk, and is renamed into
/// place only when the digest matches; storing content that exists already writes no new file. Two
/// writers of the same content may race: both succeed and one intact copy remains.
///
/// File I/O is blocking and runs on the task that calls the store (Swift's cooperative pool), never on
/// an event loop.
public struct FileBlobStore: BlobStore {
    /// The store's directory.
    public let root: URL
    private let locks = DigestLocks()

    /// Opens (creating if needed) the store at `root`, removing temporary files left by writers that died
    /// more than a day ago.
    public init(root: URL) throws {
        self.root = root.standardizedFileURL
        try FileManager.default.createDirectory(at: blobsFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: temporaryFolder, withIntermediateDirectories: true)
        removeStaleTemporaryFiles(olderThan: 86_400)
    }

    private var blobsFolder: URL { root.appendingPathComponent("sha256", isDirectory: true) }
    private var temporaryFolder: URL { root.appendingPathComponent("tmp", isDirectory: true) }

    /// Where the blob with `digest` lives.
    public func path(of digest: BlobDigest) -> String {
        let hex = digest.hex
        return blobsFolder.path + "/" + hex.prefix(2) + "/" + hex.dropFirst(2).prefix(2) + "/" + hex
    }

    public func put(_ chunks: some AsyncSequence<ByteBuffer, any Error>, expected: BlobDigest?) async throws -> BlobInfo {
        let temporary = temporaryFolder.path + "/" + UUID().uuidString + ".part"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BlobStoreError.io("cannot create \(temporary): \(Self.errorText())") }
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            defer { close(descriptor) }
            for try await chunk in chunks {
                try chunk.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    try Self.writeAll(descriptor, bytes)
                }
                size += Int64(chunk.readableBytes)
            }
            guard fsync(descriptor) == 0 else { throw BlobStoreError.io("cannot flush \(temporary): \(Self.errorText())") }
        } catch {
            unlink(temporary)
            throw error
        }
        let digest = BlobDigest(finalizing: hasher.finalize())
        if let expected, expected != digest {
            unlink(temporary)
            throw BlobStoreError.digestMismatch(expected: expected, actual: digest)
        }
        let destination = path(of: digest)
        try await locks.withLock(digest) {
            if FileManager.default.fileExists(atPath: destination) {
                // Already stored: keep the existing copy, and mark it fresh so a collection running now spares it.
                unlink(temporary)
                utime(destination, nil)
                return
            }
            try FileManager.default.createDirectory(
                atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard rename(temporary, destination) == 0 else {
                let message = Self.errorText()
                unlink(temporary)
                throw BlobStoreError.io("cannot move the blob into place: \(message)")
            }
        }
        return BlobInfo(digest: digest, size: size)
    }

    public func info(_ digest: BlobDigest) async throws -> BlobInfo? {
        var status = stat()
        guard stat(path(of: digest), &status) == 0 else { return nil }
        return BlobInfo(digest: digest, size: Int64(status.st_size))
    }

    public func read(_ digest: BlobDigest, chunkSize: Int) async throws -> BlobChunks {
        let path = path(of: digest)
        guard FileManager.default.fileExists(atPath: path) else { throw BlobStoreError.notFound(digest) }
        return BlobChunks {
            do {
                return try FileChunkSource(path: path, chunkSize: chunkSize)
            } catch {
                throw BlobStoreError.notFound(digest)
            }
        }
    }

    @discardableResult
    public func delete(_ digest: BlobDigest) async throws -> Bool {
        try await locks.withLock(digest) { unlink(path(of: digest)) == 0 }
    }

    public func list() -> AsyncThrowingStream<BlobInfo, any Error> {
        let folder = blobsFolder
        return AsyncThrowingStream { continuation in
            let walker = Task {
                let keys: [URLResourceKey] = [.fileSizeKey, .isRegularFileKey]
                guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: keys) else {
                    continuation.finish()
                    return
                }
                while let url = enumerator.nextObject() as? URL {
                    if Task.isCancelled { break }
                    guard let digest = BlobDigest(hex: url.lastPathComponent),
                        let values = try? url.resourceValues(forKeys: Set(keys)), values.isRegularFile == true
                    else { continue }
                    continuation.yield(BlobInfo(digest: digest, size: Int64(values.fileSize ?? 0)))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in walker.cancel() }
        }
    }

    public func collectGarbage(
        grace: Duration, isReferenced: @Sendable (BlobDigest) async throws -> Bool
    ) async throws -> BlobCollectionReport {
        var report = BlobCollectionReport()
        let graceSeconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        for try await blob in list() {
            if try await isReferenced(blob.digest) { continue }
            let path = path(of: blob.digest)
            let deleted = try await locks.withLock(blob.digest) { () -> Bool in
                // Checked under the lock: a writer that stored or re-stored this content just now refreshed its time.
                var status = stat()
                guard stat(path, &status) == 0 else { return false }
                let age = Date().timeIntervalSince1970 - Double(status.st_mtim.tv_sec)
                guard age >= graceSeconds else { return false }
                return unlink(path) == 0
            }
            if deleted {
                report.deleted.append(blob.digest)
                report.freedBytes += blob.size
            } else {
                report.keptYoung += 1
            }
        }
        removeStaleTemporaryFiles(olderThan: 86_400)
        return report
    }

    private func removeStaleTemporaryFiles(olderThan seconds: TimeInterval) {
        let cutoff = Date().addingTimeInterval(-seconds)
        let files =
            (try? FileManager.default.contentsOfDirectory(at: temporaryFolder, includingPropertiesForKeys: [.contentModificationDateKey])) ?? []
        for file in files {
            if let modified = try? file.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate, modified < cutoff {
                try? FileManager.default.removeItem(at: file)
            }
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw BlobStoreError.io("write failed: \(errorText())")
            }
            offset += written
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Serialises work on one digest inside this process: storing, deleting and collecting the same blob.
actor DigestLocks {
    private var held: Set<BlobDigest> = []
    private var waiters: [BlobDigest: [CheckedContinuation<Void, Never>]] = [:]

    func withLock<T: Sendable>(_ digest: BlobDigest, _ body: @Sendable () async throws -> T) async throws -> T {
        while held.contains(digest) {
            await withCheckedContinuation { waiters[digest, default: []].append($0) }
        }
        held.insert(digest)
        defer {
            held.remove(digest)
            if var queue = waiters[digest], !queue.isEmpty {
                queue.removeFirst().resume()
                waiters[digest] = queue.isEmpty ? nil : queue
            }
        }
        return try await body()
    }
}
