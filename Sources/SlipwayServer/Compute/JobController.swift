import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayDomain
import SlipwayScheduling
import SlipwayStore

extension Job: ResponseEncodable {}
extension JobDetail: ResponseEncodable {}
extension ComputeNode: ResponseEncodable {}
extension JoinToken: ResponseEncodable {}
extension IssuedJoinToken: ResponseEncodable {}
extension AgentCredentials: ResponseEncodable {}
extension AgentInstructions: ResponseEncodable {}

/// Training jobs: submitted into a project, queued per namespace, placed by the scheduler, run by agents.
/// Logs are kept on the server and can be followed while the job runs.
struct JobController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy
    let runs: JobRuns
    let now: @Sendable () -> Date

    /// How many attempts a job gets when nodes are lost under it.
    static let maxAttempts = 3

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post("namespaces/{namespace}/projects/{project}/jobs", use: submit)
        api.get("namespaces/{namespace}/projects/{project}/jobs", use: projectJobs)
        api.get("jobs", use: list)
        api.get("jobs/{job}", use: show)
        api.get("jobs/{job}/logs", use: logs)
        api.post("jobs/{job}/cancel", use: cancel)
    }

    @Sendable func submit(_ request: Request, context: AppRequestContext) async throws -> Created<Job> {
        let (namespace, project) = try await access.project(context, requires: .developer)
        var spec = try Self.validated(try await request.decodeJSON(JobSpec.self, context: context))
        let quota = try await store.namespaces.quota(of: namespace.namespace)
        // The scheduler's own quota rule, against nothing used: a job the quota can never hold is refused now.
        if let problem = ResourceLimit(quota).excess(using: Resources(spec.resources), alreadyUsed: .zero) {
            throw APIError.badRequest("exceeds_quota", "the job asks for more than namespace '\(namespace.namespace.name)' may ever use: \(problem)")
        }
        if let code = spec.code,
            try await !store.blobReferences.held([code.sha256], namespaceID: namespace.namespace.id).contains(code.sha256)
        {
            throw APIError.badRequest(
                "code_missing", "the code archive \(code.sha256.prefix(12)) is not in namespace '\(namespace.namespace.name)'; upload it first")
        }
        let inputs = try await resolve(spec.inputs ?? [], in: namespace, project: project)
        if !inputs.isEmpty { spec.inputs = inputs.map(\.input) }
        _ = try JobRuns.experimentName(spec, namespace: namespace.namespace.name.value, project: project.name.value)
        var job = Job(
            id: UUID(), namespace: namespace.namespace.name.value, project: project.name.value, spec: spec, state: .queued,
            reason: "submitted by \(namespace.caller.user.username)", attempts: 0, maxAttempts: Self.maxAttempts, node: nil, gpuDevices: [],
            exitCode: nil, createdBy: namespace.caller.user.username.value, createdAt: now(), startedAt: nil, finishedAt: nil)
        let (runID, experimentID) = try await runs.createRun(for: job, in: project, inputs: inputs, by: namespace.caller.auditActor)
        job.runId = runID
        job.experimentId = experimentID
        do {
            try await store.compute.createJob(job, namespaceID: namespace.namespace.id, projectID: project.id, by: namespace.caller.auditActor)
        } catch {
            try? await store.tracking.setRunLifecycle(id: runID, .deleted)
            throw error
        }
        return Created(value: job)
    }

    /// Each input's dataset version: the one named, or the latest committed one, which must be readable.
    /// - Throws: 400 `invalid_field` or 404 naming the input.
    func resolve(_ inputs: [JobDatasetInput], in namespace: NamespaceAccess, project: Project) async throws -> [JobRuns.ResolvedInput] {
        var resolved: [JobRuns.ResolvedInput] = []
        for var input in inputs {
            let parts = input.dataset.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
                throw APIError.invalidField("inputs.dataset", "'\(input.dataset.prefix(80))' must be DATASET or PROJECT/DATASET")
            }
            var home = project
            if parts.count == 2 {
                guard let other = try await store.projects.project(named: parts[0], in: namespace.namespace) else {
                    throw APIError.notFound("project '\(namespace.namespace.name)/\(parts[0].prefix(80))' does not exist")
                }
                home = other
            }
            // A private dataset the submitter may not see is missing to them, and so to the job.
            guard let dataset = try await store.datasets.dataset(named: parts[parts.count - 1], in: home),
                try await access.datasetRole(namespace.caller, visibility: dataset.visibility, in: home, namespaceRole: namespace.role) != nil
            else {
                throw APIError.notFound("dataset '\(home.name)/\(parts[parts.count - 1].prefix(80))' does not exist")
            }
            let number: Int
            if let wanted = input.version {
                number = wanted
            } else {
                guard let latest = try await store.datasets.versions(of: dataset).filter({ $0.state == .committed }).map(\.number).max() else {
                    throw APIError.badRequest("no_version", "dataset '\(home.name)/\(dataset.name)' has no committed version to read")
                }
                number = latest
            }
            guard let stored = try await store.datasets.version(number, of: dataset) else {
                throw APIError.notFound("dataset '\(home.name)/\(dataset.name)' has no version \(number)")
            }
            guard stored.version.state == .committed || stored.version.state == .deprecated else {
                throw APIError.badRequest(
                    "version_unavailable",
                    "version \(number) of '\(home.name)/\(dataset.name)' is \(stored.version.state.rawValue); jobs cannot read it")
            }
            input.version = number
            resolved.append(
                JobRuns.ResolvedInput(
                    input: input, source: "\(namespace.namespace.name)/\(home.name)/\(dataset.name)@\(number)",
                    manifestDigest: JobRuns.digest(stored.manifestJSON)))
        }
        return resolved
    }

    /// Checks a spec field by field. - Throws: 400 `invalid_field` naming the field.
    static func validated(_ spec: JobSpec) throws -> JobSpec {
        var spec = spec
        _ = try validName(spec.name, field: "name")
        spec.command = spec.command.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !spec.command.isEmpty, spec.command.count <= 10_000, !spec.command.contains("\0") else {
            throw APIError.invalidField("command", "must be a shell command line of 1 to 10000 characters")
        }
        let resources = spec.resources
        guard resources.cpu > 0, resources.cpu <= 1024, resources.cpu.isFinite else {
            throw APIError.invalidField("resources.cpu", "must be more than 0 and at most 1024 cores")
        }
        guard resources.memoryBytes >= 1 << 20, resources.memoryBytes <= 1 << 44 else {
            throw APIError.invalidField("resources.memory_bytes", "must be from 1 MiB to 16 TiB")
        }
        guard (0...64).contains(resources.gpu) else { throw APIError.invalidField("resources.gpu", "must be from 0 to 64") }
        if let seconds = spec.maxRuntimeSeconds, !(1...(30 * 86_400)).contains(seconds) {
            throw APIError.invalidField("max_runtime_seconds", "must be from 1 second to 30 days")
        }
        if let priority = spec.priority, !(-1000...1000).contains(priority) {
            throw APIError.invalidField("priority", "must be from -1000 to 1000")
        }
        if let environment = spec.environment {
            if let python = environment.python, python.wholeMatch(of: /python3(\.[0-9]{1,2})?/) == nil {
                throw APIError.invalidField("environment.python", "must name a Python 3 interpreter: python3 or python3.N")
            }
            guard environment.requirements.count <= 500,
                environment.requirements.allSatisfy({ !$0.isEmpty && $0.count <= 500 && !$0.contains("\n") && !$0.contains("\0") })
            else {
                throw APIError.invalidField("environment.requirements", "must be at most 500 pip requirement lines of at most 500 characters")
            }
        }
        if let image = spec.environment?.image {
            guard image.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._\-\/:@]{0,254}/) != nil else {
                throw APIError.invalidField("environment.image", "must be a container image reference such as python:3.11-slim")
            }
            guard spec.environment?.requirements.isEmpty ?? true, spec.environment?.python == nil else {
                throw APIError.invalidField(
                    "environment", "give either an image or a Python version with requirements, not both; build the requirements into the image")
            }
        }
        if let code = spec.code {
            guard code.sha256.wholeMatch(of: /[0-9a-f]{64}/) != nil, code.sizeBytes > 0 else {
                throw APIError.invalidField("code", "must name the code archive by its SHA-256 (64 lowercase hex digits) and size")
            }
        }
        var inputNames = Set<String>()
        for input in spec.inputs ?? [] {
            guard input.name.wholeMatch(of: /[A-Za-z][A-Za-z0-9_\-]{0,63}/) != nil, inputNames.insert(input.name.lowercased()).inserted else {
                throw APIError.invalidField("inputs.name", "'\(input.name.prefix(80))' must be a distinct name of letters, digits, _ and -")
            }
            if let layout = input.layout, !["records", "image_folder", "coco", "voc"].contains(layout) {
                throw APIError.invalidField("inputs.layout", "must be records, image_folder, coco or voc")
            }
            if let version = input.version, version < 1 { throw APIError.invalidField("inputs.version", "must be 1 or more") }
        }
        if (spec.inputs ?? []).count > 20 { throw APIError.invalidField("inputs", "may name at most 20 datasets") }
        if let selector = spec.nodeSelector {
            guard selector.count <= 20, selector.allSatisfy({ !$0.key.isEmpty && $0.key.count <= 128 && $0.value.count <= 256 }) else {
                throw APIError.invalidField("node_selector", "must be at most 20 labels with keys of 1 to 128 characters")
            }
        }
        for (key, value) in spec.env ?? [:] {
            guard key.wholeMatch(of: /[A-Za-z_][A-Za-z0-9_]{0,127}/) != nil, value.count <= 10_000, !value.contains("\0") else {
                throw APIError.invalidField("env", "'\(key.prefix(40))' is not a valid environment variable")
            }
            guard !key.hasPrefix("SLIPWAY_"), !key.hasPrefix("MLFLOW_"), key != "CUDA_VISIBLE_DEVICES" else {
                throw APIError.invalidField("env", "'\(key)' is set by Slipway itself")
            }
        }
        return spec
    }

    @Sendable func projectJobs(_ request: Request, context: AppRequestContext) async throws -> ItemList<Job> {
        let (_, project) = try await access.project(context, requires: .viewer)
        return ItemList(items: try await store.compute.jobs(namespaceIDs: nil, projectID: project.id, states: nil, limit: 500))
    }

    /// Jobs in the caller's namespaces, newest first; `?state=queued` narrows them.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<Job> {
        let caller = try access.caller(context)
        let visible = try await caller.visibleNamespaces(store: store)
        var states: [JobState]?
        if let text = FormQuery(request)["state"] {
            guard let state = JobState(rawValue: text) else {
                throw APIError.invalidField("state", "must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            states = [state]
        }
        return ItemList(items: try await store.compute.jobs(namespaceIDs: visible, projectID: nil, states: states, limit: 500))
    }

    /// The job, if the caller may see it with `role`; 404 otherwise.
    func job(_ context: AppRequestContext, requires role: Role) async throws -> Job {
        let text = try context.parameters.require("job")
        guard let id = UUID(uuidString: text), let job = try await store.compute.job(id: id) else {
            throw APIError.notFound("job '\(text.prefix(40))' does not exist")
        }
        do {
            _ = try await access.namespace(job.namespace, context, requires: role)
        } catch let error as APIError where error.status == .notFound {
            throw APIError.notFound("job '\(text.prefix(40))' does not exist")
        }
        return job
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> JobDetail {
        let job = try await job(context, requires: .viewer)
        return JobDetail(job: job, events: try await store.compute.events(jobID: job.id))
    }

    @Sendable func cancel(_ request: Request, context: AppRequestContext) async throws -> Job {
        let job = try await job(context, requires: .developer)
        let cancelled = try await store.compute.cancel(jobID: job.id, by: try access.caller(context).auditActor, at: now())
        if job.state != cancelled.state { await runs.follow(cancelled, at: now()) }
        return cancelled
    }

    /// The job's log from `?offset=` (default 0), or its last `?tail=` characters. With `?follow=true` the answer
    /// streams until the job is over.
    /// The `Slipway-Log-Offset` header says where the text ends, to resume from.
    @Sendable func logs(_ request: Request, context: AppRequestContext) async throws -> Response {
        let job = try await job(context, requires: .viewer)
        let query = FormQuery(request)
        var offset: Int64 = 0
        if let text = query["offset"] {
            guard let value = Int64(text), value >= 0 else { throw APIError.invalidField("offset", "must be a whole number, 0 or more") }
            offset = value
        }
        if let text = query["tail"] {
            // The last `tail` characters: from the log's length back (the length is where an offset past the end stops).
            guard let value = Int64(text), value >= 0 else { throw APIError.invalidField("tail", "must be a whole number, 0 or more") }
            offset = max(0, try await store.compute.logLength(jobID: job.id) - value)
        }
        let follow = query["follow"] == "true" || query["follow"] == "1"
        let store = self.store
        let jobID = job.id
        let start = offset
        if !follow || job.state.isFinal {
            let (text, next) = try await store.compute.log(jobID: jobID, from: offset)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; charset=utf-8", HTTPField.Name("Slipway-Log-Offset")!: String(next)],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let body = ResponseBody { writer in
            var position = start
            while true {
                let (text, next) = try await store.compute.log(jobID: jobID, from: position)
                if !text.isEmpty {
                    try await writer.write(ByteBuffer(string: text))
                    position = next
                }
                guard let current = try await store.compute.job(id: jobID), !current.state.isFinal else {
                    let (rest, _) = try await store.compute.log(jobID: jobID, from: position)
                    if !rest.isEmpty { try await writer.write(ByteBuffer(string: rest)) }
                    break
                }
                try await Task.sleep(for: .milliseconds(300))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"], body: body)
    }
}
