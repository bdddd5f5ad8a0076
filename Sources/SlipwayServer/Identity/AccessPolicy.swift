import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// The caller's standing in one namespace, once checked.
struct NamespaceAccess: Sendable {
    /// The namespace.
    var namespace: Namespace
    /// The caller.
    var caller: Caller
    /// What the caller may do here: their role, or owner for administrators.
    var role: Role
}

/// Decides who may do what: every route asks it before touching anything.
///
/// Administrators act as owners in every namespace. A namespace the caller is not a member of
/// answers 404, exactly like one that does not exist, so names do not leak across tenants.
struct AccessPolicy: Sendable {
    let store: MetadataStore

    /// The authenticated caller. - Throws: 401 when the request carries no valid credentials.
    func caller(_ context: AppRequestContext) throws -> Caller {
        guard let caller = context.caller else { throw APIError.unauthenticated() }
        return caller
    }

    /// The caller, who must be an administrator. - Throws: 401, or 403 for other users.
    func admin(_ context: AppRequestContext) throws -> Caller {
        let caller = try caller(context)
        guard caller.user.isAdmin else { throw APIError.forbidden("only administrators may do this") }
        return caller
    }

    /// The caller's access to the namespace `name`, which must include `required`.
    /// - Throws: 401; 404 when the namespace does not exist or the caller is not a member; 403 when the role is too low.
    func namespace(_ name: String, _ context: AppRequestContext, requires required: Role) async throws -> NamespaceAccess {
        let caller = try caller(context)
        guard let namespace = try await store.namespaces.namespace(named: name) else {
            throw APIError.notFound("namespace '\(name)' does not exist")
        }
        guard let role = try await caller.role(in: namespace.id, store: store) else {
            throw APIError.notFound("namespace '\(name)' does not exist")
        }
        guard role.includes(required) else {
            throw APIError.forbidden("your role in namespace '\(name)' is \(role); this needs \(required) or higher")
        }
        return NamespaceAccess(namespace: namespace, caller: caller, role: role)
    }

    /// The project in `access`'s namespace named by the `{project}` path parameter.
    /// - Throws: 404 when it does not exist.
    func project(_ context: AppRequestContext, in access: NamespaceAccess) async throws -> Project {
        let name = try context.parameters.require("project")
        guard let project = try await store.projects.project(named: name, in: access.namespace) else {
            throw APIError.notFound("project '\(access.namespace.name)/\(name)' does not exist")
        }
        return project
    }

    /// The caller's access to the `{namespace}` path parameter (which must include `required`) and its `{project}`.
    func project(_ context: AppRequestContext, requires required: Role) async throws -> (NamespaceAccess, Project) {
        let access = try await namespace(try context.parameters.require("namespace"), context, requires: required)
        return (access, try await project(context, in: access))
    }
}

extension Caller {
    /// The caller's role in a namespace: owner for administrators, developer in its own namespace for a job's
    /// token (nil elsewhere), the membership's role for everyone else; nil when the caller may not see it.
    func role(in namespaceID: UUID, store: MetadataStore) async throws -> Role? {
        if let jobScope { return jobScope.namespaceID == namespaceID ? .developer : nil }
        if user.isAdmin { return .owner }
        return try await store.namespaces.role(of: user.id, in: namespaceID)
    }

    /// The namespaces whose contents the caller sees; nil for all (administrators).
    func visibleNamespaces(store: MetadataStore) async throws -> [UUID]? {
        if let jobScope { return [jobScope.namespaceID] }
        if user.isAdmin { return nil }
        return try await store.namespaces.list(memberID: user.id).filter { $0.role != nil }.map(\.namespace.id)
    }
}
