import ArgumentParser
import Foundation

/// The `slipway` command: the server, and the client commands that talk to it.
@main
struct Slipway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway",
        abstract: "Slipway: an on-premise, multi-tenant machine-learning platform.",
        subcommands: [
            ServeCommand.self, LoginCommand.self, LogoutCommand.self, WhoAmICommand.self,
            NamespaceCommand.self, ProjectCommand.self, DatasetCommand.self, TokenCommand.self, UserCommand.self,
            JobCommand.self, NodeCommand.self, AgentCommand.self, SimulateCommand.self, DeployCommand.self, PredictCommand.self,
        ]
    )
}
