import Foundation
import SQLKit
import SlipwayDomain

/// Stores projects inside namespaces.
public protocol ProjectRepository: Sendable {
    /// Creates a project. - Throws: `already_exists` when the namespace has one of that name.
    func create(in namespace: Namespace, name: ResourceName, description: String, by actor: AuditActor) async throws -> Project
    /// The project of that name in the namespace.
    func project(named name: String, in namespace: Namespace) async throws -> Project?
    /// The namespace's projects, by name.
    func list(in namespace: Namespace) async throws -> [Project]
    /// Changes the description.
    func update(_ project: Project, in namespace: Namespace, description: String, by actor: AuditActor) async throws -> Project
    /// Deletes the project.
    func delete(_ project: Project, in namespace: Namespace, by actor: AuditActor) async throws
}

/// Projects in the SQL database.
public struct SQLProjectRepository: ProjectRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(in namespace: Namespace, name: ResourceName, description: String, by actor: AuditActor) async throws -> Project {
        let project = Project(id: UUID(), namespaceID: namespace.id, name: name, description: description, createdAt: Date())
        let target = "\(namespace.name)/\(name)"
        do {
            try await database.write { db in
                let clash = try await db.select().column("id").from("projects")
                    .where("namespace_id", .equal, namespace.id.uuidString).where("name", .equal, name.value).first()
                if clash != nil { throw StoreError.alreadyExists("project", target) }
                try await db.insert(into: "projects").columns("id", "namespace_id", "name", "description", "created_at")
                    .values(
                        SQLBind(project.id.uuidString), SQLBind(namespace.id.uuidString), SQLBind(name.value),
                        SQLBind(description), SQLBind(project.createdAt.timeIntervalSince1970)
                    ).run()
                try await db.recordAudit(actor, "project.create", targetType: "project", target: target, namespaceID: namespace.id)
            }
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("project", target)
        }
        return project
    }

    public func project(named name: String, in namespace: Namespace) async throws -> Project? {
        // A name that is not valid cannot exist; not asking the database also keeps bytes it rejects (NUL) away from it.
        guard ResourceName.problem(with: name) == nil else { return nil }
        return try await database.read { db in
            try await db.select().column("*").from("projects")
                .where("namespace_id", .equal, namespace.id.uuidString).where("name", .equal, name)
                .first(decoding: ProjectRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.project()
    }

    public func list(in namespace: Namespace) async throws -> [Project] {
        try await database.read { db in
            try await db.select().column("*").from("projects").where("namespace_id", .equal, namespace.id.uuidString)
                .orderBy("name").all(decoding: ProjectRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { try $0.project() }
    }

    public func update(_ project: Project, in namespace: Namespace, description: String, by actor: AuditActor) async throws -> Project {
        try await database.write { db in
            try await db.update("projects").set("description", to: description).where("id", .equal, project.id.uuidString).run()
            try await db.recordAudit(
                actor, "project.update", targetType: "project", target: "\(namespace.name)/\(project.name)",
                namespaceID: namespace.id, details: ["description": description])
        }
        var updated = project
        updated.description = description
        return updated
    }

    public func delete(_ project: Project, in namespace: Namespace, by actor: AuditActor) async throws {
        try await database.write { db in
            let datasets =
                try await db.raw("SELECT COUNT(*) AS n FROM datasets WHERE project_id = \(bind: project.id.uuidString)")
                .first(decodingColumn: "n", as: Int.self) ?? 0
            if datasets > 0 {
                throw StoreError.conflict(
                    code: "project_not_empty", "project '\(namespace.name)/\(project.name)' still holds \(datasets) dataset(s); delete them first")
            }
            try await db.delete(from: "projects").where("id", .equal, project.id.uuidString).run()
            try await db.recordAudit(
                actor, "project.delete", targetType: "project", target: "\(namespace.name)/\(project.name)",
                namespaceID: namespace.id)
        }
    }
}

struct ProjectRow: Codable, Sendable {
    var id: String
    var namespaceId: String
    var name: String
    var description: String
    var createdAt: Double

    func project() throws -> Project {
        Project(
            id: UUID(uuidString: id)!, namespaceID: UUID(uuidString: namespaceId)!, name: try ResourceName(validating: name),
            description: description, createdAt: Date(timeIntervalSince1970: createdAt))
    }
}
