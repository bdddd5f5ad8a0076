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
        return try await store.projects.create(in: access.namespace, name: name, description: body.description ?? "", by: access.caller.auditActor)
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

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .maintainer)
        let project = try await self.access.project(context, in: access)
        try await store.projects.delete(project, in: access.namespace, by: access.caller.auditActor)
        return Response(status: .noContent)
    }
}
