import Foundation
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
}
