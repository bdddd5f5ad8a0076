import HTTPTypes
import SlipwayBlobs
import SlipwayData
import SlipwayDomain

/// Reads a version's records from the blob store, one shard at a time.
struct ManifestRecords: Sendable {
    let blobs: any BlobStore

    /// The records of one shard.
    func records(of shard: ManifestShard) async throws -> [DatasetRecord] {
        guard let digest = BlobDigest(hex: shard.sha256) else {
            throw APIError(.internalServerError, code: "internal", "a manifest names an invalid shard")
        }
        return try ManifestReader.records(inShard: try await blobs.bytes(digest, limit: 1 << 30))
    }

    /// At most `limit` records of `manifest` from position `offset`, reading only the shards that hold them.
    func page(of manifest: DatasetManifest, offset: Int, limit: Int) async throws -> [DatasetRecord] {
        var items: [DatasetRecord] = []
        var shardStart = 0
        for shard in manifest.shards where items.count < limit {
            defer { shardStart += shard.records }
            guard shardStart + shard.records > offset else { continue }
            let records = try await records(of: shard)
            items += records.dropFirst(max(0, offset - shardStart)).prefix(limit - items.count)
        }
        return items
    }

    /// Calls `body` with every record of `manifest`, in order.
    func forEach(in manifest: DatasetManifest, _ body: (DatasetRecord) async throws -> Void) async throws {
        for shard in manifest.shards {
            for record in try await records(of: shard) { try await body(record) }
        }
    }

    /// Calls `body` with the records of each shard in turn.
    func forEachShard(in manifest: DatasetManifest, _ body: ([DatasetRecord]) async throws -> Void) async throws {
        for shard in manifest.shards { try await body(try await records(of: shard)) }
    }
}
