import Foundation
import NIOCore
import SlipwayBlobs
import SlipwayData
import SlipwayDomain
import SlipwayStore

/// Turns an uploaded file (CSV, JSON Lines) into a version's manifest: reads the blob twice, streamed
/// (once to infer the schema, once to convert), writes record shards to the blob store as it goes, and
/// checks that every file a record refers to is held by the namespace.
struct VersionImporter: Sendable {
    let blobs: any BlobStore
    let references: any BlobReferenceRepository
    /// What an uploaded archive may unpack to.
    var archiveLimits = ArchiveLimits()
    /// Records per manifest shard.
    var recordsPerShard = 50_000

    /// The result: the manifest and every blob it keeps alive (shards, files, the source).
    struct Result: Sendable {
        var manifest: DatasetManifest
        var digests: Set<String>
    }

    /// How long an import counts as running when its server died before ending it.
    static let importLease: TimeInterval = 24 * 3600

    /// Runs `body` as an import in flight: until it returns, garbage collection keeps every blob stored or retained since
    /// just before it began — the shards it writes, the files and source it retains — whatever the grace period.
    /// `body` should end by committing what it wrote, so that the version's references take over.
    func whileImporting<T>(into namespaceID: UUID, _ body: () async throws -> T) async throws -> T {
        // A little before now: file times may be coarser than the clock.
        let id = try await references.beginImport(
            namespaceID: namespaceID, at: Date().addingTimeInterval(-2), expiresAt: Date().addingTimeInterval(Self.importLease))
        do {
            let value = try await body()
            try? await references.endImport(id)
            return value
        } catch {
            try? await references.endImport(id)
            throw error
        }
    }

    /// Reads the source and writes the version's shards; call it inside ``whileImporting(into:_:)``, which keeps what it
    /// writes and retains from garbage collection until the version is committed.
    func importVersion(of dataset: Dataset, from source: ImportSource) async throws -> Result {
        guard let sourceDigest = BlobDigest(hex: source.blob) else {
            throw APIError.invalidField("source.blob", "must be the SHA-256 of an uploaded file (64 lowercase hex digits)")
        }
        // Retained (marked stored now): the version will reference its source, and a collection running meanwhile spares it.
        guard try await references.held([sourceDigest.hex], namespaceID: dataset.namespaceID).contains(sourceDigest.hex),
            try await blobs.retain(sourceDigest)
        else {
            throw APIError.badRequest(
                "blob_missing", "the source file \(sourceDigest.hex) has not been uploaded to this namespace; PUT it to …/blobs/{sha256} first")
        }
        let blobs = self.blobs
        let chunks = BlobChunks { [blobs] in try LazyBlobSource(blobs: blobs, digest: sourceDigest) }
        let sink: ManifestBuilder.ShardSink = { bytes in try await blobs.put(bytes: bytes).digest.hex }
        var files: Set<String> = []
        // Files unpacked here from an archive are stored by this import, not uploaded: no holding check for them.
        var unpackedFiles: Set<String> = []
        var builder: ManifestBuilder
        let manifest: DatasetManifest
        do {
            switch source.format {
            case .csv:
                let importer = CSVTableImporter(
                    options: CSVImportOptions(
                        labelColumn: source.labelColumn, idColumn: source.idColumn, fieldTypes: source.fieldTypes ?? [:]))
                let plan = try await importer.plan(chunks)
                builder = ManifestBuilder(taskType: dataset.taskType, schema: plan.schema, recordsPerShard: recordsPerShard, sink: sink)
                try await importer.records(chunks, plan: plan) { record in try await builder.add(record) }
            case .imageFolderZip, .imageFolderTar:
                // Images go to the blob store as they are unpacked, so they are held by the namespace's version.
                let schema = DatasetSchema(fields: [FieldSpec(name: "width", type: .integer), FieldSpec(name: "height", type: .integer)])
                var labels: Set<String> = []
                let collected = RecordSpool()
                let archive = ImageFolderArchive(blobs: blobs, limits: archiveLimits)
                try await archive.records(fromArchive: sourceDigest, format: source.format) { record in
                    if let label = record.classLabel { labels.insert(label) }
                    files.insert(record.file!.sha256)
                    try collected.append(record)
                }
                builder = ManifestBuilder(
                    taskType: dataset.taskType, schema: DatasetSchema(fields: schema.fields, classes: labels.sorted()),
                    recordsPerShard: recordsPerShard, sink: sink)
                try await collected.replay { record in try await builder.add(record) }
                unpackedFiles = files
            case .jsonl:
                let importer = JSONLinesImporter(
                    idKey: source.idColumn ?? "id", labelKey: source.labelColumn ?? "label", fieldTypes: source.fieldTypes ?? [:])
                let schema = try await importer.schema(chunks)
                builder = ManifestBuilder(taskType: dataset.taskType, schema: schema, recordsPerShard: recordsPerShard, sink: sink)
                try await importer.records(chunks, schema: schema) { record in
                    try await builder.add(record)
                    if let file = record.file, files.insert(file.sha256).inserted {
                        // Retained as it is met (checked first by the builder): a collection running meanwhile spares it.
                        guard let digest = BlobDigest(hex: file.sha256), try await blobs.retain(digest) else {
                            throw APIError.badRequest(
                                "blob_missing", "a record refers to the file \(file.sha256), which has not been uploaded to this namespace")
                        }
                    }
                }
            }
            manifest = try await builder.finish()
        } catch let error as DataImportError {
            throw APIError.badRequest(error.code, "the \(source.format.rawValue) file cannot be imported: \(error.description)")
        }
        if !files.subtracting(unpackedFiles).isEmpty {
            let held = try await references.held(Array(files.subtracting(unpackedFiles)), namespaceID: dataset.namespaceID)
            if let missing = files.subtracting(held).sorted().first {
                throw APIError.badRequest(
                    "blob_missing", "a record refers to the file \(missing), which has not been uploaded to this namespace")
            }
        }
        var digests = files
        digests.insert(sourceDigest.hex)
        for shard in manifest.shards { digests.insert(shard.sha256) }
        return Result(manifest: manifest, digests: digests)
    }
}

/// Opens a blob for reading only when iteration starts, so the same sequence can be read twice.
final class LazyBlobSource: ChunkSource {
    private let blobs: any BlobStore
    private let digest: BlobDigest
    private var iterator: BlobChunks.AsyncIterator?

    init(blobs: any BlobStore, digest: BlobDigest) throws {
        self.blobs = blobs
        self.digest = digest
    }

    func next() async throws -> ByteBuffer? {
        if iterator == nil { iterator = try await blobs.read(digest, chunkSize: 1 << 20).makeAsyncIterator() }
        return try await iterator?.next()
    }
}
