import Foundation
import SQLKit
import SlipwayDomain

/// The model registry: registered models, their numbered versions, tags, aliases and stages.
public protocol RegistryRepository: Sendable {
    /// - Throws: ``StoreError`` already_exists when the name is taken.
    func createModel(name: String, in project: Project, description: String, tags: [KeyValue], by actor: AuditActor) async throws
    func model(named name: String) async throws -> RegisteredModel?
    /// Every registered model, optionally only those of some namespaces (`nil`: all).
    func models(inNamespaces namespaceIDs: [UUID]?) async throws -> [RegisteredModel]
    func renameModel(_ name: String, to newName: String, by actor: AuditActor) async throws
    func updateModel(_ name: String, description: String) async throws
    func deleteModel(_ name: String, by actor: AuditActor) async throws
    func setModelTag(_ name: String, _ tag: KeyValue) async throws
    func deleteModelTag(_ name: String, key: String) async throws -> Bool
    func setAlias(_ name: String, alias: String, version: Int) async throws
    func deleteAlias(_ name: String, alias: String) async throws -> Bool

    /// Adds the next version of the model. - Returns: it.
    func createVersion(_ version: ModelVersion, by actor: AuditActor) async throws -> ModelVersion
    func version(_ name: String, _ number: Int) async throws -> ModelVersion?
    func versions(of name: String) async throws -> [ModelVersion]
    /// Versions of every model, optionally only those of some namespaces.
    func allVersions(inNamespaces namespaceIDs: [UUID]?) async throws -> [ModelVersion]
    func updateVersion(_ name: String, _ number: Int, description: String) async throws
    /// Versions registered from any of the runs.
    func versions(fromRuns runIDs: [String]) async throws -> [ModelVersion]
    /// Moves a version to `stage`; with `archiveOthers`, the versions in that stage move to Archived.
    func transition(_ name: String, _ number: Int, to stage: ModelStage, archiveOthers: Bool, by actor: AuditActor) async throws
    func deleteVersion(_ name: String, _ number: Int, by actor: AuditActor) async throws
    func setVersionTag(_ name: String, _ number: Int, _ tag: KeyValue) async throws
    func deleteVersionTag(_ name: String, _ number: Int, key: String) async throws -> Bool
}

/// The registry in the SQL database.
public struct SQLRegistryRepository: RegistryRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static func now() -> Int64 { SQLTrackingRepository.millis() }

    public func createModel(name: String, in project: Project, description: String, tags: [KeyValue], by actor: AuditActor) async throws {
        let now = Self.now()
        do {
            try await database.write { db in
                if try await db.select().column("name").from("registered_models").where("name", .equal, name).first() != nil {
                    throw StoreError.alreadyExists("registered model", name)
                }
                try await db.insert(into: "registered_models")
                    .columns("name", "namespace_id", "project_id", "description", "creation_time", "last_updated_time")
                    .values(
                        SQLBind(name), SQLBind(project.namespaceID.uuidString), SQLBind(project.id.uuidString), SQLBind(description),
                        SQLBind(now), SQLBind(now)
                    ).run()
                for tag in tags {
                    try await Self.replace(db, table: "registered_model_tags", keys: ["name": name], tag)
                }
                try await db.recordAudit(actor, "model.create", targetType: "registered_model", target: name, namespaceID: project.namespaceID)
            }
        } catch  where isUniqueViolation(error) {
            // A concurrent create of the same name won; on PostgreSQL the violation aborted this transaction.
            throw StoreError.alreadyExists("registered model", name)
        }
    }

    public func model(named name: String) async throws -> RegisteredModel? {
        try await database.read { db in try await Self.models(db, SQLQueryString("name = \(bind: name)")).first }
    }

    public func models(inNamespaces namespaceIDs: [UUID]?) async throws -> [RegisteredModel] {
        try await database.read { db in
            guard let namespaceIDs else { return try await Self.models(db, nil) }
            if namespaceIDs.isEmpty { return [] }
            return try await Self.models(db, SQLQueryString("namespace_id IN \(SQLBind.group(namespaceIDs.map(\.uuidString)))"))
        }
    }

    static func models(_ db: any SQLDatabase, _ condition: (any SQLExpression)?) async throws -> [RegisteredModel] {
        var query = db.select().column("*").from("registered_models")
        if let condition { query = query.where(condition) }
        let rows = try await query.orderBy("name").all(decoding: RegisteredModelRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        guard !rows.isEmpty else { return [] }
        var tags: [String: [KeyValue]] = [:]
        var aliases: [String: [String: Int]] = [:]
        for start in stride(from: 0, to: rows.count, by: 500) {
            let names = rows[start..<min(start + 500, rows.count)].map(\.name)
            for row in try await db.select().columns("name", "key", "value").from("registered_model_tags").where("name", .in, names)
                .orderBy("key").all()
            {
                tags[try row.decode(column: "name", as: String.self), default: []].append(
                    KeyValue(key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "value", as: String.self)))
            }
            for row in try await db.select().columns("name", "alias", "version").from("registered_model_aliases").where("name", .in, names)
                .all()
            {
                aliases[try row.decode(column: "name", as: String.self), default: [:]][try row.decode(column: "alias", as: String.self)] = Int(
                    try row.decode(column: "version", as: Int64.self))
            }
        }
        return rows.map {
            RegisteredModel(
                name: $0.name, namespaceID: UUID(uuidString: $0.namespaceId)!, projectID: UUID(uuidString: $0.projectId)!,
                description: $0.description, creationTime: $0.creationTime, lastUpdatedTime: $0.lastUpdatedTime, tags: tags[$0.name] ?? [],
                aliases: aliases[$0.name] ?? [:])
        }
    }

    public func renameModel(_ name: String, to newName: String, by actor: AuditActor) async throws {
        do {
            try await rename(name, to: newName, by: actor)
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("registered model", newName)
        }
    }

    private func rename(_ name: String, to newName: String, by actor: AuditActor) async throws {
        try await database.write { db in
            guard let model = try await Self.models(db, SQLQueryString("name = \(bind: name)")).first else {
                throw StoreError.notFound("registered model", name)
            }
            if try await db.select().column("name").from("registered_models").where("name", .equal, newName).first() != nil {
                throw StoreError.alreadyExists("registered model", newName)
            }
            // A new parent row first, then the children, then the old parent: foreign keys hold throughout.
            try await db.insert(into: "registered_models")
                .columns("name", "namespace_id", "project_id", "description", "creation_time", "last_updated_time")
                .values(
                    SQLBind(newName), SQLBind(model.namespaceID.uuidString), SQLBind(model.projectID.uuidString), SQLBind(model.description),
                    SQLBind(model.creationTime), SQLBind(Self.now())
                ).run()
            for table in ["registered_model_tags", "model_versions", "model_version_tags", "registered_model_aliases"] {
                try await db.update(table).set("name", to: newName).where("name", .equal, name).run()
            }
            try await db.delete(from: "registered_models").where("name", .equal, name).run()
            try await db.recordAudit(
                actor, "model.rename", targetType: "registered_model", target: newName, namespaceID: model.namespaceID,
                details: ["previous_name": name])
        }
    }

    public func updateModel(_ name: String, description: String) async throws {
        try await database.write { db in
            try await Self.touchModel(db, name)
            try await db.update("registered_models").set("description", to: description).where("name", .equal, name).run()
        }
    }

    public func deleteModel(_ name: String, by actor: AuditActor) async throws {
        try await database.write { db in
            guard let model = try await Self.models(db, SQLQueryString("name = \(bind: name)")).first else {
                throw StoreError.notFound("registered model", name)
            }
            for table in ["model_version_tags", "registered_model_aliases", "model_versions", "registered_model_tags", "registered_models"] {
                try await db.delete(from: table).where("name", .equal, name).run()
            }
            try await db.recordAudit(actor, "model.delete", targetType: "registered_model", target: name, namespaceID: model.namespaceID)
        }
    }

    public func setModelTag(_ name: String, _ tag: KeyValue) async throws {
        try await database.write { db in
            try await Self.touchModel(db, name)
            try await Self.replace(db, table: "registered_model_tags", keys: ["name": name], tag)
        }
    }

    public func deleteModelTag(_ name: String, key: String) async throws -> Bool {
        try await database.write { db in
            try await Self.touchModel(db, name)
            guard
                try await db.select().column("key").from("registered_model_tags").where("name", .equal, name).where("key", .equal, key).first()
                    != nil
            else { return false }
            try await db.delete(from: "registered_model_tags").where("name", .equal, name).where("key", .equal, key).run()
            return true
        }
    }

    public func setAlias(_ name: String, alias: String, version: Int) async throws {
        try await database.write { db in
            try await Self.touchModel(db, name)
            guard try await Self.versionRow(db, name, version) != nil else { throw StoreError.notFound("model version", "\(name)/\(version)") }
            try await db.insert(into: "registered_model_aliases").columns("name", "alias", "version")
                .values(SQLBind(name), SQLBind(alias), SQLBind(Int64(version)))
                .onConflict(with: ["name", "alias"]) { $0.set(excludedValueOf: "version") }.run()
        }
    }

    public func deleteAlias(_ name: String, alias: String) async throws -> Bool {
        try await database.write { db in
            try await Self.touchModel(db, name)
            guard
                try await db.select().column("alias").from("registered_model_aliases").where("name", .equal, name).where("alias", .equal, alias)
                    .first() != nil
            else { return false }
            try await db.delete(from: "registered_model_aliases").where("name", .equal, name).where("alias", .equal, alias).run()
            return true
        }
    }

    public func createVersion(_ version: ModelVersion, by actor: AuditActor) async throws -> ModelVersion {
        try await database.write { db in
            // Touching the model first takes its row lock on PostgreSQL, so concurrent creates of a version of
            // the same model take turns and each sees the number the one before it used (SQLite has one writer).
            try await db.update("registered_models").set("last_updated_time", to: version.creationTime).where("name", .equal, version.name)
                .run()
            guard let model = try await Self.models(db, SQLQueryString("name = \(bind: version.name)")).first else {
                throw StoreError.notFound("registered model", version.name)
            }
            let newest =
                try await db.raw("SELECT MAX(version) AS n FROM model_versions WHERE name = \(bind: version.name)")
                .first(decodingColumn: "n", as: Int64?.self) ?? nil
            var created = version
            created.version = Int((newest ?? 0) + 1)
            try await db.insert(into: "model_versions")
                .columns(
                    "name", "version", "creation_time", "last_updated_time", "description", "user_id", "stage", "source", "run_id", "run_link",
                    "model_id", "storage_location", "approved"
                )
                .values(
                    SQLBind(created.name), SQLBind(Int64(created.version)), SQLBind(created.creationTime), SQLBind(created.lastUpdatedTime),
                    SQLBind(created.description), SQLBind(created.userID), SQLBind(created.stage.rawValue), SQLBind(created.source),
                    SQLBind(created.runID), SQLBind(created.runLink), SQLBind(created.modelID), SQLBind(created.storageLocation),
                    SQLBind(Int64(created.approved ? 1 : 0))
                ).run()
            for tag in created.tags {
                try await Self.replace(db, table: "model_version_tags", keys: ["name": created.name, "version": Int64(created.version)], tag)
            }
            try await db.update("registered_models").set("last_updated_time", to: created.creationTime).where("name", .equal, created.name).run()
            try await db.recordAudit(
                actor, "model.version.create", targetType: "model_version", target: "\(created.name)/\(created.version)",
                namespaceID: model.namespaceID, details: ["source": created.source])
            return created
        }
    }

    public func version(_ name: String, _ number: Int) async throws -> ModelVersion? {
        try await database.read { db in
            try await Self.versions(db, SQLQueryString("name = \(bind: name) AND version = \(bind: Int64(number))")).first
        }
    }

    public func versions(of name: String) async throws -> [ModelVersion] {
        try await database.read { db in try await Self.versions(db, SQLQueryString("name = \(bind: name)")) }
    }

    public func allVersions(inNamespaces namespaceIDs: [UUID]?) async throws -> [ModelVersion] {
        try await database.read { db in
            guard let namespaceIDs else { return try await Self.versions(db, nil) }
            if namespaceIDs.isEmpty { return [] }
            return try await Self.versions(
                db,
                SQLQueryString(
                    "name IN (SELECT name FROM registered_models WHERE namespace_id IN \(SQLBind.group(namespaceIDs.map(\.uuidString))))"))
        }
    }

    static func versions(_ db: any SQLDatabase, _ condition: (any SQLExpression)?) async throws -> [ModelVersion] {
        var query = db.select().column("*").from("model_versions")
        if let condition { query = query.where(condition) }
        let rows = try await query.orderBy("name").orderBy("version").all(decoding: VersionRowModel.self, keyDecodingStrategy: .convertFromSnakeCase)
        guard !rows.isEmpty else { return [] }
        var tags: [String: [KeyValue]] = [:]
        for name in Set(rows.map(\.name)) {
            for row in try await db.select().columns("version", "key", "value").from("model_version_tags").where("name", .equal, name)
                .orderBy("key").all()
            {
                tags["\(name)\u{0}\(try row.decode(column: "version", as: Int64.self))", default: []].append(
                    KeyValue(key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "value", as: String.self)))
            }
        }
        return rows.map { $0.version(tags: tags["\($0.name)\u{0}\($0.version)"] ?? []) }
    }

    public func versions(fromRuns runIDs: [String]) async throws -> [ModelVersion] {
        guard !runIDs.isEmpty else { return [] }
        var found: [ModelVersion] = []
        for start in stride(from: 0, to: runIDs.count, by: 500) {
            let batch = Array(runIDs[start..<min(start + 500, runIDs.count)])
            found += try await database.read { db in try await Self.versions(db, SQLQueryString("run_id IN \(SQLBind.group(batch))")) }
        }
        return found
    }

    public func updateVersion(_ name: String, _ number: Int, description: String) async throws {
        try await database.write { db in
            try await Self.touchVersion(db, name, number)
            try await db.update("model_versions").set("description", to: description).where("name", .equal, name)
                .where("version", .equal, Int64(number)).run()
        }
    }

    public func transition(_ name: String, _ number: Int, to stage: ModelStage, archiveOthers: Bool, by actor: AuditActor) async throws {
        try await database.write { db in
            try await Self.touchVersion(db, name, number)
            if archiveOthers, stage == .staging || stage == .production {
                try await db.update("model_versions").set("stage", to: ModelStage.archived.rawValue).set("last_updated_time", to: Self.now())
                    .where("name", .equal, name).where("stage", .equal, stage.rawValue).where("version", .notEqual, Int64(number)).run()
            }
            try await db.update("model_versions").set("stage", to: stage.rawValue).where("name", .equal, name)
                .where("version", .equal, Int64(number)).run()
            let namespace = try await db.select().column("namespace_id").from("registered_models").where("name", .equal, name)
                .first(decodingColumn: "namespace_id", as: String.self).flatMap(UUID.init(uuidString:))
            try await db.recordAudit(
                actor, "model.version.stage", targetType: "model_version", target: "\(name)/\(number)", namespaceID: namespace,
                details: ["stage": stage.rawValue, "archive_existing": String(archiveOthers)])
        }
    }

    public func deleteVersion(_ name: String, _ number: Int, by actor: AuditActor) async throws {
        try await database.write { db in
            try await Self.touchVersion(db, name, number)
            try await db.delete(from: "model_version_tags").where("name", .equal, name).where("version", .equal, Int64(number)).run()
            try await db.delete(from: "registered_model_aliases").where("name", .equal, name).where("version", .equal, Int64(number)).run()
            try await db.delete(from: "model_versions").where("name", .equal, name).where("version", .equal, Int64(number)).run()
            try await db.recordAudit(actor, "model.version.delete", targetType: "model_version", target: "\(name)/\(number)")
        }
    }

    public func setVersionTag(_ name: String, _ number: Int, _ tag: KeyValue) async throws {
        try await database.write { db in
            try await Self.touchVersion(db, name, number)
            try await Self.replace(db, table: "model_version_tags", keys: ["name": name, "version": Int64(number)], tag)
        }
    }

    public func deleteVersionTag(_ name: String, _ number: Int, key: String) async throws -> Bool {
        try await database.write { db in
            try await Self.touchVersion(db, name, number)
            guard
                try await db.select().column("key").from("model_version_tags").where("name", .equal, name)
                    .where("version", .equal, Int64(number)).where("key", .equal, key).first() != nil
            else { return false }
            try await db.delete(from: "model_version_tags").where("name", .equal, name).where("version", .equal, Int64(number))
                .where("key", .equal, key).run()
            return true
        }
    }

    // MARK: - Helpers

    static func touchModel(_ db: any SQLDatabase, _ name: String) async throws {
        guard try await db.select().column("name").from("registered_models").where("name", .equal, name).first() != nil else {
            throw StoreError.notFound("registered model", name)
        }
        try await db.update("registered_models").set("last_updated_time", to: now()).where("name", .equal, name).run()
    }

    static func touchVersion(_ db: any SQLDatabase, _ name: String, _ number: Int) async throws {
        guard try await versionRow(db, name, number) != nil else { throw StoreError.notFound("model version", "\(name)/\(number)") }
        try await db.update("model_versions").set("last_updated_time", to: now()).where("name", .equal, name)
            .where("version", .equal, Int64(number)).run()
    }

    static func versionRow(_ db: any SQLDatabase, _ name: String, _ number: Int) async throws -> (any SQLRow)? {
        try await db.select().column("version").from("model_versions").where("name", .equal, name).where("version", .equal, Int64(number))
            .first()
    }

    /// Sets a tag with one upsert on the table's key (`keys` and `key`): race-safe on both backends.
    static func replace(_ db: any SQLDatabase, table: String, keys: [String: any Encodable & Sendable], _ tag: KeyValue) async throws {
        let columns = keys.keys.sorted()
        try await db.insert(into: table).columns(columns + ["key", "value"])
            .values(columns.map { SQLBind(keys[$0]!) } + [SQLBind(tag.key), SQLBind(tag.value)])
            .onConflict(with: columns + ["key"]) { $0.set(excludedValueOf: "value") }.run()
    }
}

struct RegisteredModelRow: Codable {
    var name: String
    var namespaceId: String
    var projectId: String
    var description: String
    var creationTime: Int64
    var lastUpdatedTime: Int64
}

struct VersionRowModel: Codable {
    var name: String
    var version: Int64
    var creationTime: Int64
    var lastUpdatedTime: Int64
    var description: String
    var userId: String
    var stage: String
    var source: String
    var runId: String?
    var runLink: String?
    var modelId: String?
    var storageLocation: String
    var approved: Int64

    func version(tags: [KeyValue]) -> ModelVersion {
        ModelVersion(
            name: name, version: Int(version), creationTime: creationTime, lastUpdatedTime: lastUpdatedTime, description: description,
            userID: userId, stage: ModelStage(rawValue: stage) ?? .none, source: source, runID: runId, runLink: runLink, modelID: modelId,
            storageLocation: storageLocation, approved: approved != 0, tags: tags)
    }
}
