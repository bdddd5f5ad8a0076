import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway login`: saves the server URL and an API token for later commands.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in to a Slipway server and save the URL and an API token (~/.config/slipway/config.json, mode 0600).",
        discussion:
            "Give an existing token with --token, or a username: the password is asked for (or read with --password-stdin) and exchanged for a new token."
    )

    @Option(help: "The server, e.g. http://127.0.0.1:8080.")
    var url: String

    @Option(help: "An existing API token.")
    var token: String?

    @Option(help: "Sign in with this username instead of a token.")
    var username: String?

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    @Option(help: "Name of the token created for this machine.")
    var tokenName: String?

    func validate() throws {
        if (token == nil) == (username == nil) { throw ValidationError("give exactly one of --token or --username") }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw ValidationError("--url must start with http:// or https://") }
    }

    func run() async throws {
        try await runClient {
            let secret: String
            if let token {
                secret = token
            } else {
                let password = try readPassword(fromStdin: passwordStdin, prompt: "Password for \(username!): ")
                let host = ProcessInfo.processInfo.hostName.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" }
                let name = tokenName ?? "cli-\(host.prefix(30))-\(Int(Date().timeIntervalSince1970))"
                let issued = try await SlipwayAPIClient(baseURL: url, token: nil).send(
                    .POST, "/auth/token", body: PasswordTokenRequest(username: username!, password: password, name: name),
                    as: IssuedAPIToken.self)
                secret = issued.secret
            }
            let me = try await SlipwayAPIClient(baseURL: url, token: secret).send(.GET, "/me", as: User.self)
            try ClientConfiguration(url: url, token: secret).save()
            print("Logged in to \(url) as \(me.username). Saved to \(ClientConfiguration.file.path).")
        }
    }
}

/// `slipway logout`: forgets the saved URL and token.
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Forget the saved server URL and token.")

    func run() async throws {
        try? FileManager.default.removeItem(at: ClientConfiguration.file)
        print("Logged out.")
    }
}

/// `slipway whoami`: the user the saved token acts as.
struct WhoAmICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the signed-in user.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let user = try await options.client().send(.GET, "/me", as: User.self)
            try options.print(
                user, headers: ["USERNAME", "NAME", "ADMIN"], rows: [[user.username.value, user.displayName, user.isAdmin ? "yes" : "no"]])
        }
    }
}
