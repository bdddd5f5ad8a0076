import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SlipwayBlobs
import SlipwayData
import SlipwayDomain
import SlipwayServer
import Synchronization
import Testing

/// Garbage collection running while an import is in flight: whatever the grace period, nothing the import has written
/// (its shards), retained (files uploaded long ago, its source) or will reference is lost.
@Suite("Garbage collection during imports")
struct GarbageCollectionRaceTests {
    /// Pauses the first write after it is armed, once the bytes are stored, until released: the moment an import has
    /// written a shard but not yet committed its version.
    final class PausedWrites: Sendable {
        private struct State {
            var armed = false
            var paused: CheckedContinuation<Void, Never>?
            var reached: CheckedContinuation<Void, Never>?
            var hasReached = false
        }
        private let state = Mutex(State())

        func arm() { state.withLock { $0.armed = true } }

        /// Called by a writer after storing: waits for ``release()`` when armed (the first time only).
        func afterWrite() async {
            let pause = state.withLock { state -> Bool in
                guard state.armed else { return false }
                state.armed = false
                return true
            }
            guard pause else { return }
            await withCheckedContinuation { continuation in
                let reached = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    state.paused = continuation
                    state.hasReached = true
                    defer { state.reached = nil }
                    return state.reached
                }
                reached?.resume()
            }
        }

        /// Waits until a writer is paused.
        func untilPaused() async {
            await withCheckedContinuation { continuation in
                let already = state.withLock { state -> Bool in
                    if state.hasReached { return true }
                    state.reached = continuation
                    return false
                }
                if already { continuation.resume() }
            }
        }

        func release() {
            let paused = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.paused = nil }
                return state.paused
            }
            paused?.resume()
        }
    }

    /// A blob store that lets ``PausedWrites`` hold a write after it stored its bytes.
    struct PausingBlobStore: BlobStore {
        let inner: any BlobStore
        let writes: PausedWrites

        func put(_ chunks: some AsyncSequence<ByteBuffer, any Error>, expected: BlobDigest?) async throws -> BlobInfo {
            let info = try await inner.put(chunks, expected: expected)
            await writes.afterWrite()
            return info
        }
        func info(_ digest: BlobDigest) async throws -> BlobInfo? { try await inner.info(digest) }
        func read(_ digest: BlobDigest, chunkSize: Int) async throws -> BlobChunks { try await inner.read(digest, chunkSize: chunkSize) }
        @discardableResult func delete(_ digest: BlobDigest) async throws -> Bool { try await inner.delete(digest) }
        func list() -> AsyncThrowingStream<BlobInfo, any Error> { inner.list() }
        func collectGarbage(
            grace: Duration, isReferenced: @Sendable (BlobDigest, Date) async throws -> Bool
        ) async throws -> BlobCollectionReport {
            try await inner.collectGarbage(grace: grace, isReferenced: isReferenced)
        }
        func retain(_ digest: BlobDigest) async throws -> Bool { try await inner.retain(digest) }
    }

    static func upload(_ api: APIClient, _ bytes: [UInt8], token: String) async throws -> String {
        let digest = sha256HexData(Data(bytes))
        let response = try await api.client.execute(
            uri: "/api/v1/namespaces/team/blobs/\(digest)", method: .put, headers: [.authorization: "Bearer \(token)"],
            body: ByteBuffer(bytes: bytes))
        #expect(response.status == .created)
        return digest
    }

    @Test(arguments: TestBackend.available)
    func aCollectionWithNoGraceDuringAnImportLosesNothingTheVersionReferences(backend: TestBackend) async throws {
        let writes = PausedWrites()
        try await TestDatabases.withFreshDatabase(backend) { database, directory in
            let platform = try await Platform.open(
                TestPlatform.configuration(database, directory: directory), logger: TestDatabases.logger,
                wrapBlobs: { PausingBlobStore(inner: $0, writes: writes) })
            let app = Application(router: try await buildRouter(platform), logger: TestDatabases.logger)
            try await app.test(.router) { client in
                let api = APIClient(client: client, platform: platform)
                let admin = try await DatasetAPITests.setUp(api)
                let base = DatasetAPITests.base
                #expect(
                    try await api.request(.post, base, token: admin, json: #"{"name":"pets","task_type":"image_classification"}"#).status == .created)

                // Images uploaded long ago (their files aged), a junk blob nobody refers to, and the records naming the images.
                var images: [(digest: String, size: Int)] = []
                for index in 0..<4 {
                    let bytes = Array("image \(index) ".utf8) + Array(repeating: UInt8(index), count: 512)
                    images.append((try await Self.upload(api, bytes, token: admin), bytes.count))
                }
                let junk = try await Self.upload(api, Array("nobody refers to this".utf8), token: admin)
                let lines =
                    images.enumerated().map { index, image in
                        #"{"id":"img-\#(index)","file":{"sha256":"\#(image.digest)","size":\#(image.size),"media_type":"image/png","path":"\#(index).png"},"fields":{},"annotations":[{"kind":"class","label":"\#(index % 2 == 0 ? "cat" : "dog")","source":{"kind":"import"}}]}"#
                    }.joined(separator: "\n") + "\n"
                let source = try await Self.upload(api, Array(lines.utf8), token: admin)
                let store = try #require(platform.blobs as? PausingBlobStore).inner as! FileBlobStore
                let longAgo = Date().addingTimeInterval(-3 * 86_400)
                for digest in images.map(\.digest) + [junk, source] {
                    try FileManager.default.setAttributes(
                        [.modificationDate: longAgo], ofItemAtPath: store.path(of: BlobDigest(hex: digest)!))
                }

                // The import writes its shard and pauses before committing; a collection with no grace runs then.
                writes.arm()
                let importing = Task {
                    try await api.request(
                        .post, base + "/pets/versions", token: admin, body: CreateVersionRequest(source: ImportSource(format: .jsonl, blob: source)))
                }
                await writes.untilPaused()
                let during = try await api.request(.post, "/api/v1/admin/gc", token: admin, body: GarbageCollectionRequest(graceSeconds: 0))
                #expect(during.status == .ok, "\(during.text)")
                writes.release()
                let created = try await importing.value
                #expect(created.status == .created, "\(created.text)")

                // The collection did run: the junk blob, which nothing refers to, is gone.
                #expect(try await store.contains(BlobDigest(hex: junk)!) == false)
                #expect(during.json["deleted"] as? Int == 1, "\(during.text)")
                // Everything the version references is there: its shard, its images and its source.
                let detail = try created.decode(DatasetVersionDetail.self)
                let referenced = detail.manifest.shards.map(\.sha256) + images.map(\.digest) + [source]
                for digest in referenced { #expect(try await store.contains(BlobDigest(hex: digest)!), "\(digest) was collected") }
                // A collection afterwards keeps it all too, and the records and files read back.
                _ = try await api.request(.post, "/api/v1/admin/gc", token: admin, body: GarbageCollectionRequest(graceSeconds: 0))
                for digest in referenced { #expect(try await store.contains(BlobDigest(hex: digest)!)) }
                let records = try await api.request(.get, base + "/pets/versions/1/records", token: admin)
                #expect(records.items.count == 4)
                let image = try await api.request(.get, "/api/v1/namespaces/team/blobs/\(images[0].digest)", token: admin)
                #expect(image.status == .ok)
            }
            try await platform.close()
        }
    }

    @Test func aCollectionCannotAskForLessThanTheMinimumGrace() async throws {
        try await TestDatabases.withFreshDatabase(.sqlite) { database, directory in
            var configuration = TestPlatform.configuration(database, directory: directory)
            configuration.minimumGCGraceSeconds = 600
            let platform = try await Platform.open(configuration, logger: TestDatabases.logger)
            let app = Application(router: try await buildRouter(platform), logger: TestDatabases.logger)
            try await app.test(.router) { client in
                let api = APIClient(client: client, platform: platform)
                let admin = try await api.token()
                let refused = try await api.request(.post, "/api/v1/admin/gc", token: admin, body: GarbageCollectionRequest(graceSeconds: 0))
                #expect(refused.status == .badRequest)
                #expect(refused.text.contains("SLIPWAY_GC_MINIMUM_GRACE_SECONDS"))
                #expect(
                    try await api.request(.post, "/api/v1/admin/gc", token: admin, body: GarbageCollectionRequest(graceSeconds: 600)).status == .ok)
                #expect(try await api.request(.post, "/api/v1/admin/gc", token: admin, json: "{}").status == .ok)
            }
            try await platform.close()
        }
    }
}
