import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// Projects inside a namespace. Viewers read, developers create and edit, maintainers delete.
struct ProjectController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy

    func register(on api: RouterGroup<AppRequestContext>) {
        api.get("namespaces/{namespace}/projects", use: list)
        api.post("namespaces/{namespace}/projects", use: create)
        api.get("namespaces/{namespace}/projects/{project}", use: show)
        api.patch("namespaces/{namespace}/projects/{project}", use: update)
        api.delete("namespaces/{namespace}/projects/{project}", use: delete)
        api.get("namespaces/{namespace}/projects/{project}/members", use: members)
        api.put("namespaces/{namespace}/projects/{project}/members/{username}", use: setMember)
        api.delete("namespaces/{namespace}/projects/{project}/members/{username}", use: removeMember)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<Project> {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        return ItemList(items: try await store.projects.list(in: access.namespace))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Created<Project> {
        let namespace = try context.parameters.require("namespace")
        _ = try await access.namespace(namespace, context, requires: .developer)
        let body = try await request.decodeJSON(CreateProjectRequest.self, context: context)
        return Created(value: try await create(body, in: namespace, context: context))
    }

    func create(_ body: CreateProjectRequest, in namespace: String, context: AppRequestContext) async throws -> Project {
        let access = try await access.namespace(namespace, context, requires: .developer)
        let name = try validName(body.name, field: "name")
        try validText(body.description, field: "description", limit: 4000)
        let project = try await store.projects.create(
            in: access.namespace, name: name, description: body.description ?? "", by: access.caller.auditActor)
        // Whoever makes a project maintains it, and so sees its private datasets (a job's token makes none of its own).
        if access.caller.jobScope == nil, !access.role.includes(.maintainer) {
            _ = try await store.projects.setMember(
                access.caller.user, role: .maintainer, in: project, namespace: access.namespace, by: access.caller.auditActor)
        }
        return project
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Project {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        return try await self.access.project(context, in: access)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Project {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .developer)
        let project = try await self.access.project(context, in: access)
        let body = try await request.decodeJSON(UpdateProjectRequest.self, context: context)
        try validText(body.description, field: "description", limit: 4000)
        return try await store.projects.update(project, in: access.namespace, description: body.description, by: access.caller.auditActor)
    }

    // MARK: - Members

    /// Who may manage the project's members: the namespace's maintainers and owners, and the project's maintainers.
    func managing(_ context: AppRequestContext) async throws -> (NamespaceAccess, Project) {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        let project = try await self.access.project(context, in: access)
        if access.role.includes(.maintainer) { return (access, project) }
        guard access.caller.jobScope == nil, try await store.projects.role(of: access.caller.user.id, in: project) == .maintainer else {
            throw APIError.forbidden(
                "managing the members of project '\(access.namespace.name)/\(project.name)' needs maintainer in the project or the namespace")
        }
        return (access, project)
    }

    @Sendable func members(_ request: Request, context: AppRequestContext) async throws -> ItemList<ProjectMember> {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        let project = try await self.access.project(context, in: access)
        return ItemList(items: try await store.projects.members(of: project))
    }

    /// Adds a member (who must belong to the namespace) or changes their role: viewer, developer or maintainer.
    @Sendable func setMember(_ request: Request, context: AppRequestContext) async throws -> ProjectMember {
        let body = try await request.decodeJSON(SetMemberRequest.self, context: context)
        let (access, project) = try await managing(context)
        guard ProjectMember.roles.contains(body.role) else {
            throw APIError.invalidField("role", "a project member is a viewer, developer or maintainer (owners are the namespace's)")
        }
        let username = try context.parameters.require("username")
        guard let user = try await store.users.user(named: username) else { throw APIError.notFound("user '\(username)' does not exist") }
        guard try await store.namespaces.role(of: user.id, in: access.namespace.id) != nil else {
            throw APIError.badRequest(
                "not_a_member",
                "'\(username)' is not a member of namespace '\(access.namespace.name)'; add them to it first "
                    + "(slipway namespace set-member \(access.namespace.name) \(username) --role viewer)")
        }
        return try await store.projects.setMember(user, role: body.role, in: project, namespace: access.namespace, by: access.caller.auditActor)
    }

    /// Removes a member; any member may also leave on their own.
    @Sendable func removeMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        let username = try context.parameters.require("username")
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        let project = try await self.access.project(context, in: access)
        guard let user = try await store.users.user(named: username), try await store.projects.role(of: user.id, in: project) != nil else {
            throw APIError.notFound("'\(username)' is not a member of project '\(access.namespace.name)/\(project.name)'")
        }
        if user.id != access.caller.user.id || access.caller.jobScope != nil { _ = try await managing(context) }
        try await store.projects.removeMember(user, from: project, namespace: access.namespace, by: access.caller.auditActor)
        return Response(status: .noContent)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .maintainer)
        let project = try await self.access.project(context, in: access)
        try await store.projects.delete(project, in: access.namespace, by: access.caller.auditActor)
        return Response(status: .noContent)
    }
}
