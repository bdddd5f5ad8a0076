import Foundation
import Logging
import Synchronization
import SlipwayClient
import SlipwayDomain
import SlipwayServing
import SlipwayWorkerRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The serving side of an agent's settings.
public struct ServingSettings: Sendable {
    /// The address workers listen on: `127.0.0.1` when the gateway runs on this machine, `0.0.0.0` to serve other machines.
    public var bindHost: String
    /// The address the gateway reaches this node's workers at.
    public var advertiseHost: String
    /// Where workers' Python environments are cached; `<work dir>/envs` when nil.
    public var environmentCache: URL?
    /// How often a ready worker's health is checked, and how long a check may take.
    public var healthInterval: Duration = .seconds(2)
    public var healthTimeout: Duration = .seconds(5)
    /// Consecutive failed checks after which a worker counts as hung: it is killed and replaced.
    public var unhealthyAfter = 3
    /// How long a worker may take to load its model and listen.
    public var startTimeout: Duration = .seconds(900)
    /// How long a serving worker told to stop keeps answering first, so every gateway has read its new routes.
    public var drainDelay: Duration = .seconds(2)

    public init(bindHost: String = "127.0.0.1", advertiseHost: String = "127.0.0.1", environmentCache: URL? = nil) {
        self.bindHost = bindHost
        self.advertiseHost = advertiseHost
        self.environmentCache = environmentCache
    }
}

/// Runs the serving replicas the server hands this node: for each, fetches the model's files into the node's cache,
/// builds (or reuses) its Python environment, starts the model worker (`runtime/slipway_worker`) and keeps it
/// serving — a worker that exits is restarted with backoff, one that stops answering health checks or outgrows its
/// memory is killed and replaced. A model that cannot be loaded ends the replica as `failed`, with the worker's words.
actor ReplicaSupervisor {
    let client: SlipwayAPIClient
    let settings: ServingSettings
    let folder: URL
    let models: ModelFolders
    let environments: PythonEnvironments
    let locks: KeyedLock
    let logger: Logger
    /// Called when a replica changes state, so the agent reports it without waiting for its next heartbeat.
    private var onChange: (@Sendable () -> Void)?

    private var replicas: [UUID: Supervised] = [:]

    struct Supervised {
        var assignment: ReplicaAssignment
        var state: ReplicaState = .starting
        var address: String?
        var restarts = 0
        var message = "starting"
        var task: Task<Void, Never>?
        var process: JobProcess?
        var stopRequested = false
    }

    init(client: SlipwayAPIClient, workDirectory: URL, settings: ServingSettings, locks: KeyedLock, logger: Logger) {
        self.client = client
        self.settings = settings
        self.folder = workDirectory.appendingPathComponent("replicas")
        self.models = ModelFolders(root: workDirectory.appendingPathComponent("models"), locks: locks)
        self.environments = PythonEnvironments(root: settings.environmentCache ?? workDirectory.appendingPathComponent("envs"))
        self.locks = locks
        self.logger = logger
    }

    func setOnChange(_ callback: @escaping @Sendable () -> Void) { onChange = callback }

    /// Starts and stops what the server said.
    func apply(start: [ReplicaAssignment], stop: [UUID]) async {
        // Stopping waits for the worker to exit; the heartbeat goes on meanwhile (the replica is reported until gone).
        for id in stop where replicas[id]?.stopRequested == false {
            replicas[id]?.stopRequested = true
            Task { await self.stop(id, drain: true) }
        }
        for assignment in start where replicas[assignment.replicaId] == nil {
            replicas[assignment.replicaId] = Supervised(assignment: assignment)
            let task = Task { await self.supervise(assignment) }
            replicas[assignment.replicaId]?.task = task
            logger.info("starting replica \(assignment.replicaId) of \(assignment.deployment) (\(assignment.model) v\(assignment.version))")
        }
    }

    /// What each replica is doing, for the heartbeat.
    func reports() -> [ReplicaReport] {
        replicas.map { id, replica in
            ReplicaReport(replicaId: id, state: replica.state, address: replica.address, restarts: replica.restarts, message: replica.message)
        }
    }

    /// The resident memory and GPUs of the workers.
    func usage() -> (memoryBytes: Int64, gpu: Int, groups: [Int32]) {
        var memory: Int64 = 0
        var gpu = 0
        var groups: [Int32] = []
        for replica in replicas.values {
            gpu += replica.assignment.gpuDevices.count
            guard let process = replica.process, process.group > 0 else { continue }
            memory += JobProcess.residentBytes(ofGroup: process.group)
            groups.append(process.group)
        }
        return (memory, gpu, groups)
    }

    /// Stops every worker (the agent is shutting down).
    func stopAll() async {
        await withTaskGroup(of: Void.self) { group in
            for id in Array(replicas.keys) { group.addTask { await self.stop(id) } }
        }
    }

    private func stop(_ id: UUID, drain: Bool = false) async {
        guard var replica = replicas[id], replica.task != nil else { return }
        let serving = replica.state == .ready
        replica.stopRequested = true
        let task = replica.task
        replica.task = nil
        replicas[id] = replica
        if drain && serving { try? await Task.sleep(for: settings.drainDelay) }
        replica.task = task
        logger.info("stopping replica \(id) of \(replica.assignment.deployment)")
        replica.task?.cancel()
        await replica.process?.stop(grace: .seconds(5))
        _ = await replica.task?.value
        replicas[id] = nil
        onChange?()
    }

    private func update(_ id: UUID, _ state: ReplicaState, _ message: String, address: String? = nil, restarted: Bool = false) {
        guard var replica = replicas[id], !replica.stopRequested else { return }
        let changed = replica.state != state || replica.address != address
        replica.state = state
        replica.message = message
        replica.address = address
        if restarted { replica.restarts += 1 }
        replicas[id] = replica
        if changed { onChange?() }
    }

    private func attach(_ process: JobProcess?, to id: UUID) -> Bool {
        guard var replica = replicas[id], !replica.stopRequested else { return false }
        replica.process = process
        replicas[id] = replica
        return true
    }

    private func isStopping(_ id: UUID) -> Bool { replicas[id]?.stopRequested ?? true }

    // MARK: - One replica's life

    /// Fetches, builds and runs one replica's worker until told to stop.
    private func supervise(_ assignment: ReplicaAssignment) async {
        let id = assignment.replicaId
        let directory = folder.appendingPathComponent(id.uuidString.lowercased())
        let log = directory.appendingPathComponent("worker.log")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        } catch {
            update(id, .failed, "the agent could not make the replica's folder: \(error)")
            return
        }
        defer { try? FileManager.default.removeItem(at: directory) }

        update(id, .starting, "fetching \(assignment.model) version \(assignment.version)")
        let model: URL
        let environment: WorkerEnvironment
        let venv: URL
        do {
            (model, _) = try await models.folder(for: assignment, client: client)
            environment = try WorkerEnvironment.of(folder: model, extra: assignment.environment)
            update(id, .starting, "preparing the \(environment.runtime) worker's Python environment (\(environment.requirements.count) requirements)")
            let wanted = JobEnvironment(python: environment.python, requirements: environment.requirements)
            let key = "env-" + PythonEnvironments.key(wanted)
            await locks.acquire(key)
            do {
                (venv, _) = try await environments.prepare(wanted, log: log)
                await locks.release(key)
            } catch {
                await locks.release(key)
                throw error
            }
        } catch {
            if !isStopping(id) { update(id, .failed, "\(error)") }
            return
        }

        var consecutiveFailures = 0
        while !Task.isCancelled && !isStopping(id) {
            update(id, .starting, "starting the \(environment.runtime) worker")
            let outcome = await runWorker(assignment, model: model, environment: environment, venv: venv, log: log)
            if isStopping(id) { return }
            switch outcome {
            case .couldNotStart(let reason):
                update(id, .failed, reason)
                return
            case .modelUnloadable(let reason):
                consecutiveFailures += 1
                if consecutiveFailures >= 3 {
                    update(id, .failed, "the model cannot be loaded: \(reason)")
                    return
                }
                update(id, .starting, "the worker could not load the model (\(reason)); trying again", restarted: true)
            case .ended(let reason, let servedFor):
                consecutiveFailures = servedFor > .seconds(60) ? 1 : consecutiveFailures + 1
                // A worker killed while loading (out of memory, a crash in native code) or dying soon after each
                // start would otherwise restart for ever while the deployment waits on it.
                if consecutiveFailures >= Self.crashLoopLimit {
                    update(id, .failed, "the worker ended \(consecutiveFailures) times in a row within a minute of starting: \(reason)")
                    return
                }
                update(id, .starting, "\(reason); restarting", restarted: true)
                logger.warning("replica \(id) of \(assignment.deployment): \(reason); restarting")
            }
            // Back off: at once after a worker that served a while, then 1, 2, 4 … 30 seconds.
            let delay: Duration = consecutiveFailures <= 1 ? .milliseconds(200) : .seconds(min(30, 1 << min(5, consecutiveFailures - 2)))
            try? await Task.sleep(for: delay)
        }
    }

    /// How many endings in a row, each within a minute of its start, make a replica failed.
    static let crashLoopLimit = 5

    enum WorkerOutcome {
        /// The worker could not even be started (no interpreter): retrying will not help.
        case couldNotStart(String)
        /// The worker exited while loading the model.
        case modelUnloadable(String)
        /// It ran, then exited, hung or outgrew its memory, and was stopped; `servedFor` is how long it was ready.
        case ended(String, servedFor: Duration)
    }

    /// Starts the worker, waits until it listens, then watches it until it ends or must be replaced.
    private func runWorker(
        _ assignment: ReplicaAssignment, model: URL, environment: WorkerEnvironment, venv: URL, log: URL
    ) async -> WorkerOutcome {
        let id = assignment.replicaId
        let offset = (try? FileManager.default.attributesOfItem(atPath: log.path)[.size] as? UInt64) ?? 0
        guard let pythonPath = WorkerPackage.pythonPath else {
            return .couldNotStart("the worker's Python package was not found beside the slipway binary (set SLIPWAY_WORKER_PYTHONPATH)")
        }
        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLIPWAY_") && !$0.key.hasPrefix("MLFLOW_") }
        let threads = String(max(1, Int(assignment.resources.cpu.rounded(.up))))
        variables["PYTHONPATH"] = pythonPath.path
        variables["PYTHONUNBUFFERED"] = "1"
        variables["SLIPWAY_WORKER_THREADS"] = threads
        variables["OMP_NUM_THREADS"] = threads
        variables["OPENBLAS_NUM_THREADS"] = threads
        variables["MKL_NUM_THREADS"] = threads
        variables["CUDA_VISIBLE_DEVICES"] = assignment.gpuDevices.map(String.init).joined(separator: ",")
        variables["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        variables["MLFLOW_DISABLE_TELEMETRY"] = "true"
        variables["VIRTUAL_ENV"] = venv.path
        variables["PATH"] = venv.appendingPathComponent("bin").path + ":" + (variables["PATH"] ?? "/usr/bin:/bin")
        let quote = PythonEnvironments.quote
        let command =
            "exec \(quote(venv.appendingPathComponent("bin/python").path)) -m slipway_worker --model \(quote(model.path))"
            + " --runtime \(environment.runtime) --listen tcp:\(settings.bindHost):0 --name \(quote(assignment.deployment))"
            + " --parent-pid \(getpid())"
        let process: JobProcess
        do {
            process = try JobProcess(command: command, directory: model, environment: variables, log: log)
        } catch {
            return .couldNotStart("the worker could not be started: \(error)")
        }
        let ended = ProcessEnding()
        Task { ended.set((try? await process.run()) ?? .exited(-1)) }
        while process.pid == 0 && ended.description == nil { try? await Task.sleep(for: .milliseconds(10)) }
        guard attach(process, to: id) else {
            await process.stop(grace: .seconds(1))
            return .ended("stopped", servedFor: .zero)
        }

        // Loading: wait for the worker's one JSON line saying where it listens.
        let started = ContinuousClock.now
        var address: String?
        while address == nil {
            if let ending = ended.description {
                let tail = Self.tail(of: log, from: offset)
                let reason = "the worker exited with \(ending) while loading\(tail.isEmpty ? "" : ": \(tail)")"
                return ending == "code 3" ? .modelUnloadable(tail.isEmpty ? reason : tail) : .ended(reason, servedFor: .zero)
            }
            if ContinuousClock.now - started > settings.startTimeout {
                await process.stop(grace: .seconds(1))
                return .ended("the worker did not start listening within \(settings.startTimeout)", servedFor: .zero)
            }
            address = Self.announcedAddress(in: log, from: offset).map { Self.advertised($0, host: settings.advertiseHost) }
            if address == nil { try? await Task.sleep(for: .milliseconds(100)) }
        }
        guard let address else { return .ended("no address", servedFor: .zero) }
        update(id, .ready, "serving on \(address)", address: address)
        let ready = ContinuousClock.now

        // Serving: health checks and the memory limit.
        var failures = 0
        var connection: WorkerConnection?
        defer { if let connection { Task { await connection.close() } } }
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.healthInterval)
            if isStopping(id) { return .ended("stopped", servedFor: ContinuousClock.now - ready) }
            if let ending = ended.description {
                let tail = Self.tail(of: log, from: offset)
                return .ended("the worker exited with \(ending)\(tail.isEmpty ? "" : ": \(tail)")", servedFor: ContinuousClock.now - ready)
            }
            let resident = JobProcess.residentBytes(ofGroup: process.group)
            if resident > assignment.resources.memoryBytes {
                await process.stop(grace: .milliseconds(500))
                return .ended(
                    "the worker exceeded its memory limit of \(assignment.resources.memoryBytes >> 20) MiB (used \(resident >> 20) MiB)",
                    servedFor: ContinuousClock.now - ready)
            }
            do {
                if connection == nil { connection = try await Self.within(settings.healthTimeout) { try await WorkerConnection.connect(to: address) } }
                _ = try await Self.within(settings.healthTimeout) { [connection] in try await connection!.health() }
                if failures > 0 { update(id, .ready, "serving on \(address)", address: address) }
                failures = 0
            } catch {
                failures += 1
                if let old = connection { await old.close() }
                connection = nil
                if failures >= settings.unhealthyAfter {
                    update(id, .unhealthy, "the worker failed \(failures) health checks in a row; replacing it", address: address)
                    await process.stop(grace: .milliseconds(200))
                    return .ended("the worker stopped answering health checks (\(error))", servedFor: ContinuousClock.now - ready)
                }
                update(id, .unhealthy, "the worker failed \(failures) health check\(failures == 1 ? "" : "s"): \(error)", address: address)
            }
        }
        return .ended("stopped", servedFor: ContinuousClock.now - ready)
    }

    // MARK: - Helpers

    /// The `{"ready": true, "address": …}` line the worker prints once listening.
    static func announcedAddress(in log: URL, from offset: UInt64) -> String? {
        guard let handle = try? FileHandle(forReadingFrom: log) else { return nil }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        guard let data = try? handle.readToEnd() else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) where line.hasPrefix("{\"ready\"") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let address = object["address"] as? String {
                return address
            }
        }
        return nil
    }

    /// The address with the host the gateway should use in place of a wildcard one.
    static func advertised(_ address: String, host: String) -> String {
        guard address.hasPrefix("tcp:"), let colon = address.lastIndex(of: ":") else { return address }
        let bound = address[address.index(address.startIndex, offsetBy: 4)..<colon]
        guard bound == "0.0.0.0" || bound == "::" || bound == "[::]" else { return address }
        return "tcp:\(host)" + address[colon...]
    }

    /// The last lines the worker wrote since `offset`, for a failure's reason.
    static func tail(of log: URL, from offset: UInt64, lines: Int = 4) -> String {
        guard let handle = try? FileHandle(forReadingFrom: log) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        let text = String(decoding: data.suffix(8192), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).suffix(lines).joined(separator: " | ").trimmingCharacters(in: .whitespaces)
    }

    /// Runs `body`, giving up after `limit` without waiting for it (a call to a stopped process never returns, and
    /// cannot be cancelled).
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let settled = Once()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                if settled.claim() { continuation.resume(with: result) }
            }
            Task {
                try? await Task.sleep(for: limit)
                if settled.claim() {
                    work.cancel()
                    continuation.resume(throwing: WorkerError(status: 504, "no answer within \(limit)"))
                }
            }
        }
    }
}

/// How a worker process ended, once it has: "code 3", "signal 9".
final class ProcessEnding: Sendable {
    private let value = Mutex<JobProcess.Ending?>(nil)

    func set(_ ending: JobProcess.Ending) { value.withLock { $0 = ending } }

    var description: String? {
        switch value.withLock({ $0 }) {
        case .exited(let code)?: "code \(code)"
        case .signalled(let signal)?: "signal \(signal)"
        case nil: nil
        }
    }
}

/// A flag that can be claimed once, by whoever comes first.
final class Once: Sendable {
    private let claimed = Mutex(false)

    /// True for the first caller only.
    func claim() -> Bool {
        claimed.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
