import Foundation
import Logging
import SlipwayClient
import SlipwayDomain

/// A node's agent: heartbeats to the server with what it runs and uses, starts the jobs it is handed, streams
/// their logs, enforces their memory limit and maximum runtime, and stops what the server says to stop
/// (cancelled work, or work re-queued elsewhere while this node was out of touch).
public actor Agent {
    let client: SlipwayAPIClient
    let workDirectory: URL
    let heartbeat: Duration
    let logger: Logger
    let environments: PythonEnvironments
    /// Serialises pulls of the same dataset version into the node's cache.
    let cacheLocks = KeyedLock()
    /// The serving replicas this node runs.
    let replicas: ReplicaSupervisor
    /// Set when a replica changed state: the next heartbeat goes at once instead of at its interval.
    private var beatSoon = false
    private var running: [UUID: RunningJob] = [:]
    /// CPU ticks of each running job's processes at the last heartbeat, and when.
    private var lastCPU: (ticks: [UUID: Int64], at: ContinuousClock.Instant)?

    struct RunningJob {
        var attempt: Int
        var task: Task<Void, Never>
        var process: JobProcess?
        var stopRequested = false
        /// GPUs handed to the job.
        var gpuCount = 0
    }

    /// - Parameters:
    ///   - client: the server, authenticated with this node's agent token.
    ///   - workDirectory: where job folders, model folders and cached Python environments live.
    ///   - serving: where serving workers listen and where their environments are cached.
    public init(
        client: SlipwayAPIClient, workDirectory: URL, heartbeatSeconds: Double, logger: Logger, serving: ServingSettings = ServingSettings()
    ) {
        self.client = client
        self.workDirectory = workDirectory
        self.heartbeat = .milliseconds(Int64(heartbeatSeconds * 1000))
        self.logger = logger
        self.environments = PythonEnvironments(root: serving.environmentCache ?? workDirectory.appendingPathComponent("envs"))
        self.replicas = ReplicaSupervisor(
            client: client, workDirectory: workDirectory, settings: serving, locks: cacheLocks, logger: logger)
    }

    /// Asks for a heartbeat now (a replica changed state).
    func wake() { beatSoon = true }

    /// Registers with a join token. - Returns: the credentials to heartbeat with.
    public static func register(
        server: String, joinToken: String, name: String, labels: [String: String], capacity: ComputeResources? = nil
    ) async throws -> AgentCredentials {
        let probe = NodeProbe.capacity()
        let client = SlipwayAPIClient(baseURL: server, token: nil)
        return try await client.send(
            .POST, "/agents/register",
            body: AgentRegistration(joinToken: joinToken, name: name, capacity: capacity ?? probe.resources, gpus: probe.gpus, labels: labels))
    }

    /// Heartbeats until cancelled; the running jobs are stopped on the way out.
    public func run() async {
        await replicas.setOnChange { [weak self] in
            guard let self else { return }
            Task { await self.wake() }
        }
        while !Task.isCancelled {
            beatSoon = false
            await beat()
            let next = ContinuousClock.now + heartbeat
            while !Task.isCancelled, !beatSoon, ContinuousClock.now < next {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        for job in running.values { await job.process?.stop(grace: .seconds(1)) }
        await replicas.stopAll()
    }

    /// One heartbeat: report, then start and stop what the server says.
    func beat() async {
        let attempts = running.map { AgentHeartbeat.RunningAttempt(jobId: $0.key, attempt: $0.value.attempt) }
        var usage = ComputeResources.zero
        let now = ContinuousClock.now
        var ticks: [UUID: Int64] = [:]
        for (id, job) in running {
            guard let process = job.process else { continue }
            let members = JobProcess.processes(inGroup: process.group)
            usage.memoryBytes += members.reduce(0) { $0 + $1.rssPages } * JobProcess.pageSize
            ticks[id] = members.reduce(0) { $0 + $1.cpuTicks }
            usage.gpu += job.gpuCount
        }
        // CPU in use: the CPU time the jobs' processes gained since the last beat, over the time that passed.
        if let (before, then) = lastCPU {
            let elapsed = Double((now - then).components.seconds) + Double((now - then).components.attoseconds) / 1e18
            let gained = ticks.reduce(Int64(0)) { $0 + max(0, $1.value - (before[$1.key] ?? 0)) }
            if elapsed > 0 { usage.cpu = (Double(gained) / Double(JobProcess.ticksPerSecond)) / elapsed }
        }
        lastCPU = (ticks, now)
        let serving = await replicas.usage()
        usage.memoryBytes += serving.memoryBytes
        usage.gpu += serving.gpu
        let reports = await replicas.reports()
        let instructions: AgentInstructions
        do {
            instructions = try await client.send(
                .POST, "/agents/heartbeat", body: AgentHeartbeat(usage: usage, running: attempts, replicas: reports))
        } catch {
            logger.warning("heartbeat failed: \(error)")
            return
        }
        await replicas.apply(start: instructions.startReplicas ?? [], stop: instructions.stopReplicas ?? [])
        for id in instructions.stop { await stop(id) }
        for assignment in instructions.start where running[assignment.jobId] == nil {
            let task = Task { await self.execute(assignment) }
            running[assignment.jobId] = RunningJob(attempt: assignment.attempt, task: task, gpuCount: assignment.gpuDevices.count)
        }
    }

    private func stop(_ id: UUID) async {
        guard var job = running[id] else { return }
        job.stopRequested = true
        running[id] = job
        logger.info("stopping job \(id): the server no longer wants it here")
        await job.process?.stop()
    }

    private func attach(_ process: JobProcess, to id: UUID) -> Bool {
        guard var job = running[id] else { return false }
        job.process = process
        running[id] = job
        return !job.stopRequested
    }

    private func finished(_ id: UUID) {
        running[id] = nil
        sent[id] = nil
        for task in pendingReports.removeValue(forKey: id) ?? [] { task.cancel() }
    }

    private func wasStopped(_ id: UUID) -> Bool { running[id]?.stopRequested ?? true }

    /// Runs one job: environment, process, logs, limits, and the final report.
    func execute(_ assignment: JobAssignment) async {
        let id = assignment.jobId
        let folder = workDirectory.appendingPathComponent("jobs/\(id.uuidString.lowercased())-\(assignment.attempt)")
        let work = folder.appendingPathComponent("work")
        let output = folder.appendingPathComponent("output")
        let log = folder.appendingPathComponent("job.log")
        defer { finished(id) }
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: log.path, contents: nil)
        } catch {
            await report(assignment, .failed, "the agent could not make the job's folder: \(error)")
            return
        }
        let streamer = Task { await self.stream(log, job: id) }
        defer { streamer.cancel() }

        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLIPWAY_") && !$0.key.hasPrefix("MLFLOW_") }
        environment.merge(assignment.spec.env ?? [:]) { $1 }
        environment["SLIPWAY_JOB_ID"] = id.uuidString.lowercased()
        environment["SLIPWAY_JOB_ATTEMPT"] = String(assignment.attempt)
        environment["SLIPWAY_OUTPUT_DIR"] = output.path
        environment["SLIPWAY_NAMESPACE"] = assignment.namespace
        environment["SLIPWAY_PROJECT"] = assignment.project
        // The indices are nvidia-smi's, which number GPUs by PCI bus; CUDA numbers them fastest first unless told.
        environment["CUDA_VISIBLE_DEVICES"] = assignment.gpuDevices.map(String.init).joined(separator: ",")
        environment["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"

        // The attempt's own token: MLflow and the Slipway CLI inside the job act with it, and so does the agent
        // for the job's code, inputs and outputs.
        let jobClient = SlipwayAPIClient(baseURL: client.baseURL, token: assignment.token)
        let workspace = JobWorkspace(
            client: jobClient, assignment: assignment, work: work, output: output, cache: workDirectory, cacheLocks: cacheLocks)
        if let token = assignment.token {
            environment["SLIPWAY_URL"] = client.baseURL
            environment["SLIPWAY_TOKEN"] = token
            environment["MLFLOW_TRACKING_URI"] = client.baseURL
            environment["MLFLOW_TRACKING_TOKEN"] = token
            // Sites without internet: the client would otherwise try to call home.
            environment["MLFLOW_DISABLE_TELEMETRY"] = "true"
        }
        if let runID = assignment.runId, let experimentID = assignment.experimentId {
            environment["MLFLOW_RUN_ID"] = runID
            environment["MLFLOW_EXPERIMENT_ID"] = experimentID
        }
        let image = assignment.spec.environment?.image
        var runtime: ContainerRuntime?
        if let image {
            guard let found = ContainerRuntime.find() else {
                await report(
                    assignment, .failed,
                    "the job runs in the image \(image), but this node has neither docker nor podman; install one, or give the job a Python environment instead"
                )
                return
            }
            if let problem = await found.problem() {
                await report(assignment, .failed, "the job runs in the image \(image), but \(problem)")
                return
            }
            runtime = found
        }
        var inputs: [JobWorkspace.MaterializedInput] = []
        if assignment.spec.code != nil || !(assignment.spec.inputs ?? []).isEmpty {
            await report(assignment, .preparing, "fetching the job's code and data")
            do {
                if let code = assignment.spec.code {
                    let files = try await workspace.unpackCode(code)
                    append("[slipway] code \(code.sha256.prefix(12)): \(files) files in the working directory\n", to: log)
                }
                inputs = try await workspace.materialize(assignment.spec.inputs ?? [])
                for input in inputs {
                    environment[input.input.environmentVariable] = image == nil ? input.path.path : "/workspace/inputs/\(input.input.name)"
                    append(
                        "[slipway] input \(input.input.name): \(input.input.dataset)@\(input.input.version.map(String.init) ?? "latest"), "
                            + "\(input.files) files (\(input.downloaded) downloaded) at inputs/\(input.input.name)\n", to: log)
                }
            } catch {
                await flush(log, job: id)
                await report(assignment, .failed, "the job's code or data could not be fetched: \(error)")
                return
            }
        }

        if let python = assignment.spec.environment, image == nil {
            await report(assignment, .preparing, "building the Python environment")
            do {
                let (venv, cached) = try await environments.prepare(python, log: log)
                append(
                    "[slipway] Python environment \(PythonEnvironments.key(python).prefix(12)) \(cached ? "reused from the cache" : "built")\n",
                    to: log)
                environment["VIRTUAL_ENV"] = venv.path
                environment["PATH"] = venv.appendingPathComponent("bin").path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            } catch {
                await flush(log, job: id)
                await report(assignment, .failed, "\(error)")
                return
            }
        }
        if wasStopped(id) { return }

        var command = assignment.spec.command
        if let image, let runtime {
            // Inside the container the folders have the container's paths; only the job's own variables go in.
            environment["SLIPWAY_OUTPUT_DIR"] = "/output"
            let passed = environment.keys.filter {
                $0.hasPrefix("SLIPWAY_") || $0.hasPrefix("MLFLOW_") || (assignment.spec.env ?? [:]).keys.contains($0)
            }
            command = runtime.command(for: assignment, image: image, work: work, output: output, inputs: inputs, passing: passed)
            append("[slipway] running in \(image) with \(URL(fileURLWithPath: runtime.executable).lastPathComponent)\n", to: log)
        }
        let process: JobProcess
        do {
            process = try JobProcess(command: command, directory: work, environment: environment, log: log)
        } catch {
            await report(assignment, .failed, "the command could not be started: \(error)")
            return
        }
        let runner = Task { try await process.run() }
        // Wait until the process has a pid, then make it stoppable.
        while process.pid == 0 && !runner.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
        guard attach(process, to: id) else {
            await process.stop()
            _ = try? await runner.value
            return
        }
        await report(assignment, .running, "running on this node")

        // Limits: memory (the whole process group's resident memory) and maximum runtime.
        let limit = assignment.spec.resources.memoryBytes
        let deadline = assignment.spec.maxRuntimeSeconds.map { ContinuousClock.now + .seconds($0) }
        let watchdog = Task { () -> String? in
            while !Task.isCancelled {
                let resident = JobProcess.residentBytes(ofGroup: process.group)
                if resident > limit {
                    await process.stop(grace: .milliseconds(500))
                    return "exceeded its memory limit of \(limit >> 20) MiB (used \(resident >> 20) MiB)"
                }
                if let deadline, ContinuousClock.now >= deadline {
                    await process.stop()
                    return "exceeded its maximum runtime of \(assignment.spec.maxRuntimeSeconds ?? 0) s"
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
            return nil
        }
        let ending: JobProcess.Ending
        do {
            ending = try await runner.value
        } catch {
            watchdog.cancel()
            await report(assignment, .failed, "the command could not be started: \(error)")
            return
        }
        watchdog.cancel()
        let limitHit = await watchdog.value
        // Anything the command left in its group goes too, and a container that outlived its client.
        if process.group > 0, JobProcess.groupMembers(process.group) > 0 { await process.stop(grace: .milliseconds(500)) }
        if let runtime { await runtime.remove(assignment) }
        if wasStopped(id) {  // cancelled or re-queued: the server already knows
            await flush(log, job: id)
            return
        }
        // The output folder becomes the run's artifacts when the job succeeded or failed (a failed job's partial
        // output helps too); a cancelled or moved attempt returned above, its token already dead.
        var uploadProblem: String?
        do {
            let uploaded = try await workspace.uploadOutputs()
            if uploaded.files > 0 || !uploaded.skipped.isEmpty {
                append(
                    "[slipway] uploaded \(uploaded.files) output files (\(uploaded.bytes) bytes) as artifacts of run \(assignment.runId ?? "?")"
                        + (uploaded.skipped.isEmpty ? "" : "; left out \(uploaded.skipped.count) links or files past the limits") + "\n", to: log)
            }
        } catch {
            uploadProblem = "its output files could not be uploaded: \(error)"
            append("[slipway] \(uploadProblem ?? "")\n", to: log)
        }
        await flush(log, job: id)
        if case .exited(0) = ending, limitHit == nil, let uploadProblem {
            await report(assignment, .failed, uploadProblem)
            return
        }
        switch (ending, limitHit) {
        case (_, let reason?):
            await report(assignment, .failed, reason)
        case (.exited(0), nil):
            await report(assignment, .succeeded, "exited with code 0", exitCode: 0)
        case (.exited(let code), nil):
            await report(assignment, .failed, "exited with code \(code)", exitCode: Int(code))
        case (.signalled(let signal), nil):
            await report(assignment, .failed, "killed by signal \(signal)")
        }
    }

    /// Reports a job's state. A final state is delivered before this returns (retried until the server takes or
    /// refuses it, while the job stays in the heartbeat's list so the server does not take it for lost), and
    /// supersedes intermediate reports still undelivered: the server accepts a direct jump to a final state.
    /// An intermediate state (preparing, running) is delivered in the background, in order, so a server out of
    /// reach does not hold up the job or its limits.
    private func report(_ assignment: JobAssignment, _ state: JobState, _ reason: String, exitCode: Int? = nil) async {
        let id = assignment.jobId
        let body = JobStateReport(attempt: assignment.attempt, state: state, reason: reason, exitCode: exitCode)
        let delivery = reportDelivery(for: id)
        let earlier = pendingReports[id] ?? []
        let logger = self.logger
        if state.isFinal {
            pendingReports[id] = nil
            for task in earlier { task.cancel() }
            for task in earlier { await task.value }
            Self.log(await delivery.deliver(body), of: body, job: id, logger: logger)
        } else {
            let previous = earlier.last
            let task = Task {
                await previous?.value
                Self.log(await delivery.deliver(body), of: body, job: id, logger: logger)
            }
            pendingReports[id, default: []].append(task)
        }
    }

    /// Intermediate reports of each job still being delivered, oldest first.
    private var pendingReports: [UUID: [Task<Void, Never>]] = [:]

    private func reportDelivery(for id: UUID) -> StateReportDelivery {
        let client = self.client
        return StateReportDelivery(send: { report in
            try await client.sendIgnoringResponse(.POST, "/agents/jobs/\(id.uuidString)/state", body: report)
        })
    }

    private static func log(_ outcome: StateReportDelivery.Outcome, of report: JobStateReport, job: UUID, logger: Logger) {
        switch outcome {
        case .accepted(let failures) where failures > 0:
            logger.info("reported job \(job) as \(report.state.rawValue) after \(failures) failed tries")
        case .accepted:
            break
        case .refused(let status, let code, let message):
            logger.warning("the server refused job \(job) as \(report.state.rawValue): \(message) (\(status) \(code))")
        case .abandoned:
            logger.debug("stopped reporting job \(job) as \(report.state.rawValue)")
        }
    }

    // MARK: - Logs

    private var sent: [UUID: UInt64] = [:]

    /// Sends what the job's log file gained, every 300 ms, until cancelled.
    private func stream(_ log: URL, job: UUID) async {
        while !Task.isCancelled {
            await flush(log, job: job)
            try? await Task.sleep(for: .milliseconds(300))
        }
    }

    /// Sends the log file's new bytes (whole UTF-8 characters only).
    private func flush(_ log: URL, job: UUID) async {
        guard let handle = try? FileHandle(forReadingFrom: log) else { return }
        defer { try? handle.close() }
        let offset = sent[job] ?? 0
        try? handle.seek(toOffset: offset)
        guard var data = try? handle.read(upToCount: 512 << 10), !data.isEmpty else { return }
        // Hold back an incomplete UTF-8 sequence at the end for the next round.
        data = data.prefix(Self.completeUTF8Length(data))
        guard !data.isEmpty else { return }
        do {
            try await client.postText("/agents/jobs/\(job.uuidString)/logs", String(decoding: data, as: UTF8.self))
            sent[job] = offset + UInt64(data.count)
        } catch {
            logger.debug("sending logs of job \(job) failed: \(error)")
        }
    }

    /// The length of `data` without a trailing, incomplete UTF-8 sequence.
    static func completeUTF8Length(_ data: Data) -> Int {
        var index = data.count - 1
        var continuations = 0
        while index >= 0, continuations < 4 {
            let byte = data[data.startIndex + index]
            if byte & 0xC0 == 0x80 {
                continuations += 1
                index -= 1
                continue
            }
            let needed = byte < 0x80 ? 0 : byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : 0
            return continuations >= needed ? data.count : index
        }
        return data.count
    }

    private nonisolated func append(_ text: String, to log: URL) {
        guard let handle = try? FileHandle(forWritingTo: log) else { return }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try? handle.close()
    }
}
