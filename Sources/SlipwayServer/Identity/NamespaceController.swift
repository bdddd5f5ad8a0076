import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// Namespaces (tenants), their members, quotas and audit log.
struct NamespaceController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy

    func register(on api: RouterGroup<AppRequestContext>) {
        api.get("namespaces", use: list)
        api.post("namespaces", use: create)
        api.get("namespaces/{namespace}", use: show)
        api.patch("namespaces/{namespace}", use: update)
        api.delete("namespaces/{namespace}", use: delete)
        api.get("namespaces/{namespace}/members", use: members)
        api.put("namespaces/{namespace}/members/{username}", use: setMember)
        api.delete("namespaces/{namespace}/members/{username}", use: removeMember)
        api.get("namespaces/{namespace}/quota", use: quota)
        api.put("namespaces/{namespace}/quota", use: setQuota)
        api.get("namespaces/{namespace}/audit", use: audit)
        api.get("audit", use: globalAudit)
    }

    /// The namespaces the caller belongs to; every namespace for administrators.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<NamespaceListing> {
        ItemList(items: try await listings(context))
    }

    /// The namespaces the caller belongs to with their role; every namespace for administrators.
    func listings(_ context: AppRequestContext) async throws -> [NamespaceListing] {
        let caller = try access.caller(context)
        let mine = try await store.namespaces.list(memberID: caller.user.id)
        guard caller.user.isAdmin else { return mine.map { NamespaceListing(namespace: $0.namespace, role: $0.role) } }
        let roles = Dictionary(uniqueKeysWithValues: mine.map { ($0.namespace.id, $0.role) })
        return try await store.namespaces.list(memberID: nil).map { NamespaceListing(namespace: $0.namespace, role: roles[$0.namespace.id] ?? nil) }
    }

    /// Any signed-in user may create a namespace and becomes its owner.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Created<Namespace> {
        _ = try access.caller(context)
        return Created(value: try await create(try await request.decodeJSON(CreateNamespaceRequest.self, context: context), context: context))
    }

    func create(_ body: CreateNamespaceRequest, context: AppRequestContext) async throws -> Namespace {
        let caller = try access.caller(context)
        let name = try validName(body.name, field: "name")
        try validText(body.displayName, field: "display_name", limit: 200)
        try validText(body.description, field: "description", limit: 4000)
        return try await store.namespaces.create(
            name: name, displayName: body.displayName, description: body.description ?? "", owner: caller.user.id, by: caller.auditActor)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> NamespaceListing {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        let role = try await store.namespaces.role(of: access.caller.user.id, in: access.namespace.id)
        return NamespaceListing(namespace: access.namespace, role: role)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Namespace {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .maintainer)
        let body = try await request.decodeJSON(UpdateNamespaceRequest.self, context: context)
        try validText(body.displayName, field: "display_name", limit: 200)
        try validText(body.description, field: "description", limit: 4000)
        return try await store.namespaces.update(
            access.namespace, NamespaceChange(displayName: body.displayName, description: body.description), by: access.caller.auditActor)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .owner)
        try await store.namespaces.delete(access.namespace, by: access.caller.auditActor)
        return Response(status: .noContent)
    }

    @Sendable func members(_ request: Request, context: AppRequestContext) async throws -> ItemList<Membership> {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        return ItemList(items: try await store.namespaces.members(of: access.namespace))
    }

    /// Adds a member or changes a role. Maintainers manage developers and viewers; owners manage everyone.
    @Sendable func setMember(_ request: Request, context: AppRequestContext) async throws -> Membership {
        let body = try await request.decodeJSON(SetMemberRequest.self, context: context)
        return try await setMember(
            namespace: try context.parameters.require("namespace"), username: try context.parameters.require("username"), role: body.role,
            context: context)
    }

    func setMember(namespace: String, username: String, role: Role, context: AppRequestContext) async throws -> Membership {
        let access = try await access.namespace(namespace, context, requires: .maintainer)
        guard let user = try await store.users.user(named: username) else { throw APIError.notFound("user '\(username)' does not exist") }
        let current = try await store.namespaces.role(of: user.id, in: access.namespace.id)
        try Self.requireManageable([role] + (current.map { [$0] } ?? []), by: access)
        return try await store.namespaces.setMember(user, role: role, in: access.namespace, by: access.caller.auditActor)
    }

    /// Removes a member; any member may also leave on their own.
    @Sendable func removeMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await removeMember(
            namespace: try context.parameters.require("namespace"), username: try context.parameters.require("username"), context: context)
        return Response(status: .noContent)
    }

    func removeMember(namespace: String, username: String, context: AppRequestContext) async throws {
        let access = try await access.namespace(namespace, context, requires: .viewer)
        guard let user = try await store.users.user(named: username),
            let current = try await store.namespaces.role(of: user.id, in: access.namespace.id)
        else { throw APIError.notFound("'\(username)' is not a member of namespace '\(access.namespace.name)'") }
        if user.id != access.caller.user.id {
            guard access.role.includes(.maintainer) else {
                throw APIError.forbidden("your role in namespace '\(access.namespace.name)' is \(access.role); this needs maintainer or higher")
            }
            try Self.requireManageable([current], by: access)
        }
        try await store.namespaces.removeMember(user, from: access.namespace, by: access.caller.auditActor)
    }

    @Sendable func quota(_ request: Request, context: AppRequestContext) async throws -> Quota {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        return try await store.namespaces.quota(of: access.namespace)
    }

    /// Quotas share the cluster between tenants, so only administrators set them.
    @Sendable func setQuota(_ request: Request, context: AppRequestContext) async throws -> Quota {
        let namespace = try context.parameters.require("namespace")
        _ = try await access.namespace(namespace, context, requires: .viewer)
        return try await setQuota(namespace: namespace, quota: try await request.decodeJSON(Quota.self, context: context), context: context)
    }

    func setQuota(namespace: String, quota: Quota, context: AppRequestContext) async throws -> Quota {
        let access = try await access.namespace(namespace, context, requires: .viewer)
        guard access.caller.user.isAdmin else { throw APIError.forbidden("only administrators may set quotas") }
        if let cpu = quota.cpu, !(cpu >= 0 && cpu.isFinite) { throw APIError.invalidField("cpu", "must be a number of cores, 0 or more") }
        if let memory = quota.memoryBytes, memory < 0 { throw APIError.invalidField("memory_bytes", "must be 0 or more") }
        if let gpu = quota.gpu, gpu < 0 { throw APIError.invalidField("gpu", "must be 0 or more") }
        if let weight = quota.weight, !(weight > 0 && weight <= 1000) {
            throw APIError.invalidField("weight", "must be more than 0 and at most 1000")
        }
        return try await store.namespaces.setQuota(quota, of: access.namespace, by: access.caller.auditActor)
    }

    /// The namespace's audit log: owners and administrators only.
    @Sendable func audit(_ request: Request, context: AppRequestContext) async throws -> AuditPage {
        try await auditPage(namespace: try context.parameters.require("namespace"), query: request.uri.queryParameters, context: context)
    }

    /// The audit log of `namespace`, or every event when `nil` (administrators).
    func auditPage(namespace: String?, query: Parameters, context: AppRequestContext) async throws -> AuditPage {
        guard let namespace else {
            _ = try access.admin(context)
            return try await page(namespaceID: nil, query: query)
        }
        let access = try await access.namespace(namespace, context, requires: .owner)
        return try await page(namespaceID: access.namespace.id, query: query)
    }

    /// Every audit event: administrators only.
    @Sendable func globalAudit(_ request: Request, context: AppRequestContext) async throws -> AuditPage {
        try await auditPage(namespace: nil, query: request.uri.queryParameters, context: context)
    }

    private func page(namespaceID: UUID?, query: Parameters) async throws -> AuditPage {
        var limit = 50
        if let text = query["limit"] {
            guard let value = Int(String(text)), (1...500).contains(value) else {
                throw APIError.badRequest("invalid_parameter", "query parameter 'limit' must be an integer from 1 to 500")
            }
            limit = value
        }
        var before: Int64?
        if let text = query["before"] {
            guard let value = Int64(String(text)) else {
                throw APIError.badRequest("invalid_parameter", "query parameter 'before' must be an event id")
            }
            before = value
        }
        let events = try await store.audit.events(namespaceID: namespaceID, before: before, limit: limit)
        return AuditPage(items: events, nextBefore: events.count == limit ? events.last?.id : nil)
    }

    static func requireManageable(_ roles: [Role], by access: NamespaceAccess) throws {
        for role in roles where !access.role.manageableRoles.contains(role) {
            throw APIError.forbidden("a \(access.role) cannot grant, change or revoke the \(role) role")
        }
    }

}
