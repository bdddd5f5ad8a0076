import Foundation
import SQLKit

/// Which blobs are in use, and by whom: a namespace that uploaded a blob, a dataset version that refers to it.
///
/// Garbage collection asks it whether a blob may go; the upload check asks it whether a namespace already
/// holds a blob (so a client re-pushing unchanged data sends nothing, and no tenant learns what another stored).
public protocol BlobReferenceRepository: Sendable {
    /// Records that `namespaceID` holds the blob (it uploaded the bytes, proving it has them).
    func recordUpload(_ digest: String, namespaceID: UUID) async throws
    /// The digests among `digests` that the namespace holds.
    func held(_ digests: [String], namespaceID: UUID) async throws -> Set<String>
    /// Whether a live version, a draft, a tracking artifact or a job's code refers to the blob, or a namespace uploaded it after `uploadCutoff` (a push in flight).
    func isReferenced(_ digest: String, uploadsAfter uploadCutoff: Date) async throws -> Bool
    /// Forgets every reference to blobs that were deleted.
    func forget(_ digests: [String]) async throws
    /// Whether a live version of a public dataset of the namespace refers to the blob (so any signed-in user may read it).
    func isPublic(_ digest: String, namespaceID: UUID) async throws -> Bool
}

/// Blob references in the SQL database.
public struct SQLBlobReferenceRepository: BlobReferenceRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func recordUpload(_ digest: String, namespaceID: UUID) async throws {
        let now = Date().timeIntervalSince1970
        try await database.write { db in
            let existing = try await db.select().column("digest").from("blob_references")
                .where("owner_type", .equal, "namespace").where("owner_id", .equal, namespaceID.uuidString).where("digest", .equal, digest)
                .first()
            if existing == nil {
                try await db.insert(into: "blob_references").columns("owner_type", "owner_id", "digest", "created_at")
                    .values(SQLBind("namespace"), SQLBind(namespaceID.uuidString), SQLBind(digest), SQLBind(now)).run()
            } else {
                try await db.update("blob_references").set("created_at", to: now)
                    .where("owner_type", .equal, "namespace").where("owner_id", .equal, namespaceID.uuidString)
                    .where("digest", .equal, digest).run()
            }
        }
    }

    public func held(_ digests: [String], namespaceID: UUID) async throws -> Set<String> {
        var found: Set<String> = []
        for start in stride(from: 0, to: digests.count, by: 500) {
            let batch = Array(digests[start..<min(start + 500, digests.count)])
            let rows = try await database.read { db in
                try await db.raw(
                    """
                    SELECT r.digest FROM blob_references r WHERE r.digest IN \(SQLBind.group(batch)) AND (
                        (r.owner_type = 'namespace' AND r.owner_id = \(bind: namespaceID.uuidString))
                        OR (r.owner_type = 'dataset_version' AND r.owner_id IN (
                            SELECT v.id FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id
                            WHERE d.namespace_id = \(bind: namespaceID.uuidString) AND v.state <> 'deleted')))
                    """
                ).all(decodingColumn: "digest", as: String.self)
            }
            found.formUnion(rows)
        }
        return found
    }

    public func isReferenced(_ digest: String, uploadsAfter uploadCutoff: Date) async throws -> Bool {
        try await database.read { db in
            try await db.raw(
                """
                SELECT 1 AS live FROM blob_references r WHERE r.digest = \(bind: digest) AND (
                    (r.owner_type = 'namespace' AND r.created_at > \(bind: uploadCutoff.timeIntervalSince1970))
                    OR r.owner_type = 'dataset_draft'
                    OR r.owner_type = 'artifact'
                    OR r.owner_type = 'job_code'
                    OR (r.owner_type = 'dataset_version' AND EXISTS (
                        SELECT 1 FROM dataset_versions v WHERE v.id = r.owner_id AND v.state <> 'deleted')))
                LIMIT 1
                """
            ).first() != nil
        }
    }

    public func isPublic(_ digest: String, namespaceID: UUID) async throws -> Bool {
        try await database.read { db in
            try await db.raw(
                """
                SELECT 1 AS shared FROM blob_references r
                JOIN dataset_versions v ON v.id = r.owner_id JOIN datasets d ON d.id = v.dataset_id
                WHERE r.owner_type = 'dataset_version' AND r.digest = \(bind: digest) AND d.namespace_id = \(bind: namespaceID.uuidString)
                AND d.visibility = 'public' AND v.state <> 'deleted'
                LIMIT 1
                """
            ).first() != nil
        }
    }

    public func forget(_ digests: [String]) async throws {
        for start in stride(from: 0, to: digests.count, by: 500) {
            let batch = Array(digests[start..<min(start + 500, digests.count)])
            try await database.write { db in
                try await db.delete(from: "blob_references").where("digest", .in, batch).run()
            }
        }
    }
}
