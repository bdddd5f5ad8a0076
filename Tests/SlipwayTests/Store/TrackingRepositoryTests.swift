import Foundation
import SQLKit
import SlipwayDomain
import SlipwayStore
import Testing

/// The tracking repository on every backend: experiment ids, metric history and latest values (NaN and
/// infinities included), immutable params, tags, inputs and lifecycle.
@Suite("Tracking repository")
struct TrackingRepositoryTests {
    static func project(_ database: Database) async throws -> Project {
        let store = MetadataStore.sql(database)
        let owner = try await store.users.create(NewUser(username: try ResourceName(validating: "ada")), passwordHash: "h", by: .system)
        let namespace = try await store.namespaces.create(
            name: try ResourceName(validating: "team"), displayName: nil, description: "", owner: owner.id, by: .system)
        return try await store.projects.create(in: namespace, name: try ResourceName(validating: "p"), description: "", by: .system)
    }

    static func run(_ id: String, experiment: String, start: Int64 = 1) -> RunInfo {
        RunInfo(
            runID: id, experimentID: experiment, name: id, userID: "ada", status: .running, startTime: start, endTime: nil,
            artifactURI: "mlflow-artifacts:/\(experiment)/\(id)/artifacts", lifecycleStage: .active)
    }

    @Test(arguments: TestBackend.available)
    func metricsKeepTheirHistoryAndTheLatestValueByStepThenTime(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let tracking = SQLTrackingRepository(database: database)
            let project = try await Self.project(database)
            let zero = try await tracking.createExperiment(
                id: 0, name: "Default", in: project, artifactRoot: "mlflow-artifacts:", tags: [], by: .system)
            let next = try await tracking.createExperiment(
                id: nil, name: "second", in: project, artifactRoot: "mlflow-artifacts:", tags: [KeyValue(key: "k", value: "v")], by: .system)
            #expect(zero.id == "0")
            #expect(next.id == "1")
            #expect(next.artifactLocation == "mlflow-artifacts:/1")
            #expect(next.tags == [KeyValue(key: "k", value: "v")])
            await #expect(throws: StoreError.self) {
                _ = try await tracking.createExperiment(id: nil, name: "second", in: project, artifactRoot: "x", tags: [], by: .system)
            }

            try await tracking.createRun(Self.run("r1", experiment: "1"), tags: [KeyValue(key: "mlflow.user", value: "ada")])
            let points = [
                MetricPoint(key: "loss", value: 3, timestamp: 10, step: 0), MetricPoint(key: "loss", value: 1, timestamp: 5, step: 2),
                MetricPoint(key: "loss", value: 2, timestamp: 20, step: 1), MetricPoint(key: "odd", value: .nan, timestamp: 1, step: 0),
                MetricPoint(key: "big", value: -.infinity, timestamp: 1, step: 0),
            ]
            try await tracking.log(runID: "r1", metrics: points, params: [KeyValue(key: "lr", value: "0.1")], tags: [])
            try await tracking.log(runID: "r1", metrics: Array(points.prefix(2)), params: [KeyValue(key: "lr", value: "0.1")], tags: [])
            let history = try await tracking.metricHistory(runID: "r1", key: "loss")
            #expect(history.map(\.step) == [0, 1, 2], "repeated points are kept once, in step order")
            let detail = try #require(try await tracking.run(id: "r1"))
            let latest = Dictionary(uniqueKeysWithValues: detail.metrics.map { ($0.key, $0.value) })
            #expect(latest["loss"] == 1, "the highest step wins, not the latest timestamp")
            #expect(latest["odd"]?.isNaN == true)
            #expect(latest["big"] == -.infinity)
            #expect(detail.params == [KeyValue(key: "lr", value: "0.1")])
            await #expect(throws: StoreError.self) {
                try await tracking.log(runID: "r1", metrics: [], params: [KeyValue(key: "lr", value: "0.2")], tags: [])
            }
            #expect(try await tracking.run(id: "r1")?.params == [KeyValue(key: "lr", value: "0.1")], "a refused change leaves the param")
        }
    }

    @Test(arguments: TestBackend.available)
    func runsAreFoundByExperimentAndLifecycleWithTagsAndInputs(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let tracking = SQLTrackingRepository(database: database)
            let project = try await Self.project(database)
            let experiment = try await tracking.createExperiment(id: nil, name: "e", in: project, artifactRoot: "a", tags: [], by: .system)
            for (index, id) in ["a", "b", "c"].enumerated() {
                try await tracking.createRun(Self.run(id, experiment: experiment.id, start: Int64(index)), tags: [KeyValue(key: "n", value: id)])
            }
            try await tracking.setRunLifecycle(id: "b", .deleted)
            try await tracking.logInputs(
                runID: "a",
                [
                    RunDatasetInput(
                        name: "iris", digest: "d1", sourceType: "slipway", source: "team/p/iris@1", schema: nil, profile: nil,
                        tags: [KeyValue(key: "mlflow.data.context", value: "training")])
                ])
            #expect(try await tracking.deleteTag(runID: "c", key: "n"))
            #expect(try await !tracking.deleteTag(runID: "c", key: "n"))
            try await tracking.updateRun(id: "c", status: .finished, endTime: 99, name: "renamed")
            let active = try await tracking.runs(inExperiments: [experiment.id], lifecycle: [.active])
            #expect(active.map(\.info.runID) == ["c", "a"], "newest first")
            #expect(active[0].info.status == .finished)
            #expect(active[0].info.name == "renamed")
            #expect(active[0].tags == [KeyValue(key: "mlflow.runName", value: "renamed")])
            #expect(active[1].inputs.first?.source == "team/p/iris@1")
            #expect(try await tracking.runs(inExperiments: [experiment.id], lifecycle: [.deleted]).map(\.info.runID) == ["b"])
            try await tracking.updateExperiment(id: experiment.id, name: "e2", lifecycleStage: .deleted, by: .system)
            let renamed = try #require(try await tracking.experiment(named: "e2"))
            #expect(renamed.lifecycleStage == .deleted)
        }
    }

    /// Artifact paths are index keys (`artifacts`, and the blob reference's owner); up to the limit, in bytes, they
    /// fit on every backend (PostgreSQL's B-tree entries hold about 2,700 bytes); past it they are refused.
    @Test(arguments: TestBackend.available)
    func artifactPathsUpToTheLimitAreStoredAndLongerOnesRefused(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let store = MetadataStore.sql(database)
            let project = try await Self.project(database)
            let experiment = try await store.tracking.createExperiment(id: nil, name: "long", in: project, artifactRoot: "a", tags: [], by: .system)
            let prefix = "\(experiment.id)/run/artifacts/"
            let longest = prefix + String(repeating: "é", count: (ArtifactFile.maximumPathBytes - prefix.utf8.count) / 2)
            #expect(longest.utf8.count <= ArtifactFile.maximumPathBytes && longest.utf8.count >= ArtifactFile.maximumPathBytes - 1)
            let digest = String(repeating: "a", count: 64)
            try await store.artifacts.put(path: longest, experimentID: experiment.id, digest: digest, size: 1)
            #expect(try await store.artifacts.file(at: longest)?.digest == digest)
            await #expect(throws: StoreError.self) {
                try await store.artifacts.put(path: longest + "éé", experimentID: experiment.id, digest: digest, size: 1)
            }
            #expect(try await store.artifacts.files(under: prefix).count == 1, "the refused path left nothing")
        }
    }

    /// Runs `body` `count` times at once and collects what each returned.
    static func race<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: T.self) { group in
            for index in 0..<count { group.addTask { try await body(index) } }
            return try await group.reduce(into: [T]()) { $0.append($1) }
        }
    }

    /// `true` when `body` succeeded, `false` when it was told the resource already exists; anything else fails.
    static func wins(_ body: () async throws -> Void) async throws -> Bool {
        do {
            try await body()
            return true
        } catch let error as StoreError where error.isAlreadyExists {
            return false
        }
    }

    /// Writers racing on keys nobody has written yet — a metric, a tag, a param, an experiment name, a
    /// registered model and its versions, an alias, an artifact path, a logged model's tags and params. On
    /// PostgreSQL check-then-insert loses such races at the unique index (a 500 to the client); every write
    /// here must either land or be told the name is taken, and leave one consistent row.
    @Test(arguments: TestBackend.available)
    func concurrentWritersOfTheSameNewKeysNeverCollide(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let store = MetadataStore.sql(database)
            let tracking = store.tracking
            let project = try await Self.project(database)
            let experiment = try await tracking.createExperiment(id: nil, name: "race", in: project, artifactRoot: "a", tags: [], by: .system)
            let writers = 16
            for round in 0..<3 {
                let runID = "race\(round)"
                try await tracking.createRun(Self.run(runID, experiment: experiment.id), tags: [])
                _ = try await Self.race(writers) { index in
                    try await tracking.log(
                        runID: runID, metrics: [MetricPoint(key: "loss", value: Double(index), timestamp: 1, step: Int64(index))],
                        params: [KeyValue(key: "seed", value: "7")], tags: [KeyValue(key: "owner", value: "w\(index)")])
                }
                let detail = try #require(try await tracking.run(id: runID))
                #expect(detail.metrics.map(\.key) == ["loss"])
                #expect(detail.metrics.first?.value == Double(writers - 1), "the highest step is the latest value, whoever wrote last")
                #expect(try await tracking.metricHistory(runID: runID, key: "loss").count == writers)
                #expect(detail.params == [KeyValue(key: "seed", value: "7")])
                #expect(detail.tags.map(\.key) == ["owner"])
                // A different value for a param raced in by another writer is still refused.
                let changed = try await Self.race(4) { index in
                    do {
                        try await tracking.log(runID: runID, metrics: [], params: [KeyValue(key: "fresh\(round)", value: "v\(index)")], tags: [])
                        return true
                    } catch let error as StoreError where error.code == "param_changed" {
                        return false
                    }
                }
                #expect(changed.filter { $0 }.count == 1, "one value of a new param wins; the others are refused")
                _ = try await Self.race(writers) { _ in
                    try await tracking.logInputs(
                        runID: runID,
                        [
                            RunDatasetInput(
                                name: "iris", digest: "d", sourceType: "slipway", source: "team/p/iris@1", schema: nil, profile: nil, tags: [])
                        ])
                }
                #expect(try await tracking.run(id: runID)?.inputs.count == 1)

                let created = try await Self.race(writers) { _ in
                    try await Self.wins {
                        _ = try await tracking.createExperiment(id: nil, name: "same-\(round)", in: project, artifactRoot: "a", tags: [], by: .system)
                    }
                }
                #expect(created.filter { $0 }.count == 1, "one experiment of a name; the others are told it exists")
                _ = try await Self.race(writers) { index in
                    try await tracking.setExperimentTag(id: experiment.id, KeyValue(key: "note\(round)", value: "\(index)"))
                }
                #expect(try await tracking.experiment(id: experiment.id)?.tags.filter { $0.key == "note\(round)" }.count == 1)

                let registered = try await Self.race(writers) { _ in
                    try await Self.wins {
                        try await store.registry.createModel(name: "model-\(round)", in: project, description: "", tags: [], by: .system)
                    }
                }
                #expect(registered.filter { $0 }.count == 1)
                let versions = try await Self.race(writers) { _ in
                    try await store.registry.createVersion(
                        ModelVersion(
                            name: "model-\(round)", version: 0, creationTime: 1, lastUpdatedTime: 1, description: "", userID: "ada", stage: .none,
                            source: "runs:/\(runID)/model", runID: runID, runLink: nil, modelID: nil, storageLocation: "x", approved: false, tags: []),
                        by: .system
                    ).version
                }
                #expect(versions.sorted() == Array(1...writers), "concurrent versions get distinct numbers")
                _ = try await Self.race(writers) { index in
                    try await store.registry.setAlias("model-\(round)", alias: "champion", version: index + 1)
                    try await store.registry.setModelTag("model-\(round)", KeyValue(key: "task", value: "\(index)"))
                    try await store.registry.setVersionTag("model-\(round)", 1, KeyValue(key: "checked", value: "\(index)"))
                }
                let model = try #require(try await store.registry.model(named: "model-\(round)"))
                #expect(model.aliases.count == 1 && model.tags.map(\.key) == ["task"])
                #expect(try await store.registry.version("model-\(round)", 1)?.tags.map(\.key) == ["checked"])

                let path = "\(experiment.id)/\(runID)/artifacts/model.pkl"
                _ = try await Self.race(writers) { index in
                    try await store.artifacts.put(
                        path: path, experimentID: experiment.id, digest: String(repeating: "\(index % 10)", count: 64), size: 1)
                }
                let file = try #require(try await store.artifacts.file(at: path))
                #expect(try await store.artifacts.files(under: "\(experiment.id)/\(runID)/").count == 1)
                let references = try await database.read { db in
                    try await db.select().column("digest").from("blob_references").where("owner_type", .equal, "artifact")
                        .where("owner_id", .equal, path).all(decodingColumn: "digest", as: String.self)
                }
                #expect(references == [file.digest], "the one reference left is the stored file's")

                let modelID = "m-race\(round)"
                try await store.loggedModels.create(
                    LoggedModel(
                        modelID: modelID, experimentID: experiment.id, name: "m", artifactURI: "a", status: "LOGGED_MODEL_PENDING",
                        statusMessage: "", creator: "ada", modelType: "", sourceRunID: runID, lifecycleStage: .active, creationTime: 1,
                        lastUpdatedTime: 1, tags: [], params: [], metrics: []))
                _ = try await Self.race(writers) { index in
                    try await store.loggedModels.setTags(id: modelID, [KeyValue(key: "stage", value: "\(index)")])
                    try await store.loggedModels.logParams(id: modelID, [KeyValue(key: "C", value: "1.0")])
                }
                let logged = try #require(try await store.loggedModels.model(id: modelID))
                #expect(logged.tags.map(\.key) == ["stage"] && logged.params == [KeyValue(key: "C", value: "1.0")])
            }
        }
    }
}
