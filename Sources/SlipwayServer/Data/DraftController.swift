import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayBlobs
import SlipwayData
import SlipwayDomain
import SlipwayStore

/// A dataset's draft: open it from a version (or empty), add, replace and remove records, change their
/// labels, import a file into it, then commit it as the next immutable version or discard it.
struct DraftController: Sendable {
    let datasets: DatasetController
    var store: MetadataStore { datasets.store }
    var blobs: any BlobStore { datasets.blobs }

    static let base = DatasetController.base + "/{dataset}/draft"

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post(RouterPath(stringLiteral: Self.base), use: create)
        api.get(RouterPath(stringLiteral: Self.base), use: show)
        api.delete(RouterPath(stringLiteral: Self.base), use: discard)
        api.get(RouterPath(stringLiteral: Self.base + "/records"), use: records)
        api.get(RouterPath(stringLiteral: Self.base + "/records/{record}"), use: record)
        api.put(RouterPath(stringLiteral: Self.base + "/records/{record}"), use: putRecord)
        api.delete(RouterPath(stringLiteral: Self.base + "/records/{record}"), use: removeRecord)
        api.put(RouterPath(stringLiteral: Self.base + "/records/{record}/annotations"), use: setAnnotations)
        api.post(RouterPath(stringLiteral: Self.base + "/import"), use: importFile)
        api.post(RouterPath(stringLiteral: Self.base + "/commit"), use: commit)
    }

    /// Opens the draft with the records of `from_version` (default: the latest version), or empty.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Created<DatasetDraft> {
        let target = try await datasets.target(context, requires: .developer)
        let body = try await request.decodeJSON(CreateDraftRequest.self, context: context)
        if try await store.drafts.draft(of: target.dataset) != nil {
            throw APIError(.conflict, code: "draft_exists", "dataset '\(target.dataset.name)' already has a draft; commit or discard it first")
        }
        var baseVersion: Int?
        var manifest: DatasetManifest?
        if body.empty != true, let number = body.fromVersion ?? target.dataset.latestVersion {
            let stored = try await datasets.storedVersion(String(number), of: target.dataset)
            baseVersion = number
            manifest = try DatasetController.manifest(stored)
        }
        let schema = DatasetSchema(fields: manifest?.schema.fields ?? [])
        let feed = ShardFeed(blobs: blobs, shards: manifest?.shards ?? [])
        return Created(
            value: try await store.drafts.create(
                for: target.dataset, baseVersion: baseVersion, schemaJSON: try Self.json(schema), by: target.access.caller.auditActor,
                records: { try await feed.next() }))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> DatasetDraft {
        let target = try await datasets.target(context, requires: .viewer)
        return try await draft(of: target.dataset)
    }

    @Sendable func discard(_ request: Request, context: AppRequestContext) async throws -> Response {
        let target = try await datasets.target(context, requires: .developer)
        guard try await store.drafts.discard(target.dataset, by: target.access.caller.auditActor) else {
            throw Self.noDraft(target.dataset)
        }
        return Response(status: .noContent)
    }

    /// The draft's records in order, `limit` (at most 1000) from `offset`.
    @Sendable func records(_ request: Request, context: AppRequestContext) async throws -> RecordPage {
        let target = try await datasets.target(context, requires: .viewer)
        let draft = try await draft(of: target.dataset)
        let offset = try DatasetController.integer(request, "offset", default: 0, range: 0...Int.max)
        let limit = try DatasetController.integer(request, "limit", default: 100, range: 1...1000)
        let decoder = RecordCoding.decoder()
        let items = try await store.drafts.records(of: target.dataset, offset: offset, limit: limit).map {
            try decoder.decode(DatasetRecord.self, from: Data($0.utf8))
        }
        return RecordPage(items: items, offset: offset, total: draft.recordCount)
    }

    @Sendable func record(_ request: Request, context: AppRequestContext) async throws -> DatasetRecord {
        let target = try await datasets.target(context, requires: .viewer)
        return try await existingRecord(try Self.recordID(context), of: target.dataset)
    }

    /// Adds a record, or replaces the one with its id. Its file must already be uploaded to the namespace.
    @Sendable func putRecord(_ request: Request, context: AppRequestContext) async throws -> DatasetRecord {
        let target = try await datasets.target(context, requires: .developer)
        let id = try Self.recordID(context)
        var record = try await request.decodeJSON(DatasetRecord.self, context: context)
        guard record.id == id else {
            throw APIError.invalidField("id", "is '\(record.id.prefix(80))' but the path names the record '\(id.prefix(80))'")
        }
        record.annotations = Self.signed(record.annotations, by: target.access.caller)
        return try await put(record, into: target)
    }

    @Sendable func removeRecord(_ request: Request, context: AppRequestContext) async throws -> Response {
        let target = try await datasets.target(context, requires: .developer)
        _ = try await draft(of: target.dataset)
        let id = try Self.recordID(context)
        guard try await store.drafts.remove(id, from: target.dataset) else { throw Self.noRecord(id) }
        return Response(status: .noContent)
    }

    /// Replaces a record's labels; annotations made by a person are signed with the caller's name.
    @Sendable func setAnnotations(_ request: Request, context: AppRequestContext) async throws -> DatasetRecord {
        let target = try await datasets.target(context, requires: .developer)
        let body = try await request.decodeJSON(AnnotationsRequest.self, context: context)
        var record = try await existingRecord(try Self.recordID(context), of: target.dataset)
        record.annotations = Self.signed(body.annotations, by: target.access.caller)
        return try await put(record, into: target)
    }

    /// Imports an uploaded file (any import format) into the draft: its records are added, or replace
    /// those with the same ids.
    @Sendable func importFile(_ request: Request, context: AppRequestContext) async throws -> DraftImportReport {
        let target = try await datasets.target(context, requires: .developer)
        let source = try await request.decodeJSON(ImportSource.self, context: context)
        let current = try await draft(of: target.dataset)
        return try await datasets.importer.whileImporting(into: target.dataset.namespaceID) {
            try await importFile(source, into: target, draft: current)
        }
    }

    /// Imports into the draft (inside an import in flight, so nothing it writes is collected before the draft holds it).
    private func importFile(
        _ source: ImportSource, into target: DatasetController.Target, draft current: DatasetDraft
    ) async throws
        -> DraftImportReport
    {
        var draft = current
        let result = try await datasets.importer.importVersion(of: target.dataset, from: source)
        let schema: DatasetSchema
        do {
            schema = try SchemaEvolution.schema(draft.schema, merging: result.manifest.schema)
        } catch let error as DataImportError {
            throw APIError.badRequest("schema_conflict", "the file cannot be imported into the draft: \(error.description)")
        }
        var added = 0
        var replaced = 0
        let encoder = RecordCoding.encoder()
        try await ManifestRecords(blobs: blobs).forEachShard(in: result.manifest) { records in
            for start in stride(from: 0, to: records.count, by: 1000) {
                let batch = try records[start..<min(start + 1000, records.count)].map {
                    DraftRecordInput(id: $0.id, json: String(decoding: try encoder.encode($0), as: UTF8.self), fileDigest: $0.file?.sha256)
                }
                let outcome = try await store.drafts.put(batch, schemaJSON: try Self.json(schema), in: target.dataset)
                added += outcome.added
                replaced += outcome.replaced
                draft = outcome.draft
            }
        }
        return DraftImportReport(added: added, replaced: replaced, draft: draft)
    }

    /// Writes the draft's records, in order, as the next version's manifest and closes the draft.
    @Sendable func commit(_ request: Request, context: AppRequestContext) async throws -> Created<DatasetVersionDetail> {
        let target = try await datasets.target(context, requires: .developer)
        let body = try await request.decodeJSON(CommitDraftRequest.self, context: context)
        try validText(body.message, field: "message", limit: 4000)
        return try await datasets.importer.whileImporting(into: target.dataset.namespaceID) {
            try await commit(target, message: body.message)
        }
    }

    /// Writes the shards and commits them as the next version (inside an import in flight).
    private func commit(_ target: DatasetController.Target, message: String?) async throws -> Created<DatasetVersionDetail> {
        let draft = try await draft(of: target.dataset)
        guard draft.recordCount > 0 else {
            throw APIError.badRequest("draft_empty", "the draft holds no records; add some before committing")
        }
        let blobs = self.blobs
        var builder = ManifestBuilder(
            taskType: target.dataset.taskType, schema: draft.schema, recordsPerShard: datasets.importer.recordsPerShard,
            sink: { bytes in try await blobs.put(bytes: bytes).digest.hex })
        var files: Set<String> = []
        var position: Int64 = -1
        let decoder = RecordCoding.decoder()
        var manifest: DatasetManifest
        do {
            while true {
                let rows = try await store.drafts.rows(of: target.dataset, after: position, limit: 2000)
                guard let last = rows.last else { break }
                for row in rows {
                    let record = try decoder.decode(DatasetRecord.self, from: Data(row.json.utf8))
                    if let file = record.file { files.insert(file.sha256) }
                    try await builder.add(record)
                }
                position = last.position
            }
            manifest = try await builder.finish()
        } catch let error as DataImportError {
            throw APIError.badRequest(error.code, "the draft cannot be committed: \(error.description)")
        }
        manifest.schema.classes = Set(manifest.statistics.classCounts.keys).union(manifest.statistics.boxCounts.keys).sorted()
        var digests = files
        for shard in manifest.shards { digests.insert(shard.sha256) }
        let version = try await store.drafts.commit(
            target.dataset, revision: draft.revision, manifestJSON: try Self.json(manifest), recordCount: manifest.recordCount,
            message: message ?? "", digests: digests, by: target.access.caller.auditActor)
        return Created(value: DatasetVersionDetail(version: version, manifest: manifest))
    }

    // MARK: - Helpers

    private func put(_ record: DatasetRecord, into target: DatasetController.Target) async throws -> DatasetRecord {
        let draft = try await draft(of: target.dataset)
        let schema: DatasetSchema?
        do {
            schema = try SchemaEvolution.schema(draft.schema, admitting: record)
        } catch let error as DataImportError {
            throw APIError.badRequest("invalid_record", error.description)
        }
        if let file = record.file {
            let held = try await store.blobReferences.held([file.sha256], namespaceID: target.dataset.namespaceID)
            guard held.contains(file.sha256), let digest = BlobDigest(hex: file.sha256), try await blobs.contains(digest) else {
                throw APIError.badRequest(
                    "blob_missing", "the record's file \(file.sha256) has not been uploaded to this namespace; PUT it to …/blobs/{sha256} first")
            }
        }
        let json = String(decoding: try RecordCoding.encoder().encode(record), as: UTF8.self)
        _ = try await store.drafts.put(
            [DraftRecordInput(id: record.id, json: json, fileDigest: record.file?.sha256)], schemaJSON: try schema.map(Self.json),
            in: target.dataset)
        return record
    }

    private func draft(of dataset: Dataset) async throws -> DatasetDraft {
        guard let draft = try await store.drafts.draft(of: dataset) else { throw Self.noDraft(dataset) }
        return draft
    }

    private func existingRecord(_ id: String, of dataset: Dataset) async throws -> DatasetRecord {
        _ = try await draft(of: dataset)
        guard let json = try await store.drafts.record(id, of: dataset) else { throw Self.noRecord(id) }
        return try RecordCoding.decoder().decode(DatasetRecord.self, from: Data(json.utf8))
    }

    /// Annotations said to come from a person are signed with the caller's name: no one labels as someone else.
    static func signed(_ annotations: [Annotation], by caller: Caller) -> [Annotation] {
        annotations.map { annotation in
            var annotation = annotation
            if annotation.source.kind == .human { annotation.source.user = caller.user.username.value }
            return annotation
        }
    }

    /// The record id in the path, percent-decoded (ids such as `cats/001` travel as `cats%2F001`).
    static func recordID(_ context: AppRequestContext) throws -> String {
        let raw = try context.parameters.require("record")
        guard let id = raw.removingPercentEncoding, !id.isEmpty, id.count <= 512, !id.contains("\0") else {
            throw APIError.invalidField("record", "must be a record id of 1 to 512 characters, percent-encoded in the path")
        }
        return id
    }

    static func noDraft(_ dataset: Dataset) -> APIError {
        APIError(.notFound, code: "no_draft", "dataset '\(dataset.name)' has no draft; open one with POST …/draft")
    }

    static func noRecord(_ id: String) -> APIError {
        APIError.notFound("the draft has no record '\(id.prefix(200))'")
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try APICoding.encoder().encode(value), as: UTF8.self)
    }
}

/// Hands out a version's records shard by shard, as draft rows.
final class ShardFeed: @unchecked Sendable {
    private let blobs: any BlobStore
    private let shards: [ManifestShard]
    private var index = 0
    private let lock = NSLock()

    init(blobs: any BlobStore, shards: [ManifestShard]) {
        self.blobs = blobs
        self.shards = shards
    }

    /// The next shard's records, or `nil` after the last. Called by one task at a time.
    func next() async throws -> [DraftRecordInput]? {
        let shard: ManifestShard? = lock.withLock {
            defer { index += 1 }
            return index < shards.count ? shards[index] : nil
        }
        guard let shard else { return nil }
        let encoder = RecordCoding.encoder()
        return try await ManifestRecords(blobs: blobs).records(of: shard).map {
            DraftRecordInput(id: $0.id, json: String(decoding: try encoder.encode($0), as: UTF8.self), fileDigest: $0.file?.sha256)
        }
    }
}

extension DatasetDraft: ResponseEncodable {}
extension DatasetRecord: ResponseEncodable {}
extension DraftImportReport: ResponseEncodable {}
