import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway project …`: projects inside namespaces.
struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Manage projects inside namespaces.",
        subcommands: [List.self, Create.self, Show.self, Delete.self, Member.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a namespace's projects.")
        @Argument var namespace: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let list = try await options.client().send(
                    .GET, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects", as: ItemList<Project>.self)
                try options.print(
                    list.items, headers: ["NAME", "DESCRIPTION", "CREATED"],
                    rows: list.items.map { [$0.name.value, $0.description, $0.createdAt.shortText] })
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a project: NAMESPACE/PROJECT.")
        @Argument var path: String
        @Option(help: "What the project is for.") var description: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let (namespace, name) = try splitProjectPath(path)
            try await runClient {
                let project = try await options.client().send(
                    .POST, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects",
                    body: CreateProjectRequest(name: name, description: description), as: Project.self)
                try options.print(project, headers: ["NAME", "DESCRIPTION"], rows: [["\(namespace)/\(project.name)", project.description]])
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a project: NAMESPACE/PROJECT.")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let (namespace, name) = try splitProjectPath(path)
            try await runClient {
                let project = try await options.client().send(
                    .GET, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(name))", as: Project.self)
                try options.print(
                    project, headers: ["NAME", "DESCRIPTION", "CREATED"],
                    rows: [["\(namespace)/\(project.name)", project.description, project.createdAt.shortText]])
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a project: NAMESPACE/PROJECT (maintainers).")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let (namespace, name) = try splitProjectPath(path)
            try await runClient {
                try await options.client().sendIgnoringResponse(
                    .DELETE, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(name))")
                print("Deleted project \(namespace)/\(name).")
            }
        }
    }

    /// `slipway project member add | remove | list`: who sees the project's private datasets.
    struct Member: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage a project's members: with the namespace's maintainers and owners, they see its private datasets.",
            subcommands: [Add.self, Remove.self, List.self])

        static func path(_ project: String, _ username: String? = nil) throws -> String {
            let (namespace, name) = try splitProjectPath(project)
            let base = "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(name))/members"
            return username.map { base + "/" + SlipwayAPIClient.segment($0) } ?? base
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a member of the namespace to NAMESPACE/PROJECT, or change their role (project or namespace maintainers).")
            @Argument(help: "NAMESPACE/PROJECT") var project: String
            @Argument var username: String
            @Option(help: "viewer, developer or maintainer.") var role: String = "developer"
            @OptionGroup var options: ClientOptions
            func run() async throws {
                guard let role = Role(rawValue: role), ProjectMember.roles.contains(role) else {
                    throw ValidationError("--role must be viewer, developer or maintainer")
                }
                let path = try Member.path(project, username)
                try await runClient {
                    let member = try await options.client().send(.PUT, path, body: SetMemberRequest(role: role), as: ProjectMember.self)
                    try options.print(member, headers: ["USERNAME", "ROLE"], rows: [[member.username.value, member.role.rawValue]])
                }
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a member from NAMESPACE/PROJECT (or leave, with your own name).")
            @Argument(help: "NAMESPACE/PROJECT") var project: String
            @Argument var username: String
            @OptionGroup var options: ClientOptions
            func run() async throws {
                let path = try Member.path(project, username)
                try await runClient {
                    try await options.client().sendIgnoringResponse(.DELETE, path)
                    print("Removed \(username) from \(project).")
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the members of NAMESPACE/PROJECT.")
            @Argument(help: "NAMESPACE/PROJECT") var project: String
            @OptionGroup var options: ClientOptions
            func run() async throws {
                let path = try Member.path(project)
                try await runClient {
                    let list = try await options.client().send(.GET, path, as: ItemList<ProjectMember>.self)
                    try options.print(
                        list.items, headers: ["USERNAME", "ROLE", "ADDED"],
                        rows: list.items.map { [$0.username.value, $0.role.rawValue, $0.addedAt.shortText] })
                }
            }
        }
    }
}
