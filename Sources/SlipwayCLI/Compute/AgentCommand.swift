import ArgumentParser
import Foundation
import Logging
import SlipwayAgent
import SlipwayClient
import SlipwayDomain

/// `slipway agent`: makes this machine a compute node of a Slipway server.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Run jobs on this machine for a Slipway server.",
        discussion: """
            Registers the machine (its CPUs, memory and the GPUs nvidia-smi lists) with a join token from
            `slipway node token create NAME`, then heartbeats and runs the jobs the scheduler places here.
            """)

    @Option(help: "The server, e.g. http://10.0.0.5:8080.") var server: String
    @Option(help: "A join token (slwj_…); env SLIPWAY_JOIN_TOKEN.") var token: String?
    @Option(help: "The node's name (default: the host name).") var name: String?
    @Option(name: .customLong("label"), help: "key=value; repeat for more.") var labels: [String] = []
    @Option(help: "Where job folders and Python environments live (default ./slipway-agent).") var workDir: String = "slipway-agent"
    @Option(help: "Offer this many CPU cores instead of all of them.") var cpu: Double?
    @Option(help: "Offer this much memory instead of all of it (e.g. 8GiB).") var memory: String?
    @Option(help: "Where serving workers listen (default 0.0.0.0: reachable by the gateway on other machines).")
    var workerHost: String = "0.0.0.0"
    @Option(help: "The address gateways reach this node's workers at (default: this machine's address toward the server).")
    var advertiseAddress: String?

    func run() async throws {
        guard let joinToken = token ?? ProcessInfo.processInfo.environment["SLIPWAY_JOIN_TOKEN"] else {
            throw ValidationError("give a join token with --token or SLIPWAY_JOIN_TOKEN (an administrator makes one: slipway node token create NAME)")
        }
        var labelMap: [String: String] = [:]
        for label in labels {
            let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--label must be key=value, not '\(label)'") }
            labelMap[parts[0]] = parts[1]
        }
        var capacity = NodeProbe.capacity().resources
        if let cpu { capacity.cpu = cpu }
        if let memory {
            guard let bytes = parseBytes(memory) else { throw ValidationError("--memory must look like 8GiB") }
            capacity.memoryBytes = bytes
        }
        var logger = Logger(label: "slipway-agent")
        logger.logLevel = .info
        let nodeName = name ?? ProcessInfo.processInfo.hostName
        let credentials: AgentCredentials
        do {
            credentials = try await Agent.register(server: server, joinToken: joinToken, name: nodeName, labels: labelMap, capacity: capacity)
        } catch let error as APIClientError {
            FileHandle.standardError.write(Data("slipway agent: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print("Registered node \(nodeName) (\(capacity.cpu) CPUs, \(capacity.memoryBytes >> 20) MiB, \(capacity.gpu) GPUs) with \(server).")
        let advertised = advertiseAddress ?? URL(string: server).flatMap { url in
            url.host.flatMap { NodeProbe.localAddress(toward: $0, port: url.port ?? 80) }
        } ?? "127.0.0.1"
        let environment = ProcessInfo.processInfo.environment
        var serving = ServingSettings(
            bindHost: workerHost, advertiseHost: advertised,
            environmentCache: environment["SLIPWAY_ENV_CACHE_DIR"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) })
        if let interval = environment["SLIPWAY_WORKER_HEALTH_INTERVAL"].flatMap(Double.init), interval >= 0.1 {
            serving.healthInterval = .milliseconds(Int64(interval * 1000))
        }
        if let timeout = environment["SLIPWAY_WORKER_HEALTH_TIMEOUT"].flatMap(Double.init), timeout >= 0.1 {
            serving.healthTimeout = .milliseconds(Int64(timeout * 1000))
        }
        print("Serving workers listen on \(workerHost) and are reached at \(advertised).")
        let agent = Agent(
            client: SlipwayAPIClient(baseURL: server, token: credentials.agentToken),
            workDirectory: URL(fileURLWithPath: workDir).standardizedFileURL, heartbeatSeconds: credentials.heartbeatSeconds, logger: logger,
            serving: serving)
        let task = Task { await agent.run() }
        // SIGINT and SIGTERM stop the agent and the jobs it runs.
        let sources = [SIGINT, SIGTERM].map { signal in
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal)
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        await task.value
        withExtendedLifetime(sources) {}
    }
}
