import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway project …`: projects inside namespaces.
struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Manage projects inside namespaces.",
        subcommands: [List.self, Create.self, Show.self, Delete.self])

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
}
