import Foundation
import SQLKit
import SlipwayDomain

/// One record going into a draft: its id, its JSON, and the blob its file is stored as.
public struct DraftRecordInput: Sendable {
    public var id: String
    public var json: String
    public var fileDigest: String?

    public init(id: String, json: String, fileDigest: String?) {
        self.id = id
        self.json = json
        self.fileDigest = fileDigest
    }
}

/// A record of a draft as stored: where it stands in the draft's order, and its JSON.
public struct DraftRecordRow: Sendable {
    public var position: Int64
    public var json: String
}

/// What a batch of puts did to the draft.
public struct DraftPutResult: Sendable {
    public var added: Int
    public var replaced: Int
    public var draft: DatasetDraft
}

/// Dataset drafts: the editable staging area of a dataset, its records kept one per row so every edit is a
/// single-row change and a commit reads them in order, page by page.
///
/// The files of a draft's records are referenced by the draft (`dataset_draft` blob references), so garbage
/// collection keeps them however long the draft stays open.
public protocol DraftRepository: Sendable {
    /// Opens the draft, filled with the records `nextBatch` hands out until it returns `nil` (the base version's).
    /// - Throws: ``StoreError`` `draft_exists` when the dataset already has one.
    func create(
        for dataset: Dataset, baseVersion: Int?, schemaJSON: String, by actor: AuditActor,
        records nextBatch: @escaping @Sendable () async throws -> [DraftRecordInput]?
    ) async throws -> DatasetDraft
    /// The dataset's draft, if one is open.
    func draft(of dataset: Dataset) async throws -> DatasetDraft?
    /// Records of the draft in order, `limit` from `offset`.
    func records(of dataset: Dataset, offset: Int, limit: Int) async throws -> [String]
    /// Records of the draft after position `after`, in order: the commit's way through a large draft.
    func rows(of dataset: Dataset, after position: Int64, limit: Int) async throws -> [DraftRecordRow]
    /// One record's JSON.
    func record(_ id: String, of dataset: Dataset) async throws -> String?
    /// Adds records, or replaces those with the same ids (keeping their place); sets the schema when given.
    func put(_ records: [DraftRecordInput], schemaJSON: String?, in dataset: Dataset) async throws -> DraftPutResult
    /// Takes a record out of the draft. - Returns: whether it was there.
    func remove(_ id: String, from dataset: Dataset) async throws -> Bool
    /// Stores the committed version and closes the draft, in one transaction, if the draft is still at `revision`.
    /// - Throws: ``StoreError`` `draft_changed` when an edit landed after the commit read the draft.
    func commit(
        _ dataset: Dataset, revision: Int, manifestJSON: String, recordCount: Int, message: String, digests: Set<String>,
        by actor: AuditActor
    ) async throws -> DatasetVersion
    /// Throws the draft away. - Returns: whether there was one.
    func discard(_ dataset: Dataset, by actor: AuditActor) async throws -> Bool
}

/// Drafts in the SQL database.
public struct SQLDraftRepository: DraftRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(
        for dataset: Dataset, baseVersion: Int?, schemaJSON: String, by actor: AuditActor,
        records nextBatch: @escaping @Sendable () async throws -> [DraftRecordInput]?
    ) async throws -> DatasetDraft {
        let now = Date()
        let datasetID = dataset.id.uuidString
        try await database.write { db in
            guard try await db.select().column("dataset_id").from("dataset_drafts").where("dataset_id", .equal, datasetID).first() == nil
            else {
                throw StoreError.conflict(
                    code: "draft_exists", "dataset '\(dataset.name)' already has a draft; commit or discard it first")
            }
            var position: Int64 = 0
            var digests: Set<String> = []
            while let batch = try await nextBatch() {
                try await Self.insertRows(db, batch, datasetID: datasetID, from: position, origin: "base")
                position += Int64(batch.count)
                for record in batch { if let digest = record.fileDigest { digests.insert(digest) } }
            }
            try await db.insert(into: "dataset_drafts")
                .columns(
                    "dataset_id", "base_version", "base_records", "schema", "revision", "next_position", "created_at", "created_by",
                    "updated_at"
                )
                .values(
                    SQLBind(datasetID), SQLBind(baseVersion.map(Int64.init)), SQLBind(position), SQLBind(schemaJSON), SQLBind(Int64(0)),
                    SQLBind(position), SQLBind(now.timeIntervalSince1970), SQLBind(actor.name), SQLBind(now.timeIntervalSince1970)
                ).run()
            try await SQLDatasetRepository.insertReferences(db, ownerType: "dataset_draft", ownerID: datasetID, digests: digests, at: now)
            try await db.recordAudit(
                actor, "dataset.draft.create", targetType: "dataset", target: dataset.name.value, namespaceID: dataset.namespaceID,
                details: ["base_version": baseVersion.map(String.init) ?? "none", "records": String(position)])
        }
        guard let draft = try await draft(of: dataset) else { throw StoreError.notFound("draft", dataset.name.value) }
        return draft
    }

    public func draft(of dataset: Dataset) async throws -> DatasetDraft? {
        try await database.read { db in try await Self.draft(db, of: dataset) }
    }

    static func draft(_ db: any SQLDatabase, of dataset: Dataset) async throws -> DatasetDraft? {
        let datasetID = dataset.id.uuidString
        guard
            let row = try await db.select().column("*").from("dataset_drafts").where("dataset_id", .equal, datasetID)
                .first(decoding: DraftRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        else { return nil }
        let counts = try await db.raw(
            """
            SELECT COUNT(*) AS total,
                COALESCE(SUM(CASE WHEN origin = 'new' THEN 1 ELSE 0 END), 0) AS added,
                COALESCE(SUM(CASE WHEN origin = 'base' AND edited = 1 THEN 1 ELSE 0 END), 0) AS changed,
                COALESCE(SUM(CASE WHEN origin = 'base' THEN 1 ELSE 0 END), 0) AS kept
            FROM dataset_draft_records WHERE dataset_id = \(bind: datasetID)
            """
        ).first(decoding: DraftCounts.self)
        let schema = try APICoding.decoder().decode(DatasetSchema.self, from: Data(row.schema.utf8))
        return DatasetDraft(
            datasetID: dataset.id, baseVersion: row.baseVersion.map(Int.init), recordCount: Int(counts?.total ?? 0),
            added: Int(counts?.added ?? 0), changed: Int(counts?.changed ?? 0), removed: Int(row.baseRecords - (counts?.kept ?? 0)),
            schema: schema, revision: Int(row.revision), createdAt: Date(timeIntervalSince1970: row.createdAt), createdBy: row.createdBy,
            updatedAt: Date(timeIntervalSince1970: row.updatedAt))
    }

    public func records(of dataset: Dataset, offset: Int, limit: Int) async throws -> [String] {
        try await database.read { db in
            try await db.select().column("record").from("dataset_draft_records").where("dataset_id", .equal, dataset.id.uuidString)
                .orderBy("position").limit(limit).offset(offset).all(decodingColumn: "record", as: String.self)
        }
    }

    public func rows(of dataset: Dataset, after position: Int64, limit: Int) async throws -> [DraftRecordRow] {
        try await database.read { db in
            try await db.select().columns("position", "record").from("dataset_draft_records")
                .where("dataset_id", .equal, dataset.id.uuidString).where("position", .greaterThan, position)
                .orderBy("position").limit(limit).all()
                .map {
                    DraftRecordRow(
                        position: try $0.decode(column: "position", as: Int64.self), json: try $0.decode(column: "record", as: String.self))
                }
        }
    }

    public func record(_ id: String, of dataset: Dataset) async throws -> String? {
        try await database.read { db in
            try await db.select().column("record").from("dataset_draft_records").where("dataset_id", .equal, dataset.id.uuidString)
                .where("record_id", .equal, id).first(decodingColumn: "record", as: String.self)
        }
    }

    public func put(_ records: [DraftRecordInput], schemaJSON: String?, in dataset: Dataset) async throws -> DraftPutResult {
        let datasetID = dataset.id.uuidString
        let now = Date()
        let (added, replaced) = try await database.write { db -> (Int, Int) in
            guard
                let row = try await db.select().column("*").from("dataset_drafts").where("dataset_id", .equal, datasetID)
                    .first(decoding: DraftRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("draft", dataset.name.value) }
            var existing: Set<String> = []
            for start in stride(from: 0, to: records.count, by: 500) {
                let ids = records[start..<min(start + 500, records.count)].map(\.id)
                existing.formUnion(
                    try await db.select().column("record_id").from("dataset_draft_records").where("dataset_id", .equal, datasetID)
                        .where("record_id", .in, ids).all(decodingColumn: "record_id", as: String.self))
            }
            // The last of several puts of one id wins.
            var latest: [String: Int] = [:]
            for (index, record) in records.enumerated() { latest[record.id] = index }
            var fresh: [DraftRecordInput] = []
            for (index, record) in records.enumerated() where latest[record.id] == index {
                if existing.contains(record.id) {
                    try await db.update("dataset_draft_records").set("record", to: record.json).set("edited", to: Int64(1))
                        .where("dataset_id", .equal, datasetID).where("record_id", .equal, record.id).run()
                } else {
                    fresh.append(record)
                }
            }
            try await Self.insertRows(db, fresh, datasetID: datasetID, from: row.nextPosition, origin: "new")
            let digests = Set(records.compactMap(\.fileDigest))
            if !digests.isEmpty {
                let known = try await db.select().column("digest").from("blob_references").where("owner_type", .equal, "dataset_draft")
                    .where("owner_id", .equal, datasetID).where("digest", .in, Array(digests)).all(decodingColumn: "digest", as: String.self)
                try await SQLDatasetRepository.insertReferences(
                    db, ownerType: "dataset_draft", ownerID: datasetID, digests: digests.subtracting(known), at: now)
            }
            var update = db.update("dataset_drafts").set("revision", to: row.revision + 1)
                .set("next_position", to: row.nextPosition + Int64(fresh.count)).set("updated_at", to: now.timeIntervalSince1970)
            if let schemaJSON { update = update.set("schema", to: schemaJSON) }
            try await update.where("dataset_id", .equal, datasetID).run()
            return (fresh.count, latest.count - fresh.count)
        }
        guard let draft = try await draft(of: dataset) else { throw StoreError.notFound("draft", dataset.name.value) }
        return DraftPutResult(added: added, replaced: replaced, draft: draft)
    }

    public func remove(_ id: String, from dataset: Dataset) async throws -> Bool {
        let datasetID = dataset.id.uuidString
        return try await database.write { db in
            guard
                try await db.select().column("record_id").from("dataset_draft_records").where("dataset_id", .equal, datasetID)
                    .where("record_id", .equal, id).first() != nil
            else { return false }
            try await db.delete(from: "dataset_draft_records").where("dataset_id", .equal, datasetID).where("record_id", .equal, id).run()
            try await db.raw(
                "UPDATE dataset_drafts SET revision = revision + 1, updated_at = \(bind: Date().timeIntervalSince1970) WHERE dataset_id = \(bind: datasetID)"
            ).run()
            return true
        }
    }

    public func commit(
        _ dataset: Dataset, revision: Int, manifestJSON: String, recordCount: Int, message: String, digests: Set<String>,
        by actor: AuditActor
    ) async throws -> DatasetVersion {
        try await database.write { db in
            guard let draft = try await Self.draft(db, of: dataset) else { throw StoreError.notFound("draft", dataset.name.value) }
            guard draft.revision == revision else {
                throw StoreError.conflict(code: "draft_changed", "the draft was edited while it was being committed; commit again")
            }
            let version = try await SQLDatasetRepository.insertVersion(
                db, of: dataset, manifestJSON: manifestJSON, recordCount: recordCount, message: message, digests: digests, by: actor)
            try await Self.removeDraft(db, of: dataset)
            return version
        }
    }

    public func discard(_ dataset: Dataset, by actor: AuditActor) async throws -> Bool {
        try await database.write { db in
            guard try await Self.draft(db, of: dataset) != nil else { return false }
            try await Self.removeDraft(db, of: dataset)
            try await db.recordAudit(
                actor, "dataset.draft.discard", targetType: "dataset", target: dataset.name.value, namespaceID: dataset.namespaceID)
            return true
        }
    }

    /// Deletes the draft, its records and its blob references, inside the caller's transaction.
    static func removeDraft(_ db: any SQLDatabase, of dataset: Dataset) async throws {
        let datasetID = dataset.id.uuidString
        try await db.delete(from: "dataset_draft_records").where("dataset_id", .equal, datasetID).run()
        try await db.delete(from: "blob_references").where("owner_type", .equal, "dataset_draft").where("owner_id", .equal, datasetID).run()
        try await db.delete(from: "dataset_drafts").where("dataset_id", .equal, datasetID).run()
    }

    private static func insertRows(
        _ db: any SQLDatabase, _ records: [DraftRecordInput], datasetID: String, from position: Int64, origin: String
    ) async throws {
        var position = position
        for start in stride(from: 0, to: records.count, by: 200) {
            var insert = db.insert(into: "dataset_draft_records").columns("dataset_id", "record_id", "position", "origin", "edited", "record")
            for record in records[start..<min(start + 200, records.count)] {
                insert = insert.values(
                    SQLBind(datasetID), SQLBind(record.id), SQLBind(position), SQLBind(origin), SQLBind(Int64(0)), SQLBind(record.json))
                position += 1
            }
            try await insert.run()
        }
    }
}

struct DraftRow: Codable {
    var datasetId: String
    var baseVersion: Int64?
    var baseRecords: Int64
    var schema: String
    var revision: Int64
    var nextPosition: Int64
    var createdAt: Double
    var createdBy: String
    var updatedAt: Double
}

struct DraftCounts: Codable {
    var total: Int64
    var added: Int64
    var changed: Int64
    var kept: Int64
}
