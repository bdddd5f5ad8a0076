import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway node …`: the cluster's nodes and the join tokens agents register with.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "List and manage compute nodes (administrators change them).",
        subcommands: [List.self, Cordon.self, Drain.self, Uncordon.self, Token.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Nodes with their capacity, usage and state.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let list = try await options.client().send(.GET, "/nodes", as: ItemList<ComputeNode>.self)
                try options.print(
                    list,
                    headers: [
                        "NAME", "STATE", "JOBS", "CPU ALLOC/CAP", "MEMORY ALLOC/CAP", "GPU ALLOC/CAP", "CPU USED", "MEMORY USED", "LAST HEARTBEAT",
                    ],
                    rows: list.items.map {
                        let allocated = $0.allocated ?? .zero
                        return [
                            $0.name, $0.state.rawValue, String($0.placedJobs ?? 0),
                            String(format: "%g/%g", allocated.cpu, $0.capacity.cpu),
                            "\(allocated.memoryBytes >> 20)/\($0.capacity.memoryBytes >> 20) MiB",
                            "\(allocated.gpu)/" + ($0.gpus.isEmpty ? "0" : "\($0.gpus.count) × \($0.gpus[0].model)"),
                            String(format: "%.2f", $0.usage.cpu), "\($0.usage.memoryBytes >> 20) MiB", $0.lastHeartbeatAt.shortText,
                        ]
                    })
            }
        }
    }

    static func setState(_ action: String, _ name: String, _ options: ClientOptions) async throws {
        try await runClient {
            let node = try await options.client().send(.POST, "/nodes/\(SlipwayAPIClient.segment(name))/\(action)", as: ComputeNode.self)
            print("Node \(node.name) is \(node.state.rawValue).")
        }
    }

    struct Cordon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop placing new jobs on a node; running ones continue.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await NodeCommand.setState("cordon", name, options) }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cordon a node and move its jobs back to the queue.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await NodeCommand.setState("drain", name, options) }
    }

    struct Uncordon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a node take new jobs again.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await NodeCommand.setState("uncordon", name, options) }
    }

    /// `slipway node token create | list | revoke`: the join tokens agents register with (administrators).
    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "token", abstract: "Create, list and revoke join tokens for `slipway agent --token` (administrators).",
            subcommands: [Create.self, List.self, Revoke.self], defaultSubcommand: Create.self)

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a join token; its secret is shown only now.")
            @Argument(help: "A name saying what the token is for, e.g. rack-1.") var name: String
            @OptionGroup var options: ClientOptions
            struct Body: Encodable { var name: String }
            func run() async throws {
                try await runClient {
                    let issued = try await options.client().send(.POST, "/admin/join-tokens", body: Body(name: name), as: IssuedJoinToken.self)
                    if options.output == .json {
                        try options.print(issued, headers: [], rows: [])
                    } else {
                        print("Join token \(issued.token.name) (id \(issued.token.id.uuidString.lowercased())). Secret, shown only now:")
                        print(issued.secret)
                    }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Join tokens, live and revoked.")
            @OptionGroup var options: ClientOptions
            func run() async throws {
                try await runClient {
                    let list = try await options.client().send(.GET, "/admin/join-tokens", as: ItemList<JoinToken>.self)
                    try options.print(
                        list, headers: ["ID", "NAME", "STATE", "CREATED BY", "CREATED"],
                        rows: list.items.map {
                            [
                                $0.id.uuidString.lowercased(), $0.name, $0.revokedAt.map { "revoked \($0.shortText)" } ?? "live", $0.createdBy,
                                $0.createdAt.shortText,
                            ]
                        })
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke a join token: no new node can register with it (nodes already registered keep running).")
            @Argument(help: "The token's id (or the start of it), or the name of one live token.") var token: String
            @OptionGroup var options: ClientOptions
            func run() async throws {
                try await runClient {
                    let client = try options.client()
                    let tokens = try await client.send(.GET, "/admin/join-tokens", as: ItemList<JoinToken>.self).items
                    let chosen = try NodeCommand.Token.pick(token, among: tokens)
                    if chosen.revokedAt != nil {
                        print("Join token \(chosen.name) (\(chosen.id.uuidString.lowercased())) was already revoked.")
                        return
                    }
                    try await client.sendIgnoringResponse(.DELETE, "/admin/join-tokens/\(chosen.id.uuidString.lowercased())")
                    print("Revoked join token \(chosen.name) (\(chosen.id.uuidString.lowercased())).")
                }
            }
        }

        /// The token `text` names: an id or a unique start of one (at least 4 characters), else the one live token
        /// of that name. - Throws: a message saying what matched, when nothing or several did.
        static func pick(_ text: String, among tokens: [JoinToken]) throws -> JoinToken {
            let wanted = text.lowercased()
            if let exact = tokens.first(where: { $0.id.uuidString.lowercased() == wanted }) { return exact }
            let named = tokens.filter { $0.name == text && $0.revokedAt == nil }
            if named.count == 1 { return named[0] }
            if named.count > 1 {
                throw CLIError(
                    "\(named.count) live join tokens are named '\(text)' (\(named.map { $0.id.uuidString.lowercased() }.joined(separator: ", "))); "
                        + "revoke one by its id")
            }
            let prefixed = wanted.count >= 4 ? tokens.filter { $0.id.uuidString.lowercased().hasPrefix(wanted) } : []
            if prefixed.count == 1 { return prefixed[0] }
            if prefixed.count > 1 { throw CLIError("several join tokens have ids starting with '\(text)'; give more of the id") }
            if tokens.contains(where: { $0.name == text }) {
                throw CLIError("the join token named '\(text)' is already revoked")
            }
            throw CLIError("no join token has the id or name '\(text)' (slipway node token list shows them)")
        }
    }
}
