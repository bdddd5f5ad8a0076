import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway token …`: your API tokens.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage your API tokens.", subcommands: [List.self, Create.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your tokens.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let list = try await options.client().send(.GET, "/tokens", as: ItemList<APIToken>.self)
                try options.print(
                    list.items, headers: ["ID", "NAME", "PREFIX", "CREATED", "EXPIRES", "STATE"],
                    rows: list.items.map { token in
                        [
                            token.id.uuidString.lowercased(), token.name.value, token.prefix + "…", token.createdAt.shortText,
                            token.expiresAt?.shortText ?? "never",
                            token.revokedAt != nil ? "revoked" : (token.isUsable(at: Date()) ? "active" : "expired"),
                        ]
                    })
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token. Its secret is printed once.")
        @Argument var name: String
        @Option(help: "Days until it expires (default: never).") var expiresInDays: Int?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let issued = try await options.client().send(
                    .POST, "/tokens", body: CreateTokenRequest(name: name, expiresInDays: expiresInDays), as: IssuedAPIToken.self)
                if options.output == .json {
                    try options.print(issued, headers: [], rows: [])
                } else {
                    print("Created token \(issued.token.name) (id \(issued.token.id.uuidString.lowercased())).")
                    print("Secret (shown only now): \(issued.secret)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by id.")
        @Argument var id: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let token = try await options.client().send(.DELETE, "/tokens/\(SlipwayAPIClient.segment(id))", as: APIToken.self)
                print("Revoked token \(token.name).")
            }
        }
    }
}
