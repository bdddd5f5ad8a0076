import Foundation
import NIOCore
import Prometheus
import Synchronization

/// One model version's queue in the gateway: requests wait here (at most `maxQueue`; more get 503), are formed into
/// batches by ``BatchFormation`` and sent to the least-loaded ready replica, at most ``maxInFlightPerReplica``
/// calls at a time per replica, so a busy model lets the queue grow and the next batch fill by itself.
///
/// A request ends exactly once: answered, failed by its worker, or timed out (504; 503 when no replica was ever
/// ready). A replica whose connection drops fails only the calls it had in flight; waiting requests go to the
/// others, or wait for it to come back.
final class ModelVersionQueue: Sendable {
    /// Calls in flight per replica: the second waits at the worker while the first runs, hiding the round trip.
    static let maxInFlightPerReplica = 2

    let deployment: String
    let series: GatewayMetrics.VersionSeries
    let group: any EventLoopGroup
    private let state: Mutex<State>

    typealias Answer = Result<[Tensor], any Error>

    struct Pending {
        var id: Int
        var inputs: [Tensor]
        var outputs: [String]
        var signature: BatchSignature?
        var rows: Int
        var enqueued: ContinuousClock.Instant
    }

    struct Slot {
        var endpoint: ReplicaEndpoint
        var connection: WorkerConnection?
        var connecting = false
        var inFlight = 0
        /// Consecutive failed connection attempts, for backoff.
        var failures = 0
        var retryAt: ContinuousClock.Instant?
    }

    struct State {
        var route: VersionRoute
        var pending: [Pending] = []
        var waiting: [Int: CheckedContinuation<[Tensor], any Error>] = [:]
        var timers: [Int: Task<Void, Never>] = [:]
        var slots: [UUID: Slot] = [:]
        var metadata: WorkerMetadata?
        var metadataWaiters: [Int: CheckedContinuation<WorkerMetadata, any Error>] = [:]
        var nextID = 0
        var timerArmed = false
        var closed = false
        var rotation = 0
        // Load, for autoscaling: the time integral of requests in flight or queued, since the last reading.
        var active = 0
        var activeIntegral: Double = 0
        var lastChange = ContinuousClock.now
        var readingStarted = ContinuousClock.now
        var answered = 0

        mutating func changeActive(by delta: Int, at now: ContinuousClock.Instant) {
            activeIntegral += Double(active) * (now - lastChange).seconds
            lastChange = now
            active += delta
        }
    }

    init(deployment: String, route: VersionRoute, series: GatewayMetrics.VersionSeries, group: any EventLoopGroup) {
        self.deployment = deployment
        self.series = series
        self.group = group
        var state = State(route: route)
        for endpoint in route.endpoints { state.slots[endpoint.id] = Slot(endpoint: endpoint) }
        self.state = Mutex(state)
        series.readyReplicas.set(Double(route.endpoints.count))
        connectMissing()
    }

    var route: VersionRoute { state.withLock { $0.route } }
    var active: Int { state.withLock { $0.active } }

    /// New limits and replicas: new replicas are connected, gone ones closed once their calls end.
    func update(_ route: VersionRoute) {
        var dropped: [WorkerConnection] = []
        state.withLock { state in
            state.route = route
            let wanted = Dictionary(route.endpoints.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            for (id, slot) in state.slots {
                if let endpoint = wanted[id], endpoint.address == slot.endpoint.address { continue }
                if let connection = slot.connection { dropped.append(connection) }
                state.slots[id] = nil
            }
            for endpoint in route.endpoints where state.slots[endpoint.id] == nil { state.slots[endpoint.id] = Slot(endpoint: endpoint) }
        }
        series.readyReplicas.set(Double(route.endpoints.count))
        for connection in dropped { Task { await connection.close() } }
        connectMissing()
        pump()
    }

    /// Fails everything waiting: the version is no longer served.
    func close() {
        let (waiting, connections, describers) = state.withLock {
            state -> ([CheckedContinuation<[Tensor], any Error>], [WorkerConnection], [CheckedContinuation<WorkerMetadata, any Error>]) in
            state.closed = true
            let waiting = Array(state.waiting.values)
            let describers = Array(state.metadataWaiters.values)
            state.metadataWaiters = [:]
            state.waiting = [:]
            state.pending = []
            for timer in state.timers.values { timer.cancel() }
            state.timers = [:]
            let connections = state.slots.values.compactMap(\.connection)
            state.slots = [:]
            return (waiting, connections, describers)
        }
        for describer in describers {
            describer.resume(throwing: GatewayError(status: 404, "model '\(deployment)' is no longer served by this version"))
        }
        for continuation in waiting {
            // Each waiting request was counted in flight when it arrived: a re-created version would inherit the count.
            series.inFlight.decrement()
            continuation.resume(throwing: GatewayError(status: 404, "model '\(deployment)' is no longer served by this version"))
        }
        for connection in connections { Task { await connection.close() } }
    }

    /// Each call's average concurrency and the requests answered since the last reading.
    func takeLoad() -> (concurrency: Double, requests: Int) {
        state.withLock { state in
            let now = ContinuousClock.now
            state.changeActive(by: 0, at: now)
            let elapsed = max(0.001, (now - state.readingStarted).seconds)
            let reading = (state.activeIntegral / elapsed, state.answered)
            state.activeIntegral = 0
            state.answered = 0
            state.readingStarted = now
            return reading
        }
    }

    // MARK: - Requests

    /// Queues a request and waits for its answer. - Throws: ``GatewayError`` or the worker's ``WorkerError``.
    func submit(_ inputs: [Tensor], outputs: [String], timeout requested: Duration?) async throws -> [Tensor] {
        let shape = BatchSignature.of(inputs, outputs: outputs)
        let arrived = ContinuousClock.now
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[Tensor], any Error>) in
            let refusal: GatewayError? = state.withLock { state in
                guard !state.closed else { return GatewayError(status: 404, "model '\(deployment)' is no longer served by this version") }
                guard state.pending.count < state.route.maxQueue else {
                    return GatewayError(
                        status: 503, "model '\(deployment)' version \(state.route.version) has \(state.pending.count) requests waiting, its limit; try again shortly",
                        retryAfter: 1)
                }
                state.nextID += 1
                let id = state.nextID
                state.pending.append(
                    Pending(id: id, inputs: inputs, outputs: outputs, signature: shape?.signature, rows: shape?.rows ?? 1, enqueued: arrived))
                state.waiting[id] = continuation
                state.changeActive(by: 1, at: arrived)
                let limit = min(requested ?? state.route.timeout, state.route.timeout)
                state.timers[id] = Task { [weak self] in
                    try? await Task.sleep(for: limit)
                    if !Task.isCancelled { self?.expire(id, after: limit) }
                }
                return nil
            }
            if let refusal {
                continuation.resume(throwing: refusal)
                return
            }
            series.inFlight.increment()
            pump()
        }
    }

    /// Ends a request that ran out of time: 504, or 503 when the version had no replica to send it to.
    private func expire(_ id: Int, after limit: Duration) {
        let (continuation, noReplica) = state.withLock { state -> (CheckedContinuation<[Tensor], any Error>?, Bool) in
            state.pending.removeAll { $0.id == id }
            state.timers[id] = nil
            guard let continuation = state.waiting.removeValue(forKey: id) else { return (nil, false) }
            state.changeActive(by: -1, at: .now)
            return (continuation, state.slots.values.allSatisfy { $0.connection == nil })
        }
        guard let continuation else { return }
        series.inFlight.decrement()
        if noReplica {
            continuation.resume(
                throwing: GatewayError(
                    status: 503, "no replica of model '\(deployment)' is ready to serve; try again shortly", retryAfter: 2))
        } else {
            continuation.resume(throwing: GatewayError(status: 504, "model '\(deployment)' did not answer within \(limit)"))
        }
    }

    /// Resumes a request once: with its outputs or its error.
    private func finish(_ id: Int, _ answer: Answer) {
        let (continuation, timer) = state.withLock { state -> (CheckedContinuation<[Tensor], any Error>?, Task<Void, Never>?) in
            let continuation = state.waiting.removeValue(forKey: id)
            if continuation != nil {
                state.changeActive(by: -1, at: .now)
                state.answered += 1
            }
            return (continuation, state.timers.removeValue(forKey: id))
        }
        timer?.cancel()
        guard let continuation else { return }
        series.inFlight.decrement()
        continuation.resume(with: answer)
    }

    // MARK: - Dispatch

    struct Call {
        var slot: UUID
        var connection: WorkerConnection
        var requests: [Pending]
        var batchable: Bool
    }

    /// Sends every batch that can go now; arms a timer when the next one should wait for more requests.
    func pump() {
        var calls: [Call] = []
        var wake: Duration?
        state.withLock { state in
            let now = ContinuousClock.now
            let batchable = state.metadata.map(Self.batchable) ?? false
            while !state.pending.isEmpty {
                // The least-loaded replica with room, rotating among equals.
                let ready = state.slots.filter { $0.value.connection != nil && $0.value.inFlight < Self.maxInFlightPerReplica }
                guard !ready.isEmpty else { break }
                let least = ready.values.map(\.inFlight).min()!
                let candidates = ready.keys.filter { ready[$0]!.inFlight == least }.sorted { $0.uuidString < $1.uuidString }
                state.rotation &+= 1
                let chosen = candidates[state.rotation % candidates.count]
                let waiting = state.pending.map {
                    BatchFormation.Waiting(signature: $0.signature, rows: $0.rows, waited: (now - $0.enqueued).seconds)
                }
                let decision = BatchFormation.decide(
                    waiting, maxBatchSize: state.route.maxBatchSize, maxDelay: state.route.maxQueueDelay.seconds,
                    // With a call already out, a free replica does not wait: its batch fills while the other works.
                    batchable: batchable)
                switch decision {
                case .send(let indices):
                    let taken = Set(indices)
                    let requests = indices.map { state.pending[$0] }
                    state.pending = state.pending.enumerated().filter { !taken.contains($0.offset) }.map(\.element)
                    state.slots[chosen]!.inFlight += 1
                    calls.append(Call(slot: chosen, connection: state.slots[chosen]!.connection!, requests: requests, batchable: batchable))
                case .wait(let seconds):
                    wake = .seconds(seconds)
                case .nothing:
                    break
                }
                if case .send = decision { continue }
                break
            }
            if wake != nil {
                if state.timerArmed { wake = nil } else { state.timerArmed = true }
            }
        }
        if let wake {
            Task { [weak self] in
                try? await Task.sleep(for: wake)
                self?.state.withLock { $0.timerArmed = false }
                self?.pump()
            }
        }
        for call in calls {
            Task { await self.run(call) }
        }
    }

    /// Whether the model takes a batch dimension: every declared input and output has `-1` first.
    static func batchable(_ metadata: WorkerMetadata) -> Bool {
        !metadata.inputs.isEmpty && metadata.inputs.allSatisfy { $0.shape.first == -1 }
            && metadata.outputs.allSatisfy { $0.shape.first == -1 }
    }

    /// Sends one call, and answers its requests.
    private func run(_ call: Call) async {
        let now = ContinuousClock.now
        defer { series.workerCall.record(ContinuousClock.now - now) }
        for request in call.requests { series.queued.record(now - request.enqueued) }
        let rows = call.requests.reduce(0) { $0 + $1.rows }
        series.sentBatch(rows: rows, requests: call.requests.count)
        do {
            if call.requests.count == 1 {
                let request = call.requests[0]
                let outputs = try await call.connection.infer(request.inputs, outputs: request.outputs)
                finish(request.id, .success(outputs))
            } else {
                let stacked = TensorBatch.stack(call.requests.map(\.inputs))
                do {
                    let outputs = try await call.connection.infer(stacked, outputs: call.requests[0].outputs)
                    let answers = try TensorBatch.split(outputs, rows: call.requests.map(\.rows))
                    for (request, answer) in zip(call.requests, answers) { finish(request.id, .success(answer)) }
                } catch let error as WorkerError where error.status != 502 {
                    // One request may have spoilt the batch: run them one by one, so each gets its own answer.
                    for request in call.requests {
                        do {
                            finish(request.id, .success(try await call.connection.infer(request.inputs, outputs: request.outputs)))
                        } catch {
                            finish(request.id, .failure(error))
                        }
                    }
                } catch let error as InferenceRequestError {
                    for request in call.requests { finish(request.id, .failure(WorkerError(status: 500, error.message))) }
                }
            }
            callEnded(call.slot, connectionLost: false)
        } catch let error as WorkerError where error.status == 502 && !error.delivered {
            // The connection was gone before the call left: the requests wait again for a replica that answers.
            requeue(call.requests)
            callEnded(call.slot, connectionLost: true)
        } catch let error as WorkerError where error.status == 502 {
            for request in call.requests {
                finish(
                    request.id,
                    .failure(GatewayError(status: 502, "the replica serving model '\(deployment)' failed during the request: \(error.message)")))
            }
            callEnded(call.slot, connectionLost: true)
        } catch {
            for request in call.requests { finish(request.id, .failure(error)) }
            callEnded(call.slot, connectionLost: false)
        }
    }

    /// Puts requests back at the front of the queue, oldest first, unless they have ended meanwhile.
    private func requeue(_ requests: [Pending]) {
        state.withLock { state in
            let waiting = requests.filter { state.waiting[$0.id] != nil }
            state.pending.insert(contentsOf: waiting, at: 0)
        }
    }

    private func callEnded(_ slot: UUID, connectionLost: Bool) {
        var lost: WorkerConnection?
        state.withLock { state in
            guard state.slots[slot] != nil else { return }
            state.slots[slot]!.inFlight -= 1
            if connectionLost, let connection = state.slots[slot]!.connection {
                lost = connection
                state.slots[slot]!.connection = nil
                state.slots[slot]!.failures += 1
                state.slots[slot]!.retryAt = .now + .milliseconds(100)
            }
        }
        if let lost { Task { await lost.close() } }
        if connectionLost { connectMissing() }
        pump()
    }

    // MARK: - Connections

    /// Opens connections to replicas that have none, with backoff after failures.
    private func connectMissing() {
        let due: [(UUID, ReplicaEndpoint, Duration)] = state.withLock { state in
            guard !state.closed else { return [] }
            var due: [(UUID, ReplicaEndpoint, Duration)] = []
            let now = ContinuousClock.now
            for (id, slot) in state.slots where slot.connection == nil && !slot.connecting {
                state.slots[id]!.connecting = true
                let wait = slot.retryAt.map { $0 > now ? $0 - now : .zero } ?? .zero
                due.append((id, slot.endpoint, wait))
            }
            return due
        }
        for (id, endpoint, wait) in due {
            Task { [weak self] in
                if wait > .zero { try? await Task.sleep(for: wait) }
                guard let self else { return }
                do {
                    let connection = try await WorkerConnection.connect(to: endpoint.address, group: self.group)
                    let keep = self.state.withLock { state -> Bool in
                        guard state.slots[id]?.endpoint == endpoint, !state.closed else { return false }
                        state.slots[id]!.connection = connection
                        state.slots[id]!.connecting = false
                        state.slots[id]!.failures = 0
                        return true
                    }
                    guard keep else {
                        await connection.close()
                        return
                    }
                    await self.loadMetadata(from: connection)
                    self.pump()
                } catch {
                    let retry = self.state.withLock { state -> Bool in
                        guard state.slots[id] != nil, !state.closed else { return false }
                        state.slots[id]!.connecting = false
                        state.slots[id]!.failures += 1
                        let backoff = min(5.0, 0.1 * Double(1 << min(6, state.slots[id]!.failures)))
                        state.slots[id]!.retryAt = .now + .seconds(backoff)
                        return true
                    }
                    if retry { self.connectMissing() }
                }
            }
        }
    }

    // MARK: - Metadata

    private func loadMetadata(from connection: WorkerConnection) async {
        guard state.withLock({ $0.metadata == nil }) else { return }
        guard let metadata = try? await connection.metadata() else { return }
        let waiters = state.withLock { state -> [CheckedContinuation<WorkerMetadata, any Error>] in
            state.metadata = metadata
            defer { state.metadataWaiters = [:] }
            return Array(state.metadataWaiters.values)
        }
        for waiter in waiters { waiter.resume(returning: metadata) }
    }

    /// The model's declared tensors, waiting (up to 10 seconds) for a replica to tell them.
    func metadata() async throws -> WorkerMetadata {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WorkerMetadata, any Error>) in
            let (known, id) = state.withLock { state -> (WorkerMetadata?, Int) in
                if let metadata = state.metadata { return (metadata, 0) }
                state.nextID += 1
                state.metadataWaiters[state.nextID] = continuation
                return (nil, state.nextID)
            }
            if let known {
                continuation.resume(returning: known)
                return
            }
            let limit = min(state.withLock { $0.route.timeout }, .seconds(10))
            Task { [weak self] in
                try? await Task.sleep(for: limit)
                guard let self, let waiter = self.state.withLock({ $0.metadataWaiters.removeValue(forKey: id) }) else { return }
                waiter.resume(
                    throwing: GatewayError(
                        status: 503, "no replica of model '\(self.deployment)' is ready to describe it; try again shortly", retryAfter: 2))
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
