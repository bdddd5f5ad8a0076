import Foundation
import SlipwayServing
import Testing

/// The gateway's data path against real Python workers: concurrent requests are batched into fewer model calls and
/// each gets its own rows back; the queue is bounded (503 with a retry delay), requests time out (504), unknown
/// models and versions are 404, and a worker killed under load fails only what it had in flight.
@Suite("Gateway", .serialized, .enabled(if: WorkerConnectionTests.python != nil, "needs a Python with numpy (the test virtualenv)"))
struct GatewayTests {
    /// A worker process serving a custom model that doubles `x` (and waits `delay` seconds per call).
    final class Worker: @unchecked Sendable {
        let process = Process()
        let folder: URL
        let address: String

        init(delay: Double = 0) throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(
                """
                import time
                import numpy as np

                class Model:
                    inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]
                    outputs = [{"name": "doubled", "datatype": "FP32", "shape": [-1, 2]}, {"name": "rows", "datatype": "INT64", "shape": [-1]}]

                    def predict(self, batch):
                        with open(\(String(reflecting: folder.appendingPathComponent("calls").path)), "a") as calls:
                            calls.write("call\\n")
                        time.sleep(\(delay))
                        x = batch["x"]
                        return {"doubled": (x * 2).astype(np.float32), "rows": np.full(len(x), len(x), dtype=np.int64)}
                """.utf8
            ).write(to: folder.appendingPathComponent("model.py"))
            process.executableURL = URL(fileURLWithPath: try #require(WorkerConnectionTests.python))
            process.arguments = ["-m", "slipway_worker", "--model", folder.path, "--listen", "tcp:127.0.0.1:0"]
            process.environment = ProcessInfo.processInfo.environment.merging([
                "PYTHONPATH": WorkerConnectionTests.repository.appendingPathComponent("runtime").path
            ]) { $1 }
            let announced = Pipe()
            process.standardOutput = announced
            process.standardError = FileHandle.nullDevice
            try process.run()
            let line = String(decoding: announced.fileHandleForReading.availableData, as: UTF8.self)
            let ready = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            address = try #require(ready["address"] as? String)
        }

        /// How many model calls this worker has started.
        var callsStarted: Int {
            let text = (try? String(contentsOf: folder.appendingPathComponent("calls"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").count
        }

        func kill() {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        deinit {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(at: folder)
        }
    }

    static func route(
        _ workers: [Worker], version: Int = 1, maxBatch: Int = 64, delay: Duration = .zero, timeout: Duration = .seconds(10), maxQueue: Int = 256
    ) -> DeploymentRoute {
        DeploymentRoute(
            id: UUID(), name: "doubler",
            versions: [
                VersionRoute(
                    model: "doubler", version: version, weight: 100, maxBatchSize: maxBatch, maxQueueDelay: delay, timeout: timeout,
                    maxQueue: maxQueue, endpoints: workers.map { ReplicaEndpoint(id: UUID(), address: $0.address) })
            ])
    }

    static func input(_ value: Float) -> Tensor {
        var raw = Data()
        for item in [value, value + 1] { withUnsafeBytes(of: item.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        return Tensor(name: "x", datatype: .fp32, shape: [1, 2], raw: raw)
    }

    static func floats(_ tensor: Tensor) -> [Float] {
        tensor.raw.withUnsafeBytes { buffer in
            stride(from: 0, to: buffer.count, by: 4).map { Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: $0, as: UInt32.self))) }
        }
    }

    /// Waits until the gateway knows the model's metadata (its first connection is up).
    /// Sends `count` requests at once, in the background: their statuses (200 for an answer), sorted.
    static func send(_ count: Int, to gateway: InferenceGateway) -> Task<[Int], Never> {
        Task {
            await withTaskGroup(of: Int.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        do {
                            _ = try await gateway.infer(deployment: "doubler", version: nil, inputs: [Self.input(1)], outputs: [], timeout: nil)
                            return 200
                        } catch let error as GatewayError {
                            return error.status
                        } catch {
                            return -1
                        }
                    }
                }
                return await group.reduce(into: [Int]()) { $0.append($1) }.sorted()
            }
        }
    }

    static func warm(_ gateway: InferenceGateway) async throws {
        _ = try await gateway.metadata(deployment: "doubler", version: nil)
    }

    @Test func concurrentRequestsShareModelCallsAndEachGetsItsOwnRows() async throws {
        let worker = try Worker(delay: 0.02)
        let metrics = GatewayMetrics()
        let gateway = InferenceGateway(metrics: metrics)
        gateway.update([Self.route([worker], maxBatch: 16)])
        try await Self.warm(gateway)
        let answers = try await withThrowingTaskGroup(of: (Float, [Tensor]).self) { group in
            for index in 0..<48 {
                group.addTask {
                    (Float(index), try await gateway.infer(deployment: "doubler", version: nil, inputs: [Self.input(Float(index))], outputs: [], timeout: nil).outputs)
                }
            }
            return try await group.reduce(into: [(Float, [Tensor])]()) { $0.append($1) }
        }
        #expect(answers.count == 48)
        var batched = 0
        for (value, outputs) in answers {
            let doubled = try #require(outputs.first { $0.name == "doubled" })
            #expect(doubled.shape == [1, 2])
            #expect(Self.floats(doubled) == [value * 2, (value + 1) * 2], "request \(value) got its own row back")
            let rows = try #require(outputs.first { $0.name == "rows" })
            let size = rows.raw.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
            #expect(size <= 16, "no batch is larger than the limit")
            if size > 1 { batched += 1 }
        }
        #expect(batched > 24, "most requests rode in a batch: \(batched) of 48")
        let exposition = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(exposition.contains(#"slipway_inference_batch_size_rows_sum{deployment="doubler",version="1"} 48"#))
    }

    @Test func aFullQueueIsRefusedWithRetryAfterAndSlowAnswersTimeOut() async throws {
        // Each call takes 2 s and the worker takes one at a time: the first two answers come at 2 s and 4 s, the queued
        // ones would come at 6 s and 8 s, past the 5 s limit.
        let worker = try Worker(delay: 2)
        let gateway = InferenceGateway(metrics: GatewayMetrics())
        gateway.update([Self.route([worker], maxBatch: 1, timeout: .seconds(5), maxQueue: 2)])
        try await Self.warm(gateway)
        // Two calls go to the worker, two wait in the queue; the fifth finds the queue full.
        let outcomes = await withTaskGroup(of: Int.self) { group in
            for index in 0..<5 {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(50 * index))
                    do {
                        _ = try await gateway.infer(deployment: "doubler", version: nil, inputs: [Self.input(1)], outputs: [], timeout: nil)
                        return 200
                    } catch let error as GatewayError {
                        if error.status == 503 { #expect(error.retryAfter != nil) }
                        return error.status
                    } catch {
                        return -1
                    }
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }.sorted()
        }
        #expect(outcomes.filter { $0 == 503 }.count == 1, "\(outcomes)")
        #expect(outcomes.filter { $0 == 200 }.count == 2, "the two sent first are answered: \(outcomes)")
        #expect(outcomes.filter { $0 == 504 }.count == 2, "the two queued behind them run out of time: \(outcomes)")
    }

    @Test func unknownModelsAndVersionsAre404AndAVersionWithoutReplicasIs503() async throws {
        let gateway = InferenceGateway(metrics: GatewayMetrics())
        gateway.update([Self.route([], timeout: .milliseconds(200))])
        await #expect(throws: GatewayError(status: 404, "model 'nope' is not deployed")) {
            try await gateway.infer(deployment: "nope", version: nil, inputs: [Self.input(1)], outputs: [], timeout: nil)
        }
        do {
            _ = try await gateway.infer(deployment: "doubler", version: 7, inputs: [Self.input(1)], outputs: [], timeout: nil)
            Issue.record("an unknown version was served")
        } catch let error as GatewayError {
            #expect(error.status == 404 && error.message.contains("version 7"))
        }
        do {
            _ = try await gateway.infer(deployment: "doubler", version: nil, inputs: [Self.input(1)], outputs: [], timeout: nil)
            Issue.record("a version with no replica answered")
        } catch let error as GatewayError {
            #expect(error.status == 503 && error.retryAfter != nil, "\(error)")
        }
        #expect(!gateway.isReady(deployment: "doubler", version: nil))
    }

    @Test func requestsQueuedForADroppedVersionFailAndLeaveNothingCountedInFlight() async throws {
        let worker = try Worker(delay: 0.5)
        let metrics = GatewayMetrics()
        let gateway = InferenceGateway(metrics: metrics)
        gateway.update([Self.route([worker], maxBatch: 1, timeout: .seconds(20))])
        try await Self.warm(gateway)
        let outcomes = Self.send(5, to: gateway)
        let deadline = ContinuousClock.now + .seconds(20)
        while worker.callsStarted == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        gateway.update([])
        let results = await outcomes.value
        #expect(results.contains(404), "the queued requests are told the version is gone: \(results)")
        let exposition = String(decoding: metrics.exposition(), as: UTF8.self)
        let inFlight = exposition.split(separator: "\n").filter { $0.hasPrefix("slipway_inference_in_flight") }
        #expect(!inFlight.isEmpty && inFlight.allSatisfy { $0.hasSuffix(" 0") || $0.hasSuffix(" 0.0") }, "\(inFlight)")
    }

    @Test func aKilledWorkerFailsOnlyItsInFlightRequestsAndTheQueueMovesToItsReplacement() async throws {
        let first = try Worker(delay: 0.3)
        let gateway = InferenceGateway(metrics: GatewayMetrics())
        var route = Self.route([first], maxBatch: 1, timeout: .seconds(20))
        gateway.update([route])
        try await Self.warm(gateway)
        let outcomes = Self.send(6, to: gateway)
        // Kill the worker in the middle of a call, however slowly this machine starts the requests.
        let warmCalls = first.callsStarted
        let deadline = ContinuousClock.now + .seconds(20)
        while first.callsStarted == warmCalls, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        first.kill()
        // The agent restarts the worker; its new address reaches the gateway with the next route refresh.
        let second = try Worker(delay: 0.3)
        route.versions[0].endpoints = [ReplicaEndpoint(id: UUID(), address: second.address)]
        gateway.update([route])
        let results = await outcomes.value
        // The worker holds at most two calls (the one it runs and the one sent behind it); only those fail.
        let failed = results.filter { $0 == 502 }.count
        #expect((1...2).contains(failed), "the calls at the killed worker fail: \(results)")
        #expect(results.filter { $0 == 200 }.count == 6 - failed, "the queued ones are answered by the replacement: \(results)")
    }
}
