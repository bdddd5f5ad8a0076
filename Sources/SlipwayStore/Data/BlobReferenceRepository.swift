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
    /// Whether a live version, a draft, a tracking artifact or a job's code refers to the blob, a namespace uploaded it
    /// after `uploadCutoff` (a push in flight), or an import still running began no later than `storedAt`, the blob's
    /// last store time (it may be one of that import's shards or files).
    func isReferenced(_ digest: String, uploadsAfter uploadCutoff: Date, storedAt: Date, at now: Date) async throws -> Bool
    /// Records `digests` as held by the namespace as of now, as an upload would: the client was just told it need
    /// not send them, so they get an upload's grace period.
    func refreshUploads(_ digests: [String], namespaceID: UUID) async throws
    /// Notes an import beginning, for garbage collection to respect until it ends or `expiresAt` passes (a server that
    /// died mid-import). - Returns: its id, for ``endImport(_:)``.
    func beginImport(namespaceID: UUID, at now: Date, expiresAt: Date) async throws -> UUID
    /// Notes that an import ended (committed or failed).
    func endImport(_ id: UUID) async throws
    /// Forgets the references to blobs that were deleted, made before `cutoff` (the collection's start): one made
    /// since belongs to content stored again after the deletion, by an upload or a version that still needs it.
    func forget(_ digests: [String], createdBefore cutoff: Date) async throws
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

    public func isReferenced(_ digest: String, uploadsAfter uploadCutoff: Date, storedAt: Date, at now: Date) async throws -> Bool {
        try await database.read { db in
            if try await db.raw(
                """
                SELECT 1 AS live FROM imports_in_flight
                WHERE started_at <= \(bind: storedAt.timeIntervalSince1970) AND expires_at > \(bind: now.timeIntervalSince1970)
                LIMIT 1
                """
            ).first() != nil {
                return true
            }
            return try await db.raw(
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

    public func refreshUploads(_ digests: [String], namespaceID: UUID) async throws {
        guard !digests.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        for start in stride(from: 0, to: digests.count, by: 500) {
            let batch = Array(Set(digests[start..<min(start + 500, digests.count)])).sorted()
            try await database.write { db in
                let existing = Set(
                    try await db.select().column("digest").from("blob_references").where("owner_type", .equal, "namespace")
                        .where("owner_id", .equal, namespaceID.uuidString).where("digest", .in, batch)
                        .all(decodingColumn: "digest", as: String.self))
                if !existing.isEmpty {
                    try await db.update("blob_references").set("created_at", to: now).where("owner_type", .equal, "namespace")
                        .where("owner_id", .equal, namespaceID.uuidString).where("digest", .in, Array(existing)).run()
                }
                for digest in batch where !existing.contains(digest) {
                    try await db.insert(into: "blob_references").columns("owner_type", "owner_id", "digest", "created_at")
                        .values(SQLBind("namespace"), SQLBind(namespaceID.uuidString), SQLBind(digest), SQLBind(now)).run()
                }
            }
        }
    }

    public func beginImport(namespaceID: UUID, at now: Date, expiresAt: Date) async throws -> UUID {
        let id = UUID()
        try await database.write { db in
            try await db.insert(into: "imports_in_flight").columns("id", "namespace_id", "started_at", "expires_at")
                .values(
                    SQLBind(id.uuidString), SQLBind(namespaceID.uuidString), SQLBind(now.timeIntervalSince1970),
                    SQLBind(expiresAt.timeIntervalSince1970)
                ).run()
        }
        return id
    }

    public func endImport(_ id: UUID) async throws {
        try await database.write { db in
            try await db.delete(from: "imports_in_flight").where("id", .equal, id.uuidString).run()
            // Rows of servers that died mid-import are dropped once they expired.
            try await db.delete(from: "imports_in_flight").where("expires_at", .lessThan, Date().timeIntervalSince1970).run()
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

    public func forget(_ digests: [String], createdBefore cutoff: Date) async throws {
        for start in stride(from: 0, to: digests.count, by: 500) {
            let batch = Array(digests[start..<min(start + 500, digests.count)])
            try await database.write { db in
                try await db.delete(from: "blob_references").where("digest", .in, batch)
                    .where("created_at", .lessThan, cutoff.timeIntervalSince1970).run()
            }
        }
    }
}
