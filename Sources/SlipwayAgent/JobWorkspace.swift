import Foundation
import SlipwayClient
import SlipwayDomain

/// A job attempt's folder on the node: the code unpacked into `work/`, the dataset inputs under `work/inputs/`,
/// and `output/`, whose files become the run's artifacts when the job ends.
///
/// Code archives and dataset versions are cached on the node (by SHA-256, and by version and layout), so a job
/// that runs again, or another job reading the same data, downloads nothing. Everything is fetched with the
/// attempt's own token, which can read only the job's namespace.
struct JobWorkspace: Sendable {
    /// The server, with the attempt's token.
    let client: SlipwayAPIClient
    let assignment: JobAssignment
    let work: URL
    let output: URL
    /// The node's caches: `code/<sha256>.tar` and `datasets/…`.
    let cache: URL
    /// One pull at a time per cache entry, so two jobs reading the same version do not race to fill it.
    let cacheLocks: KeyedLock

    /// An input as the job sees it: its folder, and where that folder's content lives on the node.
    struct MaterializedInput: Sendable {
        var input: JobDatasetInput
        /// `work/inputs/<name>`, a link to ``cached``.
        var path: URL
        var cached: URL
        var files: Int
        var downloaded: Int
    }

    /// Downloads the code archive (unless cached) and unpacks it into `work/`. - Returns: the files unpacked.
    func unpackCode(_ code: CodeSnapshot) async throws -> Int {
        let folder = cache.appendingPathComponent("code")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let archive = folder.appendingPathComponent("\(code.sha256).tar")
        if (try? FileDigest.of(path: archive.path).sha256) != code.sha256 {
            let partial = folder.appendingPathComponent("\(code.sha256).\(UUID().uuidString.prefix(8)).download")
            defer { try? FileManager.default.removeItem(at: partial) }
            try await client.download("/namespaces/\(SlipwayAPIClient.segment(assignment.namespace))/blobs/\(code.sha256)", to: partial.path)
            guard try FileDigest.of(path: partial.path).sha256 == code.sha256 else {
                throw CodeArchiveError("the code archive arrived damaged (its SHA-256 differs)")
            }
            _ = try? FileManager.default.removeItem(at: archive)
            try FileManager.default.moveItem(at: partial, to: archive)
        }
        return try CodeArchive.unpack(archive, into: work)
    }

    /// Pulls each input's version into the node's cache (once per version and layout) and links it at
    /// `work/inputs/<name>`.
    func materialize(_ inputs: [JobDatasetInput]) async throws -> [MaterializedInput] {
        var made: [MaterializedInput] = []
        for input in inputs {
            let parts = input.dataset.split(separator: "/").map(String.init)
            let (project, dataset) = parts.count == 2 ? (parts[0], parts[1]) : (assignment.project, parts[0])
            let layout = DatasetLayout(rawValue: input.layout ?? "records") ?? .records
            let version = input.version.map(String.init) ?? "latest"
            let key = [assignment.namespace, project, dataset, "\(version)-\(layout.rawValue)"].joined(separator: "/")
            let cached = cache.appendingPathComponent("datasets/" + key)
            var summary = (files: 0, downloaded: 0)
            let complete = cached.appendingPathComponent(".slipway-complete")
            await cacheLocks.acquire(key)
            do {
                if FileManager.default.fileExists(atPath: complete.path) {
                    summary.files = Int((try? String(contentsOf: complete, encoding: .utf8)) ?? "") ?? 0
                } else {
                    // Pulled beside the cache entry and renamed into place, so a half-pulled version is never reused.
                    let staging = cached.deletingLastPathComponent().appendingPathComponent(".pull-\(UUID().uuidString.prefix(8))")
                    defer { try? FileManager.default.removeItem(at: staging) }
                    let datasetAPI = [
                        "/namespaces", SlipwayAPIClient.segment(assignment.namespace), "projects", SlipwayAPIClient.segment(project), "datasets",
                        SlipwayAPIClient.segment(dataset),
                    ].joined(separator: "/")
                    let pulled = try await VersionPull(
                        client: client, namespace: assignment.namespace, datasetAPI: datasetAPI, version: version, layout: layout
                    ).run(into: staging)
                    summary = (pulled.files, pulled.downloaded)
                    try String(pulled.files).write(to: staging.appendingPathComponent(".slipway-complete"), atomically: true, encoding: .utf8)
                    _ = try? FileManager.default.removeItem(at: cached)
                    try FileManager.default.moveItem(at: staging, to: cached)
                }
                await cacheLocks.release(key)
            } catch {
                await cacheLocks.release(key)
                throw error
            }
            let path = work.appendingPathComponent("inputs/\(input.name)")
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = try? FileManager.default.removeItem(at: path)
            try FileManager.default.createSymbolicLink(at: path, withDestinationURL: cached)
            made.append(MaterializedInput(input: input, path: path, cached: cached, files: summary.files, downloaded: summary.downloaded))
        }
        return made
    }

    /// The most output files uploaded, and their largest total.
    static let outputFileLimit = 10_000
    static let outputByteLimit: Int64 = 20 << 30

    /// Uploads every regular file under `output/` as an artifact of the job's run, at the same relative path.
    /// - Returns: the files and bytes uploaded, and what was left out (links, anything past the limits).
    func uploadOutputs() async throws -> (files: Int, bytes: Int64, skipped: [String]) {
        guard let experimentID = assignment.experimentId, let runID = assignment.runId else { return (0, 0, []) }
        var files: [(path: String, url: URL, size: Int64)] = []
        var skipped: [String] = []
        var total: Int64 = 0
        func walk(_ folder: URL, _ prefix: String) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
                let url = folder.appendingPathComponent(name)
                let path = prefix.isEmpty ? name : prefix + "/" + name
                let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
                switch attributes[.type] as? FileAttributeType {
                case .typeDirectory?:
                    try walk(url, path)
                case .typeRegular?:
                    let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
                    guard files.count < Self.outputFileLimit, total + size <= Self.outputByteLimit else {
                        skipped.append(path)
                        continue
                    }
                    total += size
                    files.append((path, url, size))
                default:
                    skipped.append(path)
                }
            }
        }
        try walk(output, "")
        for file in files {
            try await client.uploadArtifact(file: file.url.path, size: file.size, artifactPath: "\(experimentID)/\(runID)/artifacts/\(file.path)")
        }
        return (files.count, total, skipped)
    }
}

/// Runs jobs' container images through docker or podman.
struct ContainerRuntime: Sendable {
    /// The runtime's executable.
    let executable: String

    /// The runtime this node has: `SLIPWAY_CONTAINER_RUNTIME` (a name or path; `none` for none), else docker, else
    /// podman, found on `PATH`.
    static func find(environment: [String: String] = ProcessInfo.processInfo.environment) -> ContainerRuntime? {
        if let chosen = environment["SLIPWAY_CONTAINER_RUNTIME"], !chosen.isEmpty {
            if chosen == "none" { return nil }
            return locate(chosen, environment: environment).map(ContainerRuntime.init)
        }
        return (locate("docker", environment: environment) ?? locate("podman", environment: environment)).map(ContainerRuntime.init)
    }

    private static func locate(_ name: String, environment: [String: String]) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for folder in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The container's name for an attempt, so it can be removed when the attempt is stopped.
    static func containerName(_ assignment: JobAssignment) -> String {
        "slipway-\(assignment.jobId.uuidString.lowercased())-\(assignment.attempt)"
    }

    /// The shell command that runs the job in its image: the working folder at `/workspace`, the output folder at
    /// `/output`, inputs read-only at `/workspace/inputs/<name>`, the host's network (so the job reaches the server
    /// as the agent does), the job's CPU and memory as limits, its GPUs by index, and the named environment
    /// variables passed through from the agent's process environment (their values never appear in the command).
    func command(
        for assignment: JobAssignment, image: String, work: URL, output: URL, inputs: [JobWorkspace.MaterializedInput], passing variables: [String]
    ) -> String {
        let resources = assignment.spec.resources
        var arguments = [
            executable, "run", "--rm", "--name", Self.containerName(assignment), "--network", "host", "--init",
            "-v", "\(work.path):/workspace", "-w", "/workspace", "-v", "\(output.path):/output",
            "--memory", String(resources.memoryBytes), "--cpus", String(resources.cpu),
        ]
        for input in inputs { arguments += ["-v", "\(input.cached.path):/workspace/inputs/\(input.input.name):ro"] }
        if !assignment.gpuDevices.isEmpty {
            arguments += ["--gpus", "\"device=\(assignment.gpuDevices.map(String.init).joined(separator: ","))\""]
        }
        for name in variables.sorted() { arguments += ["-e", name] }
        arguments += [image, "/bin/sh", "-c", assignment.spec.command]
        return arguments.map(Self.quote).joined(separator: " ")
    }

    /// Why the runtime cannot run containers now (a docker client without a reachable daemon, say), or nil when
    /// it can: asks it for its server version.
    func problem() async -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["info", "--format", "{{.ServerVersion}}"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return "\(executable) cannot be started: \(error)"
        }
        let message = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            DispatchQueue.global().async {
                let data = errors.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
        guard process.terminationStatus != 0 else { return nil }
        let line = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? "exit code \(process.terminationStatus)"
        return "\(URL(fileURLWithPath: executable).lastPathComponent) cannot run containers here: \(line.prefix(300))"
    }

    /// Removes the attempt's container if it is still there (the attempt was stopped).
    func remove(_ assignment: JobAssignment) async {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["rm", "-f", Self.containerName(assignment)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }

    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// Mutual exclusion by key: `acquire` waits while another task holds the key, `release` hands it to the next.
actor KeyedLock {
    private var held: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    func acquire(_ key: String) async {
        guard held.contains(key) else {
            held.insert(key)
            return
        }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    func release(_ key: String) {
        guard var queue = waiting[key], !queue.isEmpty else {
            held.remove(key)
            return
        }
        let next = queue.removeFirst()
        waiting[key] = queue.isEmpty ? nil : queue
        next.resume()  // the key passes straight to the next waiter
    }
}
