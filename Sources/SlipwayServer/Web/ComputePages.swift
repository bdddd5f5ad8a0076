import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// The web UI of the Compute area: the queue and the jobs the user may see, a job with its state history and
/// a live log, and the nodes with their capacity, what is allocated on them and what they use. Access rules
/// are the API's: every page calls ``JobController`` or ``NodeController`` for what it shows and changes.
struct ComputePages: Sendable {
    let pages: PageRenderer
    let store: MetadataStore
    let jobs: JobController
    let nodes: NodeController

    /// The most log text the job page carries; the page says when earlier output was left out.
    static let logLimit = 256 << 10

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("jobs", use: jobsPage)
        group.get("jobs/{job}", use: jobPage)
        group.post("jobs/{job}/cancel", use: cancelJob)
        group.get("nodes", use: nodesPage)
        group.post("nodes/{node}/cordon", use: cordonNode)
        group.post("nodes/{node}/drain", use: drainNode)
        group.post("nodes/{node}/uncordon", use: uncordonNode)
    }

    // MARK: - The queue and the jobs

    /// Jobs the caller may see (``JobController/list(_:context:)``), newest first, with the waiting jobs by priority
    /// then age. `?state=` narrows the list as it does in the API.
    @Sendable func jobsPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let listed = try await jobs.list(request, context: context).items
        let now = jobs.now()
        let filter = FormQuery(request)["state"].flatMap(JobState.init(rawValue:))
        let queue = Self.queueOrder(listed.filter { $0.state == .queued })
        let filters =
            [JobsPage.Filter(label: "all", href: "/jobs", active: filter == nil)]
            + JobState.allCases.map { .init(label: $0.rawValue, href: "/jobs?state=\($0.rawValue)", active: $0 == filter) }
        let positioned = queue.enumerated().map { JobsPage.Row($0.element, now: now, position: $0.offset + 1) }
        let page = JobsPage(
            layout: .make(context.caller, section: "/jobs"), filters: filters, filter: filter?.rawValue ?? "",
            queue: filter == nil ? positioned : [], ordered: filter == .queued,
            jobs: filter == .queued ? positioned : listed.map { JobsPage.Row($0, now: now, position: nil) },
            // The API answers at most 500 jobs.
            truncated: listed.count >= 500)
        return pages.render("jobs", page)
    }

    /// Queued jobs by priority, then age: the order `fifo` takes them, and each namespace's order under `drf`, which
    /// also shares the cluster between namespaces (the scheduler's `reason` says why a job still waits).
    static func queueOrder(_ jobs: [Job]) -> [Job] {
        jobs.sorted {
            ($0.spec.priority ?? 0, -$0.createdAt.timeIntervalSince1970) > ($1.spec.priority ?? 0, -$1.createdAt.timeIntervalSince1970)
        }
    }

    @Sendable func jobPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await jobPage(request, context: context, flash: nil, status: .ok)
    }

    private func jobPage(
        _ request: Request, context: AppRequestContext, flash: LayoutView.Flash?, status: HTTPResponse.Status
    ) async throws -> Response {
        let detail = try await jobs.show(request, context: context)
        let job = detail.job
        let role = try await jobs.access.namespace(job.namespace, context, requires: .viewer).role
        // Only the end of a long log is read: the page links to the whole.
        let start = max(0, try await store.compute.logLength(jobID: job.id) - Int64(Self.logLimit))
        let (log, next) = try await store.compute.log(jobID: job.id, from: start)
        let omitted = start > 0
        let shown = log
        let page = JobPage(
            layout: .make(context.caller, section: "/jobs", flash: flash), job: .init(job, now: jobs.now()),
            spec: .init(job.spec), events: detail.events.map { .init($0) }, log: shown, logOffset: next, logOmitted: omitted,
            canCancel: role.includes(.developer) && !job.state.isFinal)
        return pages.render("job", page, status: status)
    }

    /// Cancels the job (``JobController/cancel(_:context:)``: developers and up), then shows its page again.
    @Sendable func cancelJob(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try jobs.access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        do {
            let job = try await jobs.cancel(request, context: context)
            return Self.redirect("/jobs/\(job.id.uuidString.lowercased())")
        } catch let error as APIError where error.status != .notFound {
            return try await jobPage(request, context: context, flash: .init(kind: "error", message: error.message), status: error.status)
        }
    }

    // MARK: - Nodes

    @Sendable func nodesPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await nodesPage(request, context: context, flash: nil, status: .ok)
    }

    /// Every node (``NodeController/list(_:context:)``: any signed-in user), with bars for what the jobs placed on it
    /// hold and what it last reported using, against its capacity.
    private func nodesPage(
        _ request: Request, context: AppRequestContext, flash: LayoutView.Flash?, status: HTTPResponse.Status
    ) async throws -> Response {
        let caller = try jobs.access.caller(context)
        let listed = try await nodes.list(request, context: context).items
        let now = jobs.now()
        let rows = listed.sorted { $0.name < $1.name }.map { node in
            NodesPage.Row(
                node, allocation: NodeAllocation(resources: node.allocated ?? .zero, jobs: node.placedJobs ?? 0), now: now,
                isAdmin: caller.user.isAdmin)
        }
        let page = NodesPage(layout: .make(context.caller, section: "/nodes", flash: flash), nodes: rows, isAdmin: caller.user.isAdmin)
        return pages.render("nodes", page, status: status)
    }

    @Sendable func cordonNode(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await nodeForm(request, context: context) { try await nodes.cordon(request, context: context) }
    }

    @Sendable func drainNode(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await nodeForm(request, context: context) { try await nodes.drain(request, context: context) }
    }

    @Sendable func uncordonNode(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await nodeForm(request, context: context) { try await nodes.uncordon(request, context: context) }
    }

    /// Runs an administrator's change of a node's state, then shows the nodes again (with the error, if it failed).
    private func nodeForm(
        _ request: Request, context: AppRequestContext, _ change: @Sendable () async throws -> ComputeNode
    ) async throws -> Response {
        let caller = try jobs.access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        do {
            _ = try await change()
            return Self.redirect("/nodes")
        } catch let error as APIError where error.status != .notFound {
            return try await nodesPage(request, context: context, flash: .init(kind: "error", message: error.message), status: error.status)
        }
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    // MARK: - Formatting

    /// `0.5`, `2`, `1.25`: cores and other counts without needless decimals.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e12 { return String(Int64(value)) }
        return String(format: "%.2f", value).replacingOccurrences(of: #"\.?0+$"#, with: "", options: .regularExpression)
    }

    /// `512 MiB`, `1.5 GiB`, `16 GiB`: memory in the binary units job specs are written in.
    static func memory(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : "\(number((value * 10).rounded() / 10)) \(units[unit])"
    }

    /// `2 CPU · 4 GiB · 1 GPU`.
    static func resources(_ resources: ComputeResources) -> String {
        "\(number(resources.cpu)) CPU · \(memory(resources.memoryBytes)) · \(resources.gpu) GPU"
    }

    /// `42 s`, `3 min 5 s`, `2 h 10 min`.
    static func duration(_ seconds: TimeInterval) -> String {
        let whole = max(0, Int(seconds.rounded()))
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min" + (whole % 60 == 0 ? "" : " \(whole % 60) s") }
        return "\(whole / 3600) h" + (whole % 3600 / 60 == 0 ? "" : " \(whole % 3600 / 60) min")
    }
}

extension Date {
    /// `2026-11-25 14:03:07` in UTC: job pages show seconds, which the state history needs.
    var pageSecondsText: String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: self)
    }
}

// MARK: - Page models

struct JobsPage: Sendable {
    struct Filter: Sendable {
        var label: String
        var href: String
        var active: Bool
    }
    struct Row: Sendable {
        var id: String
        var name: String
        var namespace: String
        var project: String
        var state: String
        var reason: String
        var resources: String
        var node: String
        var attempts: String
        var submitted: String
        var started: String
        var by: String
        var priority: String
        /// How long since it was submitted: a queued job's wait.
        var waiting: String
        /// The place in the queue (one entry) for queued jobs listed by priority then age.
        var position: [Int]

        init(_ job: Job, now: Date, position: Int?) {
            id = job.id.uuidString.lowercased()
            name = job.spec.name
            namespace = job.namespace
            project = job.project
            state = job.state.rawValue
            reason = job.reason
            resources = ComputePages.resources(job.spec.resources)
            node = job.node ?? ""
            attempts = "\(job.attempts) / \(job.maxAttempts)"
            submitted = job.createdAt.pageSecondsText
            started = job.startedAt?.pageSecondsText ?? ""
            by = job.createdBy
            priority = String(job.spec.priority ?? 0)
            waiting = ComputePages.duration(now.timeIntervalSince(job.createdAt))
            self.position = position.map { [$0] } ?? []
        }
    }
    var layout: LayoutView
    var filters: [Filter]
    var filter: String
    /// Without a filter: the waiting jobs by priority then age, above the list.
    var queue: [Row]
    /// Whether the list itself is the queue by priority then age (`?state=queued`), with positions.
    var ordered: Bool
    var jobs: [Row]
    var truncated: Bool
}

struct JobPage: Sendable {
    struct JobView: Sendable {
        var id: String
        var name: String
        var namespace: String
        var project: String
        var state: String
        var isFinal: Bool
        var reason: String
        var exitCode: String
        var node: String
        var gpuDevices: String
        var attempts: String
        var submitted: String
        var started: String
        var finished: String
        var duration: String
        var by: String
        /// The MLflow run recording the job (none or one id).
        var run: [String]

        init(_ job: Job, now: Date) {
            id = job.id.uuidString.lowercased()
            name = job.spec.name
            namespace = job.namespace
            project = job.project
            state = job.state.rawValue
            isFinal = job.state.isFinal
            reason = job.reason
            exitCode = job.exitCode.map(String.init) ?? "—"
            node = job.node ?? "—"
            gpuDevices = job.gpuDevices.isEmpty ? "—" : job.gpuDevices.map(String.init).joined(separator: ", ")
            attempts = "\(job.attempts) of \(job.maxAttempts)"
            submitted = job.createdAt.pageSecondsText
            started = job.startedAt?.pageSecondsText ?? "—"
            finished = job.finishedAt?.pageSecondsText ?? "—"
            duration = job.startedAt.map { ComputePages.duration((job.finishedAt ?? now).timeIntervalSince($0)) } ?? "—"
            by = job.createdBy
            run = job.runId.map { [$0] } ?? []
        }
    }
    struct Pair: Sendable {
        var key: String
        var value: String
    }
    struct SpecView: Sendable {
        var command: String
        var cpu: String
        var memory: String
        var gpu: String
        var priority: String
        var maxRuntime: String
        var python: String
        var requirements: [String]
        /// A container image the command runs in (none or one).
        var image: [String]
        /// The code archive's SHA-256 and size (none or one).
        var code: [Pair]
        var inputs: [Pair]
        var nodeSelector: [String]
        var experiment: String
        var env: [Pair]

        init(_ spec: JobSpec) {
            command = spec.command
            cpu = ComputePages.number(spec.resources.cpu)
            memory = ComputePages.memory(spec.resources.memoryBytes)
            gpu = String(spec.resources.gpu)
            priority = String(spec.priority ?? 0)
            maxRuntime = spec.maxRuntimeSeconds.map { ComputePages.duration(TimeInterval($0)) } ?? "no limit"
            python = spec.environment?.python ?? "python3"
            requirements = spec.environment?.requirements ?? []
            image = spec.environment?.image.map { [$0] } ?? []
            code = spec.code.map { [Pair(key: $0.sha256, value: ComputePages.memory($0.sizeBytes) + ($0.files.map { ", \($0) files" } ?? ""))] } ?? []
            inputs = (spec.inputs ?? []).map {
                Pair(key: $0.name, value: $0.dataset + ($0.version.map { " v\($0)" } ?? " (latest)") + ($0.layout.map { ", \($0)" } ?? ""))
            }
            nodeSelector = (spec.nodeSelector ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            experiment = spec.experiment ?? spec.name
            env = (spec.env ?? [:]).sorted { $0.key < $1.key }.map { Pair(key: $0.key, value: $0.value) }
        }
    }
    struct Event: Sendable {
        var time: String
        var state: String
        var reason: String
        var node: String

        init(_ event: JobEvent) {
            time = event.at.pageSecondsText
            state = event.state.rawValue
            reason = event.reason
            node = event.node ?? ""
        }
    }
    var layout: LayoutView
    var job: JobView
    var spec: SpecView
    var events: [Event]
    var log: String
    /// Where the shown log ends, for the page's script to go on from.
    var logOffset: Int64
    var logOmitted: Bool
    var canCancel: Bool
}

struct NodesPage: Sendable {
    /// One resource of a node: capacity, allocated and used, as text and as bar widths in percent.
    struct Meter: Sendable {
        var label: String
        var kind: String
        /// Whether the node has any of it (a CPU-only node has no GPUs to allocate).
        var hasCapacity: Bool
        var allocatedText: String
        var usedText: String
        var allocatedPercent: String
        var usedPercent: String

        init(label: String, kind: String, capacity: Double, allocated: Double, used: Double, format: (Double) -> String, unit: String) {
            self.label = label
            self.kind = kind
            hasCapacity = capacity > 0
            allocatedText = hasCapacity ? "\(format(allocated)) / \(format(capacity))\(unit) allocated" : "none on this node"
            usedText = "\(format(used))\(unit) used"
            allocatedPercent = Self.percent(allocated, of: capacity)
            usedPercent = Self.percent(used, of: capacity)
        }

        /// `37.5`: the share of `capacity`, from 0 to 100.
        static func percent(_ part: Double, of capacity: Double) -> String {
            guard capacity > 0, part > 0 else { return "0" }
            return ComputePages.number((min(100, part / capacity * 100) * 10).rounded() / 10)
        }
    }
    struct GPU: Sendable {
        var index: Int
        var model: String
        var memory: String
    }
    struct Row: Sendable {
        var name: String
        var state: String
        var labels: [String]
        var gpus: [GPU]
        var meters: [Meter]
        var jobs: Int
        var jobsText: String
        var lastHeartbeat: String
        var registered: String
        var canCordon: Bool
        var canDrain: Bool
        var canUncordon: Bool

        init(_ node: ComputeNode, allocation: NodeAllocation, now: Date, isAdmin: Bool) {
            name = node.name
            state = node.state.rawValue
            labels = node.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            gpus = node.gpus.sorted { $0.index < $1.index }.map { GPU(index: $0.index, model: $0.model, memory: ComputePages.memory($0.memoryBytes)) }
            let capacity = node.capacity
            let held = allocation.resources
            meters = [
                Meter(
                    label: "CPU", kind: "cpu", capacity: capacity.cpu, allocated: held.cpu, used: node.usage.cpu, format: ComputePages.number,
                    unit: " cores"),
                Meter(
                    label: "Memory", kind: "memory", capacity: Double(capacity.memoryBytes), allocated: Double(held.memoryBytes),
                    used: Double(node.usage.memoryBytes), format: { ComputePages.memory(Int64($0)) }, unit: ""),
                Meter(
                    label: "GPU", kind: "gpu", capacity: Double(capacity.gpu), allocated: Double(held.gpu), used: Double(node.usage.gpu),
                    format: ComputePages.number, unit: capacity.gpu == 1 ? " GPU" : " GPUs"),
            ]
            jobs = allocation.jobs
            jobsText = allocation.jobs == 1 ? "1 job placed" : "\(allocation.jobs) jobs placed"
            lastHeartbeat = "\(node.lastHeartbeatAt.pageSecondsText) (\(ComputePages.duration(now.timeIntervalSince(node.lastHeartbeatAt))) ago)"
            registered = node.registeredAt.pageText
            canCordon = isAdmin && node.state == .ready
            canDrain = isAdmin && (node.state == .ready || node.state == .cordoned)
            canUncordon = isAdmin && (node.state == .cordoned || node.state == .draining)
        }
    }
    var layout: LayoutView
    var nodes: [Row]
    var isAdmin: Bool
}
