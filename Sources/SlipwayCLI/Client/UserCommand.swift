import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway user …`: accounts (administrators).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage user accounts (administrators).", subcommands: [List.self, Create.self, Show.self, Update.self])

    static func rows(_ users: [User]) -> [[String]] {
        users.map { [$0.username.value, $0.displayName, $0.email ?? "", $0.isAdmin ? "yes" : "no", $0.isDisabled ? "disabled" : "active"] }
    }
    static let headers = ["USERNAME", "NAME", "EMAIL", "ADMIN", "STATE"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let list = try await options.client().send(.GET, "/users", as: ItemList<User>.self)
                try options.print(list.items, headers: UserCommand.headers, rows: UserCommand.rows(list.items))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user; the password is asked for, or read with --password-stdin.")
        @Argument var username: String
        @Option var displayName: String?
        @Option var email: String?
        @Flag(help: "Make the user an administrator.") var admin = false
        @Flag(help: "Read the password from standard input.") var passwordStdin = false
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let password = try readPassword(fromStdin: passwordStdin, prompt: "Password for \(username): ")
                let user = try await options.client().send(
                    .POST, "/users",
                    body: CreateUserRequest(username: username, password: password, displayName: displayName, email: email, isAdmin: admin),
                    as: User.self)
                try options.print(user, headers: UserCommand.headers, rows: UserCommand.rows([user]))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user.")
        @Argument var username: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let user = try await options.client().send(.GET, "/users/\(SlipwayAPIClient.segment(username))", as: User.self)
                try options.print(user, headers: UserCommand.headers, rows: UserCommand.rows([user]))
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a user: --disable/--enable, --admin/--no-admin, --password-stdin, --email, --display-name.")
        @Argument var username: String
        @Option var displayName: String?
        @Option var email: String?
        @Flag(inversion: .prefixedNo, help: "Grant or remove administrator rights.") var admin: Bool?
        @Flag(help: "Disable the account (it can no longer sign in or use tokens).") var disable = false
        @Flag(help: "Enable a disabled account.") var enable = false
        @Flag(help: "Set a new password read from standard input.") var passwordStdin = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            if disable && enable { throw ValidationError("give only one of --disable and --enable") }
        }

        func run() async throws {
            try await runClient {
                let password = passwordStdin ? try readPassword(fromStdin: true, prompt: "") : nil
                let change = UpdateUserRequest(
                    displayName: displayName, email: email, password: password, isAdmin: admin,
                    isDisabled: disable ? true : (enable ? false : nil))
                let user = try await options.client().send(.PATCH, "/users/\(SlipwayAPIClient.segment(username))", body: change, as: User.self)
                try options.print(user, headers: UserCommand.headers, rows: UserCommand.rows([user]))
            }
        }
    }
}
