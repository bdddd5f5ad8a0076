import Crypto
import Foundation
import NIOCore
import NIOPosix

/// A ``BlobStore`` in a local directory: the embedded default, under the data directory.
///
/// Layout: `ROOT/sha256/ab/cd/abcd…` for blobs and `ROOT/tmp/` for uploads in progress. A write goes to a
/// uniquely named temporary file while its SHA-256 is computed, is flushed to disk, and is renamed into
/// place only when the digest matches; storing content that exists already writes no new file. Two
/// writers of the same content may race: both succeed and one intact copy remains.
///
/// Every blocking file operation (open, write, read, fsync, rename, stat, directory walks) runs on a
/// `NIOThreadPool`, never on an event loop or a thread of Swift's cooperative pool; hashing runs on the caller's task.
///
/// Storing, deleting and collecting one digest are serialised inside this value (and its copies); open one
/// store per directory in a process.
public struct FileBlobStore: BlobStore {
    /// The store's directory.
    public let root: URL
    /// Temporary files older than this are left by writers that died, and are removed on open and on collection.
    public static let staleTemporaryFileAge: TimeInterval = 86_400
    /// Bytes gathered from small incoming chunks before one write.
    static let writeBatchSize = 1 << 20

    let threadPool: NIOThreadPool
    private let locks = DigestLocks()

    /// Opens (creating if needed) the store at `root`, removing temporary files left by writers that died
    /// more than ``staleTemporaryFileAge`` ago.
    /// - Parameter threadPool: where the store's blocking file operations run.
    public init(root: URL, threadPool: NIOThreadPool = .singleton) throws {
        self.root = root.standardizedFileURL
        self.threadPool = threadPool
        do {
            try FileManager.default.createDirectory(atPath: blobsFolder, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: temporaryFolder, withIntermediateDirectories: true)
        } catch {
            throw BlobStoreError.io("cannot create the blob store at \(self.root.path): \(error)")
        }
        Self.removeTemporaryFiles(in: temporaryFolder, olderThan: Self.staleTemporaryFileAge)
    }

    var blobsFolder: String { root.path + "/sha256" }
    var temporaryFolder: String { root.path + "/tmp" }

    /// Where the blob with `digest` lives.
    public func path(of digest: BlobDigest) -> String {
        let hex = digest.hex
        return blobsFolder + "/" + hex.prefix(2) + "/" + hex.dropFirst(2).prefix(2) + "/" + hex
    }

    public func put(_ chunks: some AsyncSequence<ByteBuffer, any Error>, expected: BlobDigest?) async throws -> BlobInfo {
        let temporary = temporaryFolder + "/" + UUID().uuidString + ".part"
        let descriptor = try await threadPool.runIfActive { try BlobFileIO.createExclusive(temporary) }
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            var pending = ByteBuffer()
            for try await chunk in chunks {
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                size += Int64(chunk.readableBytes)
                if pending.readableBytes == 0 && chunk.readableBytes >= Self.writeBatchSize {
                    try await threadPool.runIfActive { try BlobFileIO.writeAll(descriptor, chunk) }
                    continue
                }
                pending.writeImmutableBuffer(chunk)
                if pending.readableBytes >= Self.writeBatchSize {
                    let batch = pending
                    try await threadPool.runIfActive { try BlobFileIO.writeAll(descriptor, batch) }
                    pending.clear()
                }
            }
            let rest = pending
            try await threadPool.runIfActive {
                try BlobFileIO.writeAll(descriptor, rest)
                try BlobFileIO.flush(descriptor, path: temporary)
            }
        } catch {
            BlobFileIO.close(descriptor)
            BlobFileIO.remove(temporary)
            throw error
        }
        BlobFileIO.close(descriptor)

        let digest = BlobDigest(finalizing: hasher.finalize())
        if let expected, expected != digest {
            BlobFileIO.remove(temporary)
            throw BlobStoreError.digestMismatch(expected: expected, actual: digest)
        }
        let (destination, storedSize) = (path(of: digest), size)
        try await locks.withLock(digest) {
            try await threadPool.runIfActive { try Self.place(temporary, at: destination, size: storedSize) }
        }
        return BlobInfo(digest: digest, size: size)
    }

    /// Moves a verified temporary file to `destination`, or keeps the intact copy already there.
    private static func place(_ temporary: String, at destination: String, size: Int64) throws {
        if let existing = BlobFileIO.status(destination), existing.isRegularFile, existing.size == size {
            // Already stored: keep the existing copy, and mark it fresh so a collection running now spares it.
            BlobFileIO.remove(temporary)
            BlobFileIO.touch(destination)
            return
        }
        let folder = String(destination[..<destination.lastIndex(of: "/")!])
        do {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw BlobStoreError.io("cannot create \(folder): \(error)")
            }
            try BlobFileIO.move(temporary, to: destination)
        } catch {
            BlobFileIO.remove(temporary)
            throw error
        }
        BlobFileIO.flushDirectory(folder)
    }

    public func info(_ digest: BlobDigest) async throws -> BlobInfo? {
        let path = path(of: digest)
        guard let status = try await threadPool.runIfActive({ BlobFileIO.status(path) }), status.isRegularFile else { return nil }
        return BlobInfo(digest: digest, size: status.size)
    }

    public func read(_ digest: BlobDigest, chunkSize: Int) async throws -> BlobChunks {
        guard try await info(digest) != nil else { throw BlobStoreError.notFound(digest) }
        let (path, threadPool) = (path(of: digest), threadPool)
        return BlobChunks {
            guard let source = try FileChunkSource(path: path, chunkSize: chunkSize, threadPool: threadPool) else {
                throw BlobStoreError.notFound(digest)
            }
            return source
        }
    }

    @discardableResult
    public func delete(_ digest: BlobDigest) async throws -> Bool {
        let path = path(of: digest)
        return try await locks.withLock(digest) { try await threadPool.runIfActive { BlobFileIO.remove(path) } }
    }

    public func collectGarbage(
        grace: Duration, isReferenced: @Sendable (BlobDigest, _ storedAt: Date) async throws -> Bool
    ) async throws -> BlobCollectionReport {
        enum Outcome: Sendable { case deleted, young, kept, gone }
        var report = BlobCollectionReport()
        let graceSeconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        for try await blob in list() {
            let path = path(of: blob.digest)
            // Decided under the lock: a writer that stored or retained this content just now refreshed its time, and one
            // that comes after finds it gone and stores it again.
            let outcome = try await locks.withLock(blob.digest) { () -> Outcome in
                guard let status = try await threadPool.runIfActive({ BlobFileIO.status(path) }) else { return .gone }
                if try await isReferenced(blob.digest, Date(timeIntervalSince1970: status.modified)) { return .kept }
                guard Date().timeIntervalSince1970 - status.modified >= graceSeconds else { return .young }
                return try await threadPool.runIfActive { BlobFileIO.remove(path) } ? .deleted : .gone
            }
            switch outcome {
            case .deleted:
                report.deleted.append(blob.digest)
                report.freedBytes += blob.size
            case .young: report.keptYoung += 1
            case .kept, .gone: break
            }
        }
        let temporaryFolder = temporaryFolder
        try await threadPool.runIfActive { Self.removeTemporaryFiles(in: temporaryFolder, olderThan: Self.staleTemporaryFileAge) }
        return report
    }

    public func retain(_ digest: BlobDigest) async throws -> Bool {
        let path = path(of: digest)
        return try await locks.withLock(digest) {
            try await threadPool.runIfActive {
                guard BlobFileIO.status(path)?.isRegularFile == true else { return false }
                BlobFileIO.touch(path)
                return true
            }
        }
    }

    /// Removes the temporary files in `folder` last written more than `age` seconds ago.
    private static func removeTemporaryFiles(in folder: String, olderThan age: TimeInterval) {
        let cutoff = Date().timeIntervalSince1970 - age
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            let path = folder + "/" + name
            if let status = BlobFileIO.status(path), status.modified < cutoff {
                BlobFileIO.remove(path)
            }
        }
    }
}
