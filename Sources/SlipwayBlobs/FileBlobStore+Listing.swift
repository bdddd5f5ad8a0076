import Foundation
import NIOPosix
import Synchronization

extension FileBlobStore {
    /// Every stored blob, walked one `ab/cd` folder at a time as the consumer asks for more, so listing
    /// millions of blobs holds only one folder's worth in memory.
    public func list() -> AsyncThrowingStream<BlobInfo, any Error> {
        let walk = BlobFolderWalk(folder: blobsFolder)
        let threadPool = threadPool
        return AsyncThrowingStream {
            while true {
                if let blob = walk.nextReady() { return blob }
                guard try await threadPool.runIfActive({ try walk.readNextFolder() }) else { return nil }
            }
        }
    }
}

/// A walk of `ROOT/sha256/ab/cd/<hex>` that reads one leaf folder at a time.
final class BlobFolderWalk: Sendable {
    private struct State {
        /// The `ab` folders not yet entered; `nil` before the walk starts.
        var shards: [String]?
        /// The `ab/cd` folders of the current `ab` not yet read.
        var leaves: [String] = []
        /// Blobs read from the current leaf and not yet handed out.
        var ready: [BlobInfo] = []
    }

    private let folder: String
    private let state = Mutex(State())

    init(folder: String) {
        self.folder = folder
    }

    /// The next blob already read, if any.
    func nextReady() -> BlobInfo? {
        state.withLock { $0.ready.popLast() }
    }

    /// Reads the blobs of the next folder that has any; returns `false` when the walk is over. Blocks on the filesystem.
    func readNextFolder() throws -> Bool {
        try state.withLock { state throws -> Bool in
            if state.shards == nil {
                let names: [String]
                do {
                    names = try FileManager.default.contentsOfDirectory(atPath: folder)
                } catch {
                    throw BlobStoreError.io("cannot list \(folder): \(error)")
                }
                state.shards = names.filter(Self.isShardName)
            }
            while true {
                if let leaf = state.leaves.popLast() {
                    state.ready = Self.blobs(in: leaf)
                    if !state.ready.isEmpty { return true }
                    continue
                }
                guard let shard = state.shards?.popLast() else { return false }
                let shardFolder = folder + "/" + shard
                // Folders may vanish while the walk runs; a missing one simply holds nothing.
                let names = (try? FileManager.default.contentsOfDirectory(atPath: shardFolder)) ?? []
                state.leaves = names.filter(Self.isShardName).map { shardFolder + "/" + $0 }
            }
        }
    }

    /// The blobs stored in one leaf folder: regular files named by a digest that belongs there.
    private static func blobs(in leaf: String) -> [BlobInfo] {
        let prefix = leaf.split(separator: "/").suffix(2).joined()
        var blobs: [BlobInfo] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: leaf)) ?? [] {
            guard name.hasPrefix(prefix), let digest = BlobDigest(hex: name),
                let status = BlobFileIO.status(leaf + "/" + name), status.isRegularFile
            else { continue }
            blobs.append(BlobInfo(digest: digest, size: status.size))
        }
        return blobs
    }

    /// Whether `name` is two lowercase hex digits.
    private static func isShardName(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}
