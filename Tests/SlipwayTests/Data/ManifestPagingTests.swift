import Foundation
import SlipwayBlobs
import SlipwayData
import SlipwayDomain
import Testing

@testable import SlipwayServer

/// Paging through a version's records reads only the shards that hold the page, across shard boundaries.
@Suite("Manifest paging")
struct ManifestPagingTests {
    @Test(arguments: [(0, 4), (2, 3), (3, 3), (5, 10), (9, 5), (10, 1), (12, 2)])
    func pagesCrossShardBoundariesInRecordOrder(offset: Int, limit: Int) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-paging-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let blobs = try FileBlobStore(root: root)
        var builder = ManifestBuilder(taskType: .unlabeled, schema: DatasetSchema(), recordsPerShard: 3) { bytes in
            try await blobs.put(bytes: bytes).digest.hex
        }
        for index in 0..<10 { try await builder.add(DatasetRecord(id: "r\(index)")) }
        let manifest = try await builder.finish()
        #expect(manifest.shards.count == 4)

        let page = try await ManifestRecords(blobs: blobs).page(of: manifest, offset: offset, limit: limit)
        let expected = (0..<10).dropFirst(offset).prefix(limit).map { "r\($0)" }
        #expect(page.map(\.id) == Array(expected))
    }
}
