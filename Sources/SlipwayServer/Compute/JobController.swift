import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayDomain
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
        let spec = try Self.validated(try await request.decodeJSON(JobSpec.self, context: context))
        let quota = try await store.namespaces.quota(of: namespace.namespace)
        if let problem = Self.exceeds(spec.resources, quota) {
            throw APIError.badRequest("exceeds_quota", "the job asks for more than namespace '\(namespace.namespace.name)' may ever use: \(problem)")
        }
        let job = Job(
            id: UUID(), namespace: namespace.namespace.name.value, project: project.name.value, spec: spec, state: .queued,
            reason: "submitted by \(namespace.caller.user.username)", attempts: 0, maxAttempts: Self.maxAttempts, node: nil, gpuDevices: [],
            exitCode: nil, createdBy: namespace.caller.user.username.value, createdAt: now(), startedAt: nil, finishedAt: nil)
        try await store.compute.createJob(job, namespaceID: namespace.namespace.id, projectID: project.id, by: namespace.caller.auditActor)
        return Created(value: job)
    }

    /// What in `resources` is beyond `quota`, for people; nil when it fits.
    static func exceeds(_ resources: ComputeResources, _ quota: Quota) -> String? {
        var problems: [String] = []
        if let cpu = quota.cpu, resources.cpu > cpu { problems.append("cpu \(resources.cpu) > \(cpu)") }
        if let memory = quota.memoryBytes, resources.memoryBytes > memory { problems.append("memory \(resources.memoryBytes) > \(memory) bytes") }
        if let gpu = quota.gpu, resources.gpu > gpu { problems.append("gpu \(resources.gpu) > \(gpu)") }
        return problems.isEmpty ? nil : problems.joined(separator: ", ")
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
        let visible: [UUID]? =
            caller.user.isAdmin
            ? nil : try await store.namespaces.list(memberID: caller.user.id).filter { $0.role != nil }.map(\.namespace.id)
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
        return try await store.compute.cancel(jobID: job.id, by: try access.caller(context).auditActor, at: now())
    }

    /// The job's log from `?offset=` (default 0). With `?follow=true` the answer streams until the job is over.
    /// The `Slipway-Log-Offset` header says where the text ends, to resume from.
    @Sendable func logs(_ request: Request, context: AppRequestContext) async throws -> Response {
        let job = try await job(context, requires: .viewer)
        let query = FormQuery(request)
        var offset: Int64 = 0
        if let text = query["offset"] {
            guard let value = Int64(text), value >= 0 else { throw APIError.invalidField("offset", "must be a whole number, 0 or more") }
            offset = value
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
