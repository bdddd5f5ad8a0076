import Crypto
import Foundation
import Logging
import SlipwayDomain
import SlipwayStore

/// Records every job as an MLflow run, so a training job's parameters, metrics, outputs and lineage land in
/// tracking without the job doing anything but use the stock client.
///
/// The run is made at submission (status `SCHEDULED`) in the job's experiment, tagged with the job, its code
/// digest and its submitter, with the job's dataset versions as its inputs (which is what the datasets' "Used
/// by" lineage reads). It then follows the job: `RUNNING` when it starts, `FINISHED`, `FAILED` or `KILLED` at the
/// end. The job's process gets `MLFLOW_RUN_ID`, so `mlflow.start_run()` resumes this run.
struct JobRuns: Sendable {
    let store: MetadataStore
    let logger: Logger

    /// The tag naming the job a run records.
    static let jobTag = "slipway.job"
    /// The tag holding the SHA-256 of the job's code archive.
    static let codeTag = "slipway.code.digest"

    /// A job's dataset input resolved to one version.
    struct ResolvedInput: Sendable {
        var input: JobDatasetInput
        var source: String
        var manifestDigest: String
    }

    /// The experiment the job records into: `spec.experiment` (a plain name, or `NAMESPACE/PROJECT/NAME` of the
    /// job's own project), else the job's name, always inside the job's project.
    /// - Throws: 400 `invalid_field` when it names another project.
    static func experimentName(_ spec: JobSpec, namespace: String, project: String) throws -> String {
        let wanted = (spec.experiment ?? spec.name).trimmingCharacters(in: .whitespaces)
        let parts = wanted.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1 where !wanted.isEmpty && wanted.count <= 200:
            return "\(namespace)/\(project)/\(wanted)"
        case 3 where parts[0] == namespace && parts[1] == project && !parts[2].isEmpty:
            return wanted
        default:
            throw APIError.invalidField(
                "experiment", "must be a name of at most 200 characters without '/', or '\(namespace)/\(project)/NAME' in the job's own project")
        }
    }

    /// Creates the job's run (and its experiment when new) and logs its inputs.
    /// - Returns: the run's and the experiment's ids.
    func createRun(
        for job: Job, in project: Project, inputs: [ResolvedInput], by actor: AuditActor
    ) async throws -> (
        runID: String, experimentID: String
    ) {
        let name = try Self.experimentName(job.spec, namespace: job.namespace, project: job.project)
        let experiment = try await experiment(named: name, in: project, by: actor)
        let runID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var tags = [
            KeyValue(key: "mlflow.runName", value: job.spec.name),
            KeyValue(key: "mlflow.user", value: job.createdBy),
            KeyValue(key: "mlflow.source.type", value: "JOB"),
            KeyValue(key: "mlflow.source.name", value: String(job.spec.command.prefix(500))),
            KeyValue(key: Self.jobTag, value: job.id.uuidString.lowercased()),
        ]
        if let code = job.spec.code { tags.append(KeyValue(key: Self.codeTag, value: code.sha256)) }
        let info = RunInfo(
            runID: runID, experimentID: experiment.id, name: job.spec.name, userID: job.createdBy, status: .scheduled,
            startTime: Self.millis(job.createdAt), endTime: nil, artifactURI: "\(experiment.artifactLocation)/\(runID)/artifacts",
            lifecycleStage: .active)
        try await store.tracking.createRun(info, tags: tags)
        if !inputs.isEmpty {
            try await store.tracking.logInputs(
                runID: runID,
                inputs.map {
                    RunDatasetInput(
                        name: $0.input.name, digest: String($0.manifestDigest.prefix(8)), sourceType: DatasetLineage.sourceType, source: $0.source,
                        schema: nil, profile: nil, tags: [KeyValue(key: "mlflow.data.context", value: "training")])
                })
        }
        return (runID, experiment.id)
    }

    /// The experiment of that name, created in `project` when there is none.
    private func experiment(named name: String, in project: Project, by actor: AuditActor) async throws -> Experiment {
        if let existing = try await store.tracking.experiment(named: name) {
            guard existing.lifecycleStage == .active else {
                throw APIError.badRequest(
                    "experiment_deleted", "the experiment '\(name)' is deleted; restore it or name another experiment for the job")
            }
            return existing
        }
        do {
            return try await store.tracking.createExperiment(
                id: nil, name: name, in: project, artifactRoot: MLflowTrackingController.artifactRoot, tags: [], by: actor)
        } catch let error as StoreError where error.isAlreadyExists {
            // Another submission made it first.
            guard let made = try await store.tracking.experiment(named: name) else { throw error }
            return made
        }
    }

    /// Moves the job's run with the job's state. Failures are logged, never thrown: the job's state is what counts.
    func follow(_ job: Job, at time: Date) async {
        guard let runID = job.runId else { return }
        let status: RunStatus? =
            switch job.state {
            case .running: .running
            case .succeeded: .finished
            case .failed, .lost: .failed
            case .cancelled: .killed
            case .queued, .scheduled, .preparing: nil
            }
        guard let status else { return }
        do {
            try await store.tracking.updateRun(id: runID, status: status, endTime: job.state.isFinal ? Self.millis(time) : nil, name: nil)
        } catch {
            logger.warning("could not mark run \(runID) of job \(job.id) \(status.rawValue): \(error)")
        }
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// The hex SHA-256 of a version's manifest: the digest MLflow shows for the dataset input.
    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
