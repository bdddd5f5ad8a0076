import Foundation
import Logging
import ServiceLifecycle
import SlipwayAgent
import SlipwayClient
import SlipwayDomain
import SlipwayStore

/// The port the server ended up listening on, for services that call the server itself.
actor ListeningPort {
    private var port: Int?
    private var waiting: [CheckedContinuation<Int, Never>] = []

    func set(_ port: Int) {
        self.port = port
        for continuation in waiting { continuation.resume(returning: port) }
        waiting = []
    }

    func value() async -> Int {
        if let port { return port }
        return await withCheckedContinuation { waiting.append($0) }
    }
}

/// The agent `slipway serve` embeds, so one machine is a complete platform: it registers this machine as a
/// node straight in the store (no join token needed in-process) and then talks to the server over loopback
/// HTTP like any other agent.
struct EmbeddedAgentService: Service {
    let platform: Platform
    let port: ListeningPort
    let logger: Logger

    func run() async throws {
        let port = await port.value()
        let secret = "slwa_" + SecretGenerator.hex(bytes: 32)
        let probe = NodeProbe.capacity()
        let name = Self.nodeName()
        _ = try await platform.store.compute.register(
            ComputeNode(
                id: UUID(), name: name, capacity: probe.resources, gpus: probe.gpus, labels: ["slipway.embedded": "true"], state: .ready,
                usage: .zero, registeredAt: platform.now(), lastHeartbeatAt: platform.now()),
            agentTokenHash: SecretGenerator.digest(secret), at: platform.now())
        let host = platform.configuration.host == "::1" ? "[::1]" : "127.0.0.1"
        let configuration = platform.configuration
        var servingSettings = ServingSettings(
            bindHost: configuration.workerHost, advertiseHost: configuration.workerHost == "0.0.0.0" ? "127.0.0.1" : configuration.workerHost,
            environmentCache: configuration.environmentCache)
        servingSettings.healthInterval = .milliseconds(Int64(configuration.workerHealthInterval * 1000))
        servingSettings.healthTimeout = .milliseconds(Int64(configuration.workerHealthTimeout * 1000))
        let agent = Agent(
            client: SlipwayAPIClient(baseURL: "http://\(host):\(port)", token: secret),
            workDirectory: platform.configuration.dataDirectory.appendingPathComponent("agent"),
            heartbeatSeconds: platform.configuration.heartbeatSeconds, logger: logger,
            serving: servingSettings)
        logger.info(
            "embedded agent registered node \(name): \(probe.resources.cpu) CPUs, \(probe.resources.memoryBytes >> 20) MiB, \(probe.gpus.count) GPUs")
        let task = Task { await agent.run() }
        await withGracefulShutdownHandler {
            await task.value
        } onGracefulShutdown: {
            task.cancel()
        }
    }

    /// This machine's name, as a node name (letters, digits, '.', '_', '-').
    static func nodeName() -> String {
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" }
        return String((host.isEmpty ? "local" : host).prefix(63))
    }
}
