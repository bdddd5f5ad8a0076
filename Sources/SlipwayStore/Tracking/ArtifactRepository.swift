import Foundation
import SQLKit

/// One stored artifact file: where it is under the artifact root, and the blob holding its bytes.
public struct ArtifactFile: Sendable, Hashable {
    public var path: String
    public var digest: String
    public var size: Int64

    /// The longest path stored, in UTF-8 bytes. A path is a key of two indexes (`artifacts` and, as the owner,
    /// `blob_references`); PostgreSQL's B-tree entries hold at most about 2,700 bytes, so longer paths could
    /// not be indexed. Callers refuse longer paths with a clear error before anything is written.
    public static let maximumPathBytes = 2048
}

/// Artifacts of runs and logged models, addressed by path under the artifact root
/// (`<experiment id>/<run id>/artifacts/model/MLmodel`). The bytes live in the blob store; each file is an
/// `artifact` blob reference, so garbage collection keeps it until the artifact is deleted.
public protocol ArtifactRepository: Sendable {
    /// Stores (or replaces) the file at `path`.
    func put(path: String, experimentID: String, digest: String, size: Int64) async throws
    func file(at path: String) async throws -> ArtifactFile?
    /// Every file under the folder `prefix` (with its trailing slash), at any depth, by path.
    func files(under prefix: String) async throws -> [ArtifactFile]
    /// Deletes the file at `path` or everything under the folder `path/`. - Returns: how many files.
    func delete(_ path: String) async throws -> Int
}

/// Artifacts in the SQL database.
public struct SQLArtifactRepository: ArtifactRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func put(path: String, experimentID: String, digest: String, size: Int64) async throws {
        guard let experiment = Int64(experimentID) else { throw StoreError.notFound("experiment", experimentID) }
        guard path.utf8.count <= ArtifactFile.maximumPathBytes else {
            throw StoreError.conflict(code: "path_too_long", "an artifact path is at most \(ArtifactFile.maximumPathBytes) bytes")
        }
        let now = Date()
        try await database.write { db in
            // The upsert comes first: on PostgreSQL it holds the path's row, so concurrent uploads to one path take
            // turns and the blob reference left is the one of the file that stays.
            try await db.insert(into: "artifacts").columns("path", "experiment_id", "digest", "size", "updated_at")
                .values(SQLBind(path), SQLBind(experiment), SQLBind(digest), SQLBind(size), SQLBind(Int64(now.timeIntervalSince1970 * 1000)))
                .onConflict(with: ["path"]) { update in
                    update.set(excludedValueOf: "experiment_id").set(excludedValueOf: "digest").set(excludedValueOf: "size")
                        .set(excludedValueOf: "updated_at")
                }.run()
            try await db.delete(from: "blob_references").where("owner_type", .equal, "artifact").where("owner_id", .equal, path).run()
            try await SQLDatasetRepository.insertReferences(db, ownerType: "artifact", ownerID: path, digests: [digest], at: now)
        }
    }

    public func file(at path: String) async throws -> ArtifactFile? {
        try await database.read { db in
            try await db.select().columns("path", "digest", "size").from("artifacts").where("path", .equal, path)
                .first(decoding: ArtifactRow.self)?.file
        }
    }

    public func files(under prefix: String) async throws -> [ArtifactFile] {
        try await database.read { db in
            try await db.select().columns("path", "digest", "size").from("artifacts")
                .where(Self.startsWith(prefix))
                .orderBy("path").all(decoding: ArtifactRow.self).map(\.file)
        }
    }

    public func delete(_ path: String) async throws -> Int {
        let folder = path + "/"
        return try await database.write { db in
            let paths = try await db.select().column("path").from("artifacts")
                .where { group in
                    group.where("path", .equal, path)
                        .orWhere(Self.startsWith(folder))
                }
                .all(decodingColumn: "path", as: String.self)
            for start in stride(from: 0, to: paths.count, by: 500) {
                let batch = Array(paths[start..<min(start + 500, paths.count)])
                try await db.delete(from: "artifacts").where("path", .in, batch).run()
                try await db.delete(from: "blob_references").where("owner_type", .equal, "artifact").where("owner_id", .in, batch).run()
            }
            return paths.count
        }
    }
}

extension SQLArtifactRepository {
    /// `path` begins with `prefix`, compared exactly (no LIKE wildcards, no collation), on both backends.
    static func startsWith(_ prefix: String) -> SQLQueryString {
        SQLQueryString("SUBSTR(path, 1, CAST(\(bind: prefix.unicodeScalars.count) AS INTEGER)) = \(bind: prefix)")
    }
}

struct ArtifactRow: Codable {
    var path: String
    var digest: String
    var size: Int64
    var file: ArtifactFile { ArtifactFile(path: path, digest: digest, size: size) }
}
