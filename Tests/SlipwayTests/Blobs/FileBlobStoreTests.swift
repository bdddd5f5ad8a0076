import Crypto
import Foundation
import NIOCore
import SlipwayBlobs
import Synchronization
import Testing

/// The filesystem blob store: content addressing, streaming, atomic writes, garbage collection.
@Suite("File blob store")
struct FileBlobStoreTests {
    /// Runs `body` with a store in a fresh temporary folder, removed afterwards.
    func withStore<T>(_ body: (FileBlobStore) async throws -> T) async throws -> T {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-blobs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        return try await body(try FileBlobStore(root: root))
    }

    /// `count` chunks of `size` bytes, generated as they are consumed: a pseudo-random 64 KiB block repeated,
    /// stamped with the chunk's index so no two chunks are equal.
    struct GeneratedChunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        var count: Int
        var size: Int

        static let block: [UInt8] = {
            var state: UInt32 = 2_463_534_242
            return (0..<65_536).map { _ in
                state ^= state << 13
                state ^= state >> 17
                state ^= state << 5
                return UInt8(truncatingIfNeeded: state)
            }
        }()

        struct AsyncIterator: AsyncIteratorProtocol {
            var index = 0
            var count: Int
            var size: Int
            mutating func next() async throws -> ByteBuffer? {
                guard index < count else { return nil }
                defer { index += 1 }
                var buffer = ByteBuffer()
                buffer.reserveCapacity(size)
                while buffer.readableBytes < size {
                    buffer.writeBytes(GeneratedChunks.block.prefix(size - buffer.readableBytes))
                }
                buffer.setInteger(UInt64(index), at: 0)
                return buffer
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(count: count, size: size) }
    }

    /// The hex digest computed separately from the store, with swift-crypto directly.
    static func hex(_ digest: SHA256.Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }

    /// Every blob the store lists.
    static func listed(_ store: FileBlobStore) async throws -> [BlobInfo] {
        var blobs: [BlobInfo] = []
        for try await blob in store.list() { blobs.append(blob) }
        return blobs
    }

    /// The files in the store's temporary folder.
    static func temporaryFiles(_ store: FileBlobStore) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: store.root.appendingPathComponent("tmp").path)
    }

    @Test func storedBytesReadBackIdenticalUnderTheirSHA256() async throws {
        try await withStore { store async throws in
            let bytes = Array("hello, slipway".utf8)
            let info = try await store.put(bytes: bytes)
            #expect(info.digest.hex == Self.hex(SHA256.hash(data: bytes)))
            #expect(info.size == Int64(bytes.count))
            #expect(try await store.bytes(info.digest) == bytes)
            #expect(try await store.info(info.digest) == info)
        }
    }

    @Test func identicalContentIsStoredOnce() async throws {
        try await withStore { store async throws in
            let first = try await store.put(bytes: Array(repeating: 1, count: 1000))
            let second = try await store.put(bytes: Array(repeating: 1, count: 1000))
            #expect(first == second)
            #expect(try await Self.listed(store) == [first])
        }
    }

    @Test func aMismatchedExpectedDigestStoresNothingAndLeavesNoTemporaryFile() async throws {
        try await withStore { store async throws in
            let wrong = BlobDigest(of: Array("other content".utf8))
            await #expect(throws: BlobStoreError.self) {
                try await store.put(bytes: Array("content".utf8), expected: wrong)
            }
            #expect(try await store.info(BlobDigest(of: Array("content".utf8))) == nil)
            #expect(try await store.info(wrong) == nil)
            #expect(try Self.temporaryFiles(store).isEmpty)
            #expect(try await Self.listed(store).isEmpty)
        }
    }

    @Test func aFailingUploadLeavesNothingBehind() async throws {
        struct Interrupted: Error {}
        struct FailingChunks: AsyncSequence, Sendable {
            typealias Element = ByteBuffer
            struct AsyncIterator: AsyncIteratorProtocol {
                var sent = 0
                mutating func next() async throws -> ByteBuffer? {
                    sent += 1
                    if sent > 3 { throw Interrupted() }
                    return ByteBuffer(repeating: 9, count: 4096)
                }
            }
            func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
        }
        try await withStore { store async throws in
            await #expect(throws: Interrupted.self) { try await store.put(FailingChunks(), expected: nil) }
            #expect(try await Self.listed(store).isEmpty)
            #expect(try Self.temporaryFiles(store).isEmpty)
        }
    }

    @Test func largeStreamsAreHashedIncrementallyAndReadBackInChunks() async throws {
        try await withStore { store async throws in
            // 64 MiB in 1 MiB chunks; the digest is compared with one computed separately over the same stream.
            let chunks = GeneratedChunks(count: 64, size: 1 << 20)
            var hasher = SHA256()
            for try await chunk in chunks { chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
            let expected = BlobDigest(hex: Self.hex(hasher.finalize()))!

            let info = try await store.put(chunks, expected: expected)
            #expect(info.digest == expected)
            #expect(info.size == 64 << 20)

            var sizes: [Int] = []
            var rehash = SHA256()
            for try await chunk in try await store.read(info.digest, chunkSize: 4 << 20) {
                sizes.append(chunk.readableBytes)
                chunk.withUnsafeReadableBytes { rehash.update(bufferPointer: $0) }
            }
            #expect(sizes == Array(repeating: 4 << 20, count: 16))
            #expect(Self.hex(rehash.finalize()) == expected.hex)
        }
    }

    @Test func concurrentWritersOfTheSameContentAllSucceedWithOneIntactCopy() async throws {
        try await withStore { store async throws in
            let results = try await withThrowingTaskGroup(of: BlobInfo.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await store.put(GeneratedChunks(count: 8, size: 256 << 10), expected: nil) }
                }
                return try await group.reduce(into: [BlobInfo]()) { $0.append($1) }
            }
            #expect(Set(results).count == 1)
            let digest = results[0].digest
            var rehash = SHA256()
            for try await chunk in try await store.read(digest, chunkSize: 1 << 20) {
                chunk.withUnsafeReadableBytes { rehash.update(bufferPointer: $0) }
            }
            #expect(Self.hex(rehash.finalize()) == digest.hex)
            #expect(try Self.temporaryFiles(store).isEmpty)
            #expect(try await Self.listed(store).count == 1)
        }
    }

    @Test(arguments: [
        "../etc/passwd", "ABCDEF" + String(repeating: "0", count: 58), String(repeating: "A", count: 64),
        String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "g", count: 64), "",
        "../../" + String(repeating: "a", count: 58), "sha256:" + String(repeating: "a", count: 64), " " + String(repeating: "a", count: 63),
    ])
    func digestsOtherThan64LowercaseHexDigitsAreRejected(text: String) throws {
        #expect(BlobDigest(hex: text) == nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(BlobDigest.self, from: Data(#"["\#(text)"]"#.utf8)) }
    }

    @Test func digestsTravelAsBareHexAndPrintWithTheirAlgorithm() throws {
        let digest = BlobDigest(of: Array("abc".utf8))
        #expect(digest.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(digest.description == "sha256:" + digest.hex)
        let json = try JSONEncoder().encode([digest])
        #expect(String(decoding: json, as: UTF8.self) == #"["\#(digest.hex)"]"#)
        #expect(try JSONDecoder().decode([BlobDigest].self, from: json) == [digest])
    }

    @Test func chunksOfAnySizeAreStoredByteForByte() async throws {
        // Tiny chunks are gathered before writing and large ones written directly; the order must survive both.
        struct MixedChunks: AsyncSequence, Sendable {
            typealias Element = ByteBuffer
            static let sizes = [1, 0, 7, 100_000, (1 << 20) + 3, 5, 2 << 20, 1, 999_999, 64 << 10, 3]
            struct AsyncIterator: AsyncIteratorProtocol {
                var index = 0
                mutating func next() async throws -> ByteBuffer? {
                    guard index < MixedChunks.sizes.count else { return nil }
                    defer { index += 1 }
                    let size = MixedChunks.sizes[index]
                    return ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
                }
            }
            func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
        }
        try await withStore { store async throws in
            var all: [UInt8] = []
            for try await chunk in MixedChunks() { all.append(contentsOf: chunk.readableBytesView) }
            let info = try await store.put(MixedChunks(), expected: nil)
            #expect(info.digest.hex == Self.hex(SHA256.hash(data: all)))
            #expect(info.size == Int64(all.count))
            #expect(try await store.bytes(info.digest) == all)
        }
    }

    @Test func readsComeInChunksOfTheRequestedSizeWithAShorterLastOne() async throws {
        try await withStore { store async throws in
            let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
            let info = try await store.put(bytes: bytes)
            var sizes: [Int] = []
            var received: [UInt8] = []
            for try await chunk in try await store.read(info.digest, chunkSize: 4096) {
                sizes.append(chunk.readableBytes)
                received.append(contentsOf: chunk.readableBytesView)
            }
            #expect(sizes == [4096, 4096, 1808])
            #expect(received == bytes)
        }
    }

    @Test func aReadInProgressFinishesEvenIfTheBlobIsDeleted() async throws {
        try await withStore { store async throws in
            let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let info = try await store.put(bytes: bytes)
            var iterator = try await store.read(info.digest, chunkSize: 10_000).makeAsyncIterator()
            var received = Array(try #require(try await iterator.next()).readableBytesView)
            #expect(try await store.delete(info.digest))
            while let chunk = try await iterator.next() { received.append(contentsOf: chunk.readableBytesView) }
            #expect(received == bytes)
            #expect(try await store.contains(info.digest) == false)
        }
    }

    @Test func aFileIsStoredFromDiskInChunks() async throws {
        try await withStore { store async throws in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-blob-source-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: file) }
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            try Data(bytes).write(to: file)
            let info = try await store.putFile(at: file.path, chunkSize: 64 << 10)
            #expect(info == BlobInfo(digest: BlobDigest(of: bytes), size: 300_000))
            #expect(try await store.bytes(info.digest) == bytes)
            await #expect(throws: BlobStoreError.self) { try await store.putFile(at: file.path + "-missing") }
            #expect(try Self.temporaryFiles(store).isEmpty)
        }
    }

    @Test func listingFindsEveryStoredBlobOnce() async throws {
        try await withStore { store async throws in
            var stored: Set<BlobInfo> = []
            for index in 0..<300 {
                stored.insert(try await store.put(bytes: Array("blob number \(index)".utf8) + Array(repeating: 0, count: index)))
            }
            let listed = try await Self.listed(store)
            #expect(listed.count == 300)
            #expect(Set(listed) == stored)
        }
    }

    @Test func listingAnEmptyStoreFindsNothing() async throws {
        try await withStore { store async throws in
            #expect(try await Self.listed(store).isEmpty)
        }
    }

    @Test func openingAStoreRemovesOnlyStaleTemporaryFiles() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-blobs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try FileBlobStore(root: root)
        let temporary = root.appendingPathComponent("tmp")
        let stale = temporary.appendingPathComponent("dead-writer.part").path
        let fresh = temporary.appendingPathComponent("live-writer.part").path
        #expect(FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3])))
        #expect(FileManager.default.createFile(atPath: fresh, contents: Data([4, 5, 6])))
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-FileBlobStore.staleTemporaryFileAge - 60)], ofItemAtPath: stale)

        let store = try FileBlobStore(root: root)
        #expect(try Self.temporaryFiles(store) == ["live-writer.part"])
    }

    @Test func readingAMissingBlobSaysNotFound() async throws {
        try await withStore { store async throws in
            let missing = BlobDigest(of: Array("never stored".utf8))
            await #expect(throws: BlobStoreError.notFound(missing)) { _ = try await store.read(missing, chunkSize: 16) }
            #expect(try await store.delete(missing) == false)
        }
    }

    @Test func garbageCollectionDeletesOnlyUnreferencedBlobsPastTheGracePeriod() async throws {
        try await withStore { store async throws in
            let kept = try await store.put(bytes: Array("referenced".utf8))
            let garbage = try await store.put(bytes: Array("unreferenced".utf8))
            let referenced: Set<BlobDigest> = [kept.digest]

            let young = try await store.collectGarbage(grace: .seconds(3600)) { digest, _ in referenced.contains(digest) }
            #expect(young.deleted.isEmpty, "blobs stored moments ago may belong to an upload in flight")
            #expect(young.keptYoung == 1)

            let report = try await store.collectGarbage(grace: .zero) { digest, _ in referenced.contains(digest) }
            #expect(report.deleted == [garbage.digest])
            #expect(report.freedBytes == garbage.size)
            #expect(try await store.contains(kept.digest))
            #expect(try await store.contains(garbage.digest) == false)
        }
    }

    @Test func storingContentAgainRefreshesItSoACollectionSparesIt() async throws {
        try await withStore { store async throws in
            let blob = try await store.put(bytes: Array("re-pushed".utf8))
            // Age the file, as if stored long ago, then store the same bytes again (a push of an unchanged file).
            let old = Date().addingTimeInterval(-7200)
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: store.path(of: blob.digest))
            _ = try await store.put(bytes: Array("re-pushed".utf8))
            let report = try await store.collectGarbage(grace: .seconds(3600)) { _, _ in false }
            #expect(report.deleted.isEmpty)
            #expect(try await store.contains(blob.digest))
        }
    }

    @Test func retainingABlobRefreshesItAndTheCollectionSeesWhen() async throws {
        try await withStore { store async throws in
            let blob = try await store.put(bytes: Array("uploaded long ago".utf8))
            let old = Date().addingTimeInterval(-7200)
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: store.path(of: blob.digest))
            let before = Date()
            #expect(try await store.retain(blob.digest))
            #expect(try await store.retain(BlobDigest(hex: String(repeating: "0", count: 64))!) == false, "nothing to retain")
            // The question is asked with the time of the last store or retain.
            let seen = Mutex<[Date]>([])
            let report = try await store.collectGarbage(grace: .zero) { _, storedAt in
                seen.withLock { $0.append(storedAt) }
                return storedAt >= before.addingTimeInterval(-1)
            }
            #expect(report.deleted.isEmpty)
            #expect(seen.withLock { $0.count } == 1)
            #expect(try await store.contains(blob.digest))
        }
    }
}
