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

extension AccessPolicy {
    /// What `caller` may do with a dataset of `visibility` in `project`, or `nil` when they may not see it.
    ///
    /// - `public`: every signed-in user reads it (viewer); namespace members have their role, as for `namespace`.
    /// - `namespace`: the namespace's members, with their namespace role or, when higher, their project role.
    /// - `private`: the project's members, with their project role, and the namespace's maintainers and owners (and
    ///   administrators), with theirs. A job's token acts for its submitter, as a developer at most.
    /// - Parameter namespaceRole: the caller's role in the dataset's namespace (`Caller/role(in:store:)`), if any.
    func datasetRole(_ caller: Caller, visibility: Visibility, in project: Project, namespaceRole: Role?) async throws -> Role? {
        guard let namespaceRole else { return visibility == .public ? .viewer : nil }
        if caller.jobScope != nil {
            guard visibility == .private else { return namespaceRole }
            // The token is a developer of its namespace; what its submitter may see decides the rest.
            guard let standing = try await privateStanding(of: caller.user.id, in: project) else { return nil }
            return min(standing, namespaceRole)
        }
        if caller.user.isAdmin || namespaceRole.includes(.maintainer) { return namespaceRole }
        let projectRole = try await store.projects.role(of: caller.user.id, in: project)
        if visibility == .private { return projectRole }
        return max(namespaceRole, projectRole ?? namespaceRole)
    }

    /// The role a user has on the project's private datasets, looked up afresh: owner for administrators, their
    /// namespace role when it is maintainer or owner, else their project role.
    private func privateStanding(of userID: UUID, in project: Project) async throws -> Role? {
        if try await store.users.user(id: userID)?.isAdmin == true { return .owner }
        if let role = try await store.namespaces.role(of: userID, in: project.namespaceID), role.includes(.maintainer) { return role }
        return try await store.projects.role(of: userID, in: project)
    }

    /// Whether the caller sees the project's private datasets (lists include them).
    func seesPrivateDatasets(_ caller: Caller, in project: Project, namespaceRole: Role?) async throws -> Bool {
        try await datasetRole(caller, visibility: .private, in: project, namespaceRole: namespaceRole) != nil
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
