import Foundation
import SQLKit
import SlipwayDomain

/// A version together with its manifest (JSON text, decoded by the Data layer).
public struct StoredVersion: Sendable {
    public var version: DatasetVersion
    public var manifestJSON: String
}

/// Stores datasets and their versions, and the blobs each version references.
public protocol DatasetRepository: Sendable {
    /// Creates a dataset. - Throws: `already_exists` when the project has one of that name.
    func create(
        in project: Project, name: ResourceName, description: String, taskType: TaskType, visibility: Visibility, by actor: AuditActor
    ) async throws -> Dataset
    /// The dataset of that name in the project.
    func dataset(named name: String, in project: Project) async throws -> Dataset?
    /// The project's datasets, by name; its `private` ones only when `includingPrivate`.
    func list(in project: Project, includingPrivate: Bool) async throws -> [Dataset]
    /// Datasets the user may read, by name, matching `text` (in the name or description) when given: public ones,
    /// `namespace` ones of namespaces they belong to, and `private` ones of projects they are members of or of
    /// namespaces they maintain or own; every one when `seesEverything` (administrators). `onlyIn` narrows the
    /// search to one namespace.
    func search(_ text: String?, visibleTo userID: UUID, seesEverything: Bool, onlyIn namespaceID: UUID?) async throws -> [DatasetListing]
    /// Changes the description and/or the visibility. - Returns: the dataset as it is now.
    func update(_ dataset: Dataset, description: String?, visibility: Visibility?, by actor: AuditActor) async throws -> Dataset
    /// Commits a new version numbered one past the newest, referencing `digests` (shards and files) so they outlive garbage collection.
    func addVersion(
        to dataset: Dataset, manifestJSON: String, recordCount: Int, message: String, digests: Set<String>, by actor: AuditActor
    ) async throws -> DatasetVersion
    /// The dataset's versions, newest first.
    func versions(of dataset: Dataset) async throws -> [DatasetVersion]
    /// One version and its manifest.
    func version(_ number: Int, of dataset: Dataset) async throws -> StoredVersion?
    /// Moves a version forward in its life (committed → deprecated → archived → deleted).
    /// - Throws: `invalid_transition` when the move goes backwards or leaves a deleted version.
    func setState(_ state: VersionState, of number: Int, in dataset: Dataset, by actor: AuditActor) async throws -> DatasetVersion
    /// Deletes the dataset and all its versions; their blobs are released to garbage collection.
    func delete(_ dataset: Dataset, by actor: AuditActor) async throws
}

/// Datasets in the SQL database.
public struct SQLDatasetRepository: DatasetRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(
        in project: Project, name: ResourceName, description: String, taskType: TaskType, visibility: Visibility, by actor: AuditActor
    ) async throws -> Dataset {
        let dataset = Dataset(
            id: UUID(), namespaceID: project.namespaceID, projectID: project.id, name: name, description: description,
            taskType: taskType, visibility: visibility, createdAt: Date(), latestVersion: nil)
        do {
            try await database.write { db in
                let clash = try await db.select().column("id").from("datasets")
                    .where("project_id", .equal, project.id.uuidString).where("name", .equal, name.value).first()
                if clash != nil { throw StoreError.alreadyExists("dataset", name.value) }
                try await db.insert(into: "datasets")
                    .columns("id", "namespace_id", "project_id", "name", "description", "task_type", "visibility", "created_at")
                    .values(
                        SQLBind(dataset.id.uuidString), SQLBind(project.namespaceID.uuidString), SQLBind(project.id.uuidString),
                        SQLBind(name.value), SQLBind(description), SQLBind(taskType.rawValue), SQLBind(visibility.rawValue),
                        SQLBind(dataset.createdAt.timeIntervalSince1970)
                    ).run()
                try await db.recordAudit(
                    actor, "dataset.create", targetType: "dataset", target: "\(project.name)/\(name)", namespaceID: project.namespaceID,
                    details: ["task_type": taskType.rawValue, "visibility": visibility.rawValue])
            }
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("dataset", name.value)
        }
        return dataset
    }

    public func dataset(named name: String, in project: Project) async throws -> Dataset? {
        guard ResourceName.problem(with: name) == nil else { return nil }
        return try await database.read { db in
            try await Self.select(db).where(SQLColumn("project_id", table: "d"), .equal, SQLBind(project.id.uuidString)).where(
                SQLColumn("name", table: "d"), .equal, SQLBind(name)
            )
            .first(decoding: DatasetRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.dataset()
    }

    public func list(in project: Project, includingPrivate: Bool) async throws -> [Dataset] {
        try await database.read { db in
            var query = Self.select(db).where(SQLColumn("project_id", table: "d"), .equal, SQLBind(project.id.uuidString))
            if !includingPrivate {
                query = query.where(SQLColumn("visibility", table: "d"), .notEqual, SQLBind(Visibility.private.rawValue))
            }
            return try await query.orderBy(SQLColumn("name", table: "d"))
                .all(decoding: DatasetRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { try $0.dataset() }
    }

    public func update(_ dataset: Dataset, description: String?, visibility: Visibility?, by actor: AuditActor) async throws -> Dataset {
        var updated = dataset
        var details: [String: String] = [:]
        if let description {
            updated.description = description
            details["description"] = description
        }
        if let visibility {
            updated.visibility = visibility
            details["visibility"] = visibility.rawValue
            details["previous_visibility"] = dataset.visibility.rawValue
        }
        guard !details.isEmpty else { return dataset }
        let (changes, result) = (details, updated)
        try await database.write { db in
            try await db.update("datasets").set("description", to: result.description).set("visibility", to: result.visibility.rawValue)
                .where("id", .equal, dataset.id.uuidString).run()
            try await db.recordAudit(
                actor, "dataset.update", targetType: "dataset", target: dataset.name.value, namespaceID: dataset.namespaceID, details: changes)
        }
        return result
    }

    public func search(_ text: String?, visibleTo userID: UUID, seesEverything: Bool, onlyIn namespaceID: UUID?) async throws -> [DatasetListing] {
        try await database.read { db in
            var query = Self.select(db)
                .column(SQLAlias(SQLColumn("name", table: "n"), as: SQLIdentifier("namespace_name")))
                .column(SQLAlias(SQLColumn("name", table: "p"), as: SQLIdentifier("project_name")))
                .join(
                    SQLAlias(SQLIdentifier("namespaces"), as: SQLIdentifier("n")), on: SQLColumn("namespace_id", table: "d"), .equal,
                    SQLColumn("id", table: "n")
                )
                .join(
                    SQLAlias(SQLIdentifier("projects"), as: SQLIdentifier("p")), on: SQLColumn("project_id", table: "d"), .equal,
                    SQLColumn("id", table: "p"))
            if let namespaceID { query = query.where(SQLColumn("namespace_id", table: "d"), .equal, SQLBind(namespaceID.uuidString)) }
            if !seesEverything {
                let user = userID.uuidString
                query = query.where(
                    SQLQueryString(
                        """
                        (d.visibility = 'public'
                        OR (d.visibility = 'namespace' AND d.namespace_id IN (SELECT namespace_id FROM memberships WHERE user_id = \(bind: user)))
                        OR (d.visibility = 'private' AND (
                            d.namespace_id IN (SELECT namespace_id FROM memberships WHERE user_id = \(bind: user) AND role IN ('maintainer', 'owner'))
                            OR (d.project_id IN (SELECT project_id FROM project_members WHERE user_id = \(bind: user))
                                AND d.namespace_id IN (SELECT namespace_id FROM memberships WHERE user_id = \(bind: user))))))
                        """))
            }
            if let text, !text.isEmpty {
                let pattern = "%" + text.lowercased().replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
                query = query.where { group in
                    group.where(SQLFunction("LOWER", args: SQLColumn("name", table: "d")), .like, SQLBind(pattern))
                        .orWhere(SQLFunction("LOWER", args: SQLColumn("description", table: "d")), .like, SQLBind(pattern))
                }
            }
            return try await query.orderBy(SQLColumn("name", table: "d")).orderBy(SQLColumn("name", table: "n")).limit(500).all()
                .map { row in
                    DatasetListing(
                        namespace: try row.decode(column: "namespace_name", as: String.self),
                        project: try row.decode(column: "project_name", as: String.self),
                        dataset: try row.decode(model: DatasetRow.self, keyDecodingStrategy: .convertFromSnakeCase).dataset())
                }
        }
    }

    public func addVersion(
        to dataset: Dataset, manifestJSON: String, recordCount: Int, message: String, digests: Set<String>, by actor: AuditActor
    ) async throws -> DatasetVersion {
        try await database.write { db in
            try await Self.insertVersion(
                db, of: dataset, manifestJSON: manifestJSON, recordCount: recordCount, message: message, digests: digests, by: actor)
        }
    }

    /// Inserts the next numbered version with its blob references, inside the caller's transaction.
    static func insertVersion(
        _ db: any SQLDatabase, of dataset: Dataset, manifestJSON: String, recordCount: Int, message: String, digests: Set<String>,
        by actor: AuditActor
    ) async throws -> DatasetVersion {
        let now = Date()
        let newest =
            try await db.raw("SELECT MAX(number) AS n FROM dataset_versions WHERE dataset_id = \(bind: dataset.id.uuidString)")
            .first(decodingColumn: "n", as: Int?.self) ?? nil
        let number = (newest ?? 0) + 1
        let versionID = UUID().uuidString
        try await db.insert(into: "dataset_versions")
            .columns("id", "dataset_id", "number", "state", "message", "record_count", "manifest", "created_at", "created_by")
            .values(
                SQLBind(versionID), SQLBind(dataset.id.uuidString), SQLBind(Int64(number)), SQLBind(VersionState.committed.rawValue),
                SQLBind(message), SQLBind(Int64(recordCount)), SQLBind(manifestJSON), SQLBind(now.timeIntervalSince1970),
                SQLBind(actor.name)
            ).run()
        try await insertReferences(db, ownerType: "dataset_version", ownerID: versionID, digests: digests, at: now)
        try await db.recordAudit(
            actor, "dataset.version.create", targetType: "dataset_version", target: "\(dataset.name)@\(number)",
            namespaceID: dataset.namespaceID, details: ["records": String(recordCount)])
        return DatasetVersion(
            datasetID: dataset.id, number: number, state: .committed, message: message, recordCount: recordCount, createdAt: now,
            createdBy: actor.name)
    }

    /// Records that `ownerID` refers to each of `digests`, in batches.
    static func insertReferences(_ db: any SQLDatabase, ownerType: String, ownerID: String, digests: Set<String>, at time: Date) async throws {
        let sorted = digests.sorted()
        for start in stride(from: 0, to: sorted.count, by: 400) {
            var insert = db.insert(into: "blob_references").columns("owner_type", "owner_id", "digest", "created_at")
            for digest in sorted[start..<min(start + 400, sorted.count)] {
                insert = insert.values(SQLBind(ownerType), SQLBind(ownerID), SQLBind(digest), SQLBind(time.timeIntervalSince1970))
            }
            try await insert.run()
        }
    }

    public func versions(of dataset: Dataset) async throws -> [DatasetVersion] {
        try await database.read { db in
            try await db.select().columns("dataset_id", "number", "state", "message", "record_count", "created_at", "created_by")
                .from("dataset_versions").where("dataset_id", .equal, dataset.id.uuidString).orderBy("number", .descending)
                .all(decoding: VersionRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { $0.version() }
    }

    public func version(_ number: Int, of dataset: Dataset) async throws -> StoredVersion? {
        try await database.read { db -> StoredVersion? in
            guard
                let row = try await db.select().column("*").from("dataset_versions")
                    .where("dataset_id", .equal, dataset.id.uuidString).where("number", .equal, Int64(number))
                    .first()
            else { return nil }
            let version = try row.decode(model: VersionRow.self, keyDecodingStrategy: .convertFromSnakeCase).version()
            return StoredVersion(version: version, manifestJSON: try row.decode(column: "manifest", as: String.self))
        }
    }

    public func setState(_ state: VersionState, of number: Int, in dataset: Dataset, by actor: AuditActor) async throws -> DatasetVersion {
        try await database.write { db in
            guard
                let row = try await db.select().columns("dataset_id", "number", "state", "message", "record_count", "created_at", "created_by")
                    .from("dataset_versions").where("dataset_id", .equal, dataset.id.uuidString).where("number", .equal, Int64(number))
                    .first(decoding: VersionRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError.notFound("version", "\(dataset.name)@\(number)") }
            var version = row.version()
            let order: [VersionState] = [.committed, .deprecated, .archived, .deleted]
            guard version.state != .deleted, order.firstIndex(of: state)! >= order.firstIndex(of: version.state)! else {
                throw StoreError.conflict(
                    code: "invalid_transition",
                    "version \(number) is \(version.state.rawValue); a version only moves forward (committed → deprecated → archived → deleted)")
            }
            guard state != version.state else { return version }
            try await db.update("dataset_versions").set("state", to: state.rawValue)
                .where("dataset_id", .equal, dataset.id.uuidString).where("number", .equal, Int64(number)).run()
            try await db.recordAudit(
                actor, "dataset.version.\(state.rawValue)", targetType: "dataset_version", target: "\(dataset.name)@\(number)",
                namespaceID: dataset.namespaceID, details: ["previous_state": version.state.rawValue])
            version.state = state
            return version
        }
    }

    public func delete(_ dataset: Dataset, by actor: AuditActor) async throws {
        try await database.write { db in
            try await db.raw(
                """
                DELETE FROM blob_references WHERE owner_type = 'dataset_version'
                AND owner_id IN (SELECT id FROM dataset_versions WHERE dataset_id = \(bind: dataset.id.uuidString))
                """
            ).run()
            try await db.delete(from: "dataset_versions").where("dataset_id", .equal, dataset.id.uuidString).run()
            try await SQLDraftRepository.removeDraft(db, of: dataset)
            try await db.delete(from: "datasets").where("id", .equal, dataset.id.uuidString).run()
            try await db.recordAudit(
                actor, "dataset.delete", targetType: "dataset", target: dataset.name.value, namespaceID: dataset.namespaceID)
        }
    }

    private static func select(_ db: any SQLDatabase) -> SQLSelectBuilder {
        db.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("d")))
            .column(
                SQLAlias(
                    SQLRaw("(SELECT MAX(number) FROM dataset_versions v WHERE v.dataset_id = d.id AND v.state <> 'deleted')"),
                    as: SQLIdentifier("latest_version"))
            )
            .from(SQLAlias(SQLIdentifier("datasets"), as: SQLIdentifier("d")))
    }
}

struct DatasetRow: Codable {
    var id: String
    var namespaceId: String
    var projectId: String
    var name: String
    var description: String
    var taskType: String
    var visibility: String
    var createdAt: Double
    var latestVersion: Int64?

    func dataset() throws -> Dataset {
        Dataset(
            id: UUID(uuidString: id)!, namespaceID: UUID(uuidString: namespaceId)!, projectID: UUID(uuidString: projectId)!,
            name: try ResourceName(validating: name), description: description, taskType: TaskType(rawValue: taskType) ?? .unlabeled,
            visibility: Visibility(rawValue: visibility) ?? .private, createdAt: Date(timeIntervalSince1970: createdAt),
            latestVersion: latestVersion.map(Int.init))
    }
}

struct VersionRow: Codable {
    var datasetId: String
    var number: Int64
    var state: String
    var message: String
    var recordCount: Int64
    var createdAt: Double
    var createdBy: String

    func version() -> DatasetVersion {
        DatasetVersion(
            datasetID: UUID(uuidString: datasetId)!, number: Int(number), state: VersionState(rawValue: state) ?? .committed,
            message: message, recordCount: Int(recordCount), createdAt: Date(timeIntervalSince1970: createdAt), createdBy: createdBy)
    }
}
