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
    /// The project's members, by username.
    func members(of project: Project) async throws -> [ProjectMember]
    /// The user's role in the project, or `nil` if not a member.
    func role(of userID: UUID, in project: Project) async throws -> Role?
    /// Adds a member or changes a member's role.
    func setMember(_ user: User, role: Role, in project: Project, namespace: Namespace, by actor: AuditActor) async throws -> ProjectMember
    /// Removes a member. - Throws: `not_found` when the user is not one.
    func removeMember(_ user: User, from project: Project, namespace: Namespace, by actor: AuditActor) async throws
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
            try await db.delete(from: "project_members").where("project_id", .equal, project.id.uuidString).run()
            try await db.delete(from: "projects").where("id", .equal, project.id.uuidString).run()
            try await db.recordAudit(
                actor, "project.delete", targetType: "project", target: "\(namespace.name)/\(project.name)",
                namespaceID: namespace.id)
        }
    }
}

extension SQLProjectRepository {
    public func members(of project: Project) async throws -> [ProjectMember] {
        try await database.read { db in
            try await db.raw(
                """
                SELECT m.user_id, u.username, m.role, m.added_at
                FROM project_members m JOIN users u ON u.id = m.user_id
                WHERE m.project_id = \(bind: project.id.uuidString) ORDER BY u.username
                """
            ).all()
        }.map { row in
            ProjectMember(
                projectID: project.id, userID: UUID(uuidString: try row.decode(column: "user_id", as: String.self))!,
                username: try ResourceName(validating: try row.decode(column: "username", as: String.self)),
                role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .viewer,
                addedAt: Date(timeIntervalSince1970: try row.decode(column: "added_at", as: Double.self)))
        }
    }

    public func role(of userID: UUID, in project: Project) async throws -> Role? {
        try await database.read { db in
            try await db.select().column("role").from("project_members")
                .where("project_id", .equal, project.id.uuidString).where("user_id", .equal, userID.uuidString)
                .first(decodingColumn: "role", as: String.self)
        }.flatMap(Role.init(rawValue:))
    }

    public func setMember(_ user: User, role: Role, in project: Project, namespace: Namespace, by actor: AuditActor) async throws -> ProjectMember {
        let now = Date().timeIntervalSince1970
        let target = "\(namespace.name)/\(project.name)/\(user.username)"
        let addedAt = try await database.write { db -> Double in
            let current = try await db.select().columns("role", "added_at").from("project_members")
                .where("project_id", .equal, project.id.uuidString).where("user_id", .equal, user.id.uuidString).first()
            if let current {
                let oldRole = try current.decode(column: "role", as: String.self)
                try await db.update("project_members").set("role", to: role.rawValue)
                    .where("project_id", .equal, project.id.uuidString).where("user_id", .equal, user.id.uuidString).run()
                try await db.recordAudit(
                    actor, "project_member.update", targetType: "project_member", target: target, namespaceID: namespace.id,
                    details: ["role": role.rawValue, "previous_role": oldRole])
                return try current.decode(column: "added_at", as: Double.self)
            }
            try await db.insert(into: "project_members").columns("project_id", "user_id", "role", "added_at")
                .values(SQLBind(project.id.uuidString), SQLBind(user.id.uuidString), SQLBind(role.rawValue), SQLBind(now)).run()
            try await db.recordAudit(
                actor, "project_member.add", targetType: "project_member", target: target, namespaceID: namespace.id,
                details: ["role": role.rawValue])
            return now
        }
        return ProjectMember(
            projectID: project.id, userID: user.id, username: user.username, role: role, addedAt: Date(timeIntervalSince1970: addedAt))
    }

    public func removeMember(_ user: User, from project: Project, namespace: Namespace, by actor: AuditActor) async throws {
        let target = "\(namespace.name)/\(project.name)/\(user.username)"
        try await database.write { db in
            guard
                let role = try await db.select().column("role").from("project_members")
                    .where("project_id", .equal, project.id.uuidString).where("user_id", .equal, user.id.uuidString)
                    .first(decodingColumn: "role", as: String.self)
            else { throw StoreError.notFound("project member", target) }
            try await db.delete(from: "project_members")
                .where("project_id", .equal, project.id.uuidString).where("user_id", .equal, user.id.uuidString).run()
            try await db.recordAudit(
                actor, "project_member.remove", targetType: "project_member", target: target, namespaceID: namespace.id,
                details: ["previous_role": role])
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
