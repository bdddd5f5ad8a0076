import Foundation
import SQLKit
import SlipwayDomain

/// Changes to a namespace; `nil` fields stay as they are.
public struct NamespaceChange: Sendable {
    public var displayName: String?
    public var description: String?

    public init(displayName: String? = nil, description: String? = nil) {
        self.displayName = displayName
        self.description = description
    }
}

/// Stores namespaces (tenants), their members and their quotas.
public protocol NamespaceRepository: Sendable {
    /// Creates a namespace with `owner` as its first owner. - Throws: `already_exists`.
    func create(name: ResourceName, displayName: String?, description: String, owner: UUID, by actor: AuditActor) async throws -> Namespace
    /// The namespace with this name.
    func namespace(named name: String) async throws -> Namespace?
    /// Namespaces by name with the given user's role in each; `memberID == nil` lists every namespace.
    func list(memberID: UUID?) async throws -> [(namespace: Namespace, role: Role?)]
    /// Applies `change`. - Throws: `not_found`.
    func update(_ namespace: Namespace, _ change: NamespaceChange, by actor: AuditActor) async throws -> Namespace
    /// Deletes an empty namespace. - Throws: `namespace_not_empty` while it holds projects.
    func delete(_ namespace: Namespace, by actor: AuditActor) async throws
    /// The members, by username.
    func members(of namespace: Namespace) async throws -> [Membership]
    /// The user's role in the namespace, or `nil` if not a member.
    func role(of userID: UUID, in namespaceID: UUID) async throws -> Role?
    /// Adds a member or changes a member's role. - Throws: `last_owner` when it would leave no owner.
    func setMember(_ user: User, role: Role, in namespace: Namespace, by actor: AuditActor) async throws -> Membership
    /// Removes a member. - Throws: `not_found`, or `last_owner` when it would leave no owner.
    func removeMember(_ user: User, from namespace: Namespace, by actor: AuditActor) async throws
    /// The namespace's compute quota.
    func quota(of namespace: Namespace) async throws -> Quota
    /// Replaces the namespace's compute quota.
    func setQuota(_ quota: Quota, of namespace: Namespace, by actor: AuditActor) async throws -> Quota
}

/// Namespaces in the SQL database.
public struct SQLNamespaceRepository: NamespaceRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(name: ResourceName, displayName: String?, description: String, owner: UUID, by actor: AuditActor) async throws -> Namespace {
        let now = Date().timeIntervalSince1970
        let row = NamespaceRow(
            id: UUID().uuidString, name: name.value, displayName: displayName ?? name.value, description: description,
            createdAt: now, quotaCpu: nil, quotaMemoryBytes: nil, quotaGpu: nil, shareWeight: nil)
        do {
            try await database.write { db in
                if try await db.select().column("id").from("namespaces").where("name", .equal, row.name).first() != nil {
                    throw StoreError.alreadyExists("namespace", row.name)
                }
                try await db.insert(into: "namespaces").model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
                try await db.insert(into: "memberships").columns("namespace_id", "user_id", "role", "added_at")
                    .values(SQLBind(row.id), SQLBind(owner.uuidString), SQLBind(Role.owner.rawValue), SQLBind(now)).run()
                let namespaceID = UUID(uuidString: row.id)
                try await db.recordAudit(actor, "namespace.create", targetType: "namespace", target: row.name, namespaceID: namespaceID)
            }
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("namespace", row.name)
        }
        return try row.namespace()
    }

    public func namespace(named name: String) async throws -> Namespace? {
        // A name that is not valid cannot exist; not asking the database also keeps bytes it rejects (NUL) away from it.
        guard ResourceName.problem(with: name) == nil else { return nil }
        return try await database.read { db in
            try await db.select().column("*").from("namespaces").where("name", .equal, name)
                .first(decoding: NamespaceRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.namespace()
    }

    public func list(memberID: UUID?) async throws -> [(namespace: Namespace, role: Role?)] {
        let rows = try await database.read { db -> [(NamespaceRow, String?)] in
            let namespaces = try await db.select().column("*").from("namespaces").orderBy("name")
                .all(decoding: NamespaceRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            guard let memberID else { return namespaces.map { ($0, nil) } }
            let roles = try await db.select().columns("namespace_id", "role").from("memberships")
                .where("user_id", .equal, memberID.uuidString).all()
            var roleByNamespace: [String: String] = [:]
            for row in roles {
                roleByNamespace[try row.decode(column: "namespace_id", as: String.self)] = try row.decode(column: "role", as: String.self)
            }
            return namespaces.compactMap { row in roleByNamespace[row.id].map { (row, $0) } }
        }
        return try rows.map { (try $0.0.namespace(), $0.1.flatMap(Role.init(rawValue:))) }
    }

    public func update(_ namespace: Namespace, _ change: NamespaceChange, by actor: AuditActor) async throws -> Namespace {
        var updated = namespace
        var changed: [String: String] = [:]
        if let value = change.displayName { updated.displayName = value; changed["display_name"] = value }
        if let value = change.description { updated.description = value; changed["description"] = value }
        try await database.write { [updated, changed] db in
            try await db.update("namespaces").set("display_name", to: updated.displayName)
                .set("description", to: updated.description).where("id", .equal, namespace.id.uuidString).run()
            try await db.recordAudit(
                actor, "namespace.update", targetType: "namespace", target: namespace.name.value,
                namespaceID: namespace.id, details: changed)
        }
        return updated
    }

    public func delete(_ namespace: Namespace, by actor: AuditActor) async throws {
        try await database.write { db in
            let projects =
                try await db.raw("SELECT COUNT(*) AS n FROM projects WHERE namespace_id = \(bind: namespace.id.uuidString)")
                .first(decodingColumn: "n", as: Int.self) ?? 0
            if projects > 0 {
                throw StoreError.conflict(
                    code: "namespace_not_empty",
                    "namespace '\(namespace.name)' still holds \(projects) project(s); delete them first")
            }
            try await db.delete(from: "memberships").where("namespace_id", .equal, namespace.id.uuidString).run()
            try await db.delete(from: "namespaces").where("id", .equal, namespace.id.uuidString).run()
            try await db.recordAudit(actor, "namespace.delete", targetType: "namespace", target: namespace.name.value, namespaceID: namespace.id)
        }
    }

    public func members(of namespace: Namespace) async throws -> [Membership] {
        try await database.read { db in
            try await db.raw(
                """
                SELECT m.namespace_id, m.user_id, u.username, m.role, m.added_at
                FROM memberships m JOIN users u ON u.id = m.user_id
                WHERE m.namespace_id = \(bind: namespace.id.uuidString) ORDER BY u.username
                """
            ).all()
        }.map { row in
            Membership(
                namespaceID: namespace.id, userID: UUID(uuidString: try row.decode(column: "user_id", as: String.self))!,
                username: try ResourceName(validating: try row.decode(column: "username", as: String.self)),
                role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .viewer,
                addedAt: Date(timeIntervalSince1970: try row.decode(column: "added_at", as: Double.self)))
        }
    }

    public func role(of userID: UUID, in namespaceID: UUID) async throws -> Role? {
        try await database.read { db in
            try await db.select().column("role").from("memberships")
                .where("namespace_id", .equal, namespaceID.uuidString).where("user_id", .equal, userID.uuidString)
                .first(decodingColumn: "role", as: String.self)
        }.flatMap(Role.init(rawValue:))
    }

    public func setMember(_ user: User, role: Role, in namespace: Namespace, by actor: AuditActor) async throws -> Membership {
        let now = Date().timeIntervalSince1970
        let addedAt = try await database.write { db -> Double in
            let current = try await db.select().columns("role", "added_at").from("memberships")
                .where("namespace_id", .equal, namespace.id.uuidString).where("user_id", .equal, user.id.uuidString).first()
            if let current {
                let oldRole = try current.decode(column: "role", as: String.self)
                if oldRole == Role.owner.rawValue, role != .owner {
                    try await Self.requireAnotherOwner(db, namespace: namespace, besides: user)
                }
                try await db.update("memberships").set("role", to: role.rawValue)
                    .where("namespace_id", .equal, namespace.id.uuidString).where("user_id", .equal, user.id.uuidString).run()
                try await db.recordAudit(
                    actor, "member.update", targetType: "member", target: "\(namespace.name)/\(user.username)",
                    namespaceID: namespace.id, details: ["role": role.rawValue, "previous_role": oldRole])
                return try current.decode(column: "added_at", as: Double.self)
            }
            try await db.insert(into: "memberships").columns("namespace_id", "user_id", "role", "added_at")
                .values(SQLBind(namespace.id.uuidString), SQLBind(user.id.uuidString), SQLBind(role.rawValue), SQLBind(now)).run()
            try await db.recordAudit(
                actor, "member.add", targetType: "member", target: "\(namespace.name)/\(user.username)",
                namespaceID: namespace.id, details: ["role": role.rawValue])
            return now
        }
        return Membership(
            namespaceID: namespace.id, userID: user.id, username: user.username, role: role,
            addedAt: Date(timeIntervalSince1970: addedAt))
    }

    public func removeMember(_ user: User, from namespace: Namespace, by actor: AuditActor) async throws {
        try await database.write { db in
            guard
                let role = try await db.select().column("role").from("memberships")
                    .where("namespace_id", .equal, namespace.id.uuidString).where("user_id", .equal, user.id.uuidString)
                    .first(decodingColumn: "role", as: String.self)
            else { throw StoreError.notFound("member", "\(namespace.name)/\(user.username)") }
            if role == Role.owner.rawValue {
                try await Self.requireAnotherOwner(db, namespace: namespace, besides: user)
            }
            try await db.delete(from: "memberships")
                .where("namespace_id", .equal, namespace.id.uuidString).where("user_id", .equal, user.id.uuidString).run()
            // Leaving the namespace ends its project memberships too.
            try await db.raw(
                """
                DELETE FROM project_members WHERE user_id = \(bind: user.id.uuidString)
                AND project_id IN (SELECT id FROM projects WHERE namespace_id = \(bind: namespace.id.uuidString))
                """
            ).run()
            try await db.recordAudit(
                actor, "member.remove", targetType: "member", target: "\(namespace.name)/\(user.username)",
                namespaceID: namespace.id, details: ["previous_role": role])
        }
    }

    private static func requireAnotherOwner(_ db: any SQLDatabase, namespace: Namespace, besides user: User) async throws {
        let owners =
            try await db.raw(
                """
                SELECT COUNT(*) AS n FROM memberships
                WHERE namespace_id = \(bind: namespace.id.uuidString) AND role = 'owner' AND user_id <> \(bind: user.id.uuidString)
                """
            ).first(decodingColumn: "n", as: Int.self) ?? 0
        if owners == 0 {
            throw StoreError.conflict(
                code: "last_owner",
                "'\(user.username)' is the last owner of namespace '\(namespace.name)'; make another member owner first")
        }
    }

    public func quota(of namespace: Namespace) async throws -> Quota {
        try await database.read { db in
            try await db.select().column("*").from("namespaces").where("id", .equal, namespace.id.uuidString)
                .first(decoding: NamespaceRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map { Quota(cpu: $0.quotaCpu, memoryBytes: $0.quotaMemoryBytes, gpu: $0.quotaGpu.map(Int.init), weight: $0.shareWeight) }
            ?? .unlimited
    }

    public func setQuota(_ quota: Quota, of namespace: Namespace, by actor: AuditActor) async throws -> Quota {
        try await database.write { db in
            try await db.update("namespaces")
                .set("quota_cpu", to: quota.cpu).set("quota_memory_bytes", to: quota.memoryBytes)
                .set("quota_gpu", to: quota.gpu.map(Int64.init)).set("share_weight", to: quota.weight)
                .where("id", .equal, namespace.id.uuidString).run()
            try await db.recordAudit(
                actor, "quota.update", targetType: "quota", target: namespace.name.value, namespaceID: namespace.id,
                details: [
                    "cpu": quota.cpu.map { "\($0)" } ?? "unlimited",
                    "memory_bytes": quota.memoryBytes.map { "\($0)" } ?? "unlimited",
                    "gpu": quota.gpu.map { "\($0)" } ?? "unlimited",
                    "weight": quota.weight.map { "\($0)" } ?? "1",
                ])
        }
        return quota
    }
}

struct NamespaceRow: Codable, Sendable {
    var id: String
    var name: String
    var displayName: String
    var description: String
    var createdAt: Double
    var quotaCpu: Double?
    var quotaMemoryBytes: Int64?
    var quotaGpu: Int64?
    var shareWeight: Double?

    func namespace() throws -> Namespace {
        Namespace(
            id: UUID(uuidString: id)!, name: try ResourceName(validating: name), displayName: displayName,
            description: description, createdAt: Date(timeIntervalSince1970: createdAt))
    }
}
