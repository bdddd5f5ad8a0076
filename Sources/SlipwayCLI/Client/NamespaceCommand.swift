import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway namespace …`: tenants, their members, quotas and audit log.
struct NamespaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "namespace",
        abstract: "Manage namespaces (tenants), members, quotas and the audit log.",
        subcommands: [List.self, Create.self, Show.self, Delete.self, Members.self, SetMember.self, RemoveMember.self, QuotaCommand.self, Audit.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your namespaces (all, for administrators).")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let list = try await options.client().send(.GET, "/namespaces", as: ItemList<NamespaceListing>.self)
                try options.print(
                    list.items, headers: ["NAME", "ROLE", "TITLE"],
                    rows: list.items.map { [$0.namespace.name.value, $0.role?.rawValue ?? "-", $0.namespace.displayName] })
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a namespace; you become its owner.")
        @Argument(help: "Name: lowercase letters, digits and '-'.") var name: String
        @Option(help: "A human title.") var displayName: String?
        @Option(help: "What the namespace is for.") var description: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let namespace = try await options.client().send(
                    .POST, "/namespaces", body: CreateNamespaceRequest(name: name, displayName: displayName, description: description),
                    as: Namespace.self)
                try options.print(
                    namespace, headers: ["NAME", "TITLE", "CREATED"],
                    rows: [[namespace.name.value, namespace.displayName, namespace.createdAt.shortText]])
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a namespace.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let listing = try await options.client().send(.GET, "/namespaces/\(SlipwayAPIClient.segment(name))", as: NamespaceListing.self)
                try options.print(
                    listing, headers: ["NAME", "ROLE", "TITLE", "DESCRIPTION"],
                    rows: [
                        [listing.namespace.name.value, listing.role?.rawValue ?? "-", listing.namespace.displayName, listing.namespace.description]
                    ])
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an empty namespace (owners).")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                try await options.client().sendIgnoringResponse(.DELETE, "/namespaces/\(SlipwayAPIClient.segment(name))")
                print("Deleted namespace \(name).")
            }
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a namespace's members.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let list = try await options.client().send(
                    .GET, "/namespaces/\(SlipwayAPIClient.segment(name))/members", as: ItemList<Membership>.self)
                try options.print(
                    list.items, headers: ["USERNAME", "ROLE", "ADDED"],
                    rows: list.items.map { [$0.username.value, $0.role.rawValue, $0.addedAt.shortText] })
            }
        }
    }

    struct SetMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-member", abstract: "Add a member or change a member's role.")
        @Argument var namespace: String
        @Argument var username: String
        @Option(help: "owner, maintainer, developer or viewer.") var role: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role must be owner, maintainer, developer or viewer") }
            try await runClient {
                let membership = try await options.client().send(
                    .PUT, "/namespaces/\(SlipwayAPIClient.segment(namespace))/members/\(SlipwayAPIClient.segment(username))",
                    body: SetMemberRequest(role: role), as: Membership.self)
                try options.print(membership, headers: ["USERNAME", "ROLE"], rows: [[membership.username.value, membership.role.rawValue]])
            }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member", abstract: "Remove a member (or leave, with your own name).")
        @Argument var namespace: String
        @Argument var username: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                try await options.client().sendIgnoringResponse(
                    .DELETE, "/namespaces/\(SlipwayAPIClient.segment(namespace))/members/\(SlipwayAPIClient.segment(username))")
                print("Removed \(username) from \(namespace).")
            }
        }
    }

    struct QuotaCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "quota", abstract: "Show a namespace's quota, or set it (administrators) with --cpu/--memory-gb/--gpu/--weight.")
        @Argument var namespace: String
        @Option(help: "CPU cores; 'unlimited' to clear.") var cpu: String?
        @Option(name: .customLong("memory-gb"), help: "Memory in GiB; 'unlimited' to clear.") var memoryGB: String?
        @Option(help: "GPUs; 'unlimited' to clear.") var gpu: String?
        @Option(help: "Weight in fair sharing (default 1): weight 2 is entitled to twice the share of weight 1.") var weight: Double?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                let client = try options.client()
                let path = "/namespaces/\(SlipwayAPIClient.segment(namespace))/quota"
                var quota = try await client.send(.GET, path, as: Quota.self)
                if cpu != nil || memoryGB != nil || gpu != nil || weight != nil {
                    if let weight { quota.weight = weight }
                    if let cpu { quota.cpu = try Self.parse(cpu, "--cpu") }
                    if let memoryGB { quota.memoryBytes = try Self.parse(memoryGB, "--memory-gb").map { Int64($0 * 1_073_741_824) } }
                    if let gpu { quota.gpu = try Self.parse(gpu, "--gpu").map { Int($0) } }
                    quota = try await client.send(.PUT, path, body: quota, as: Quota.self)
                }
                func show<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "unlimited" }
                try options.print(
                    quota, headers: ["CPU", "MEMORY (GiB)", "GPU", "WEIGHT"],
                    rows: [[show(quota.cpu), show(quota.memoryBytes.map { Double($0) / 1_073_741_824 }), show(quota.gpu), String(quota.weight ?? 1)]])
            }
        }

        static func parse(_ text: String, _ flag: String) throws -> Double? {
            if text == "unlimited" { return nil }
            guard let value = Double(text), value >= 0 else { throw CLIError("\(flag) must be a number of 0 or more, or 'unlimited'") }
            return value
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a namespace's audit log (owners and administrators).")
        @Argument var namespace: String
        @Option(help: "How many events.") var limit = 50
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let page = try await options.client().send(
                    .GET, "/namespaces/\(SlipwayAPIClient.segment(namespace))/audit?limit=\(limit)", as: AuditPage.self)
                try options.print(
                    page, headers: ["TIME", "ACTOR", "ACTION", "TARGET"],
                    rows: page.items.map { [$0.occurredAt.shortText, $0.actorName, $0.action, $0.target] })
            }
        }
    }
}
