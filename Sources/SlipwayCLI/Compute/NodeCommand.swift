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

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "token", abstract: "Create a join token for `slipway agent --token` (administrators).")
        @Argument var name: String
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
}
