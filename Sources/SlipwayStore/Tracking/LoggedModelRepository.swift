import Foundation
import SQLKit
import SlipwayDomain

/// MLflow 3 logged models: created pending, filled with artifacts, finalized; with tags, params, the
/// metrics logged against them, and the runs that output them.
public protocol LoggedModelRepository: Sendable {
    func create(_ model: LoggedModel) async throws
    func model(id: String) async throws -> LoggedModel?
    /// The models of the experiments (not deleted).
    func models(inExperiments ids: [String]) async throws -> [LoggedModel]
    func setStatus(id: String, status: String) async throws
    func setTags(id: String, _ tags: [KeyValue]) async throws
    func deleteTag(id: String, key: String) async throws -> Bool
    /// Adds params; a different value for a param the model has is refused (`param_changed`).
    func logParams(id: String, _ params: [KeyValue]) async throws
    func logMetrics(_ metrics: [(modelID: String, metric: LoggedModelMetric)]) async throws
    func markDeleted(id: String) async throws
    /// Records that the run produced the models (`runs/outputs`).
    func recordOutputs(runID: String, _ outputs: [(modelID: String, step: Int64)]) async throws
}

/// Logged models in the SQL database.
public struct SQLLoggedModelRepository: LoggedModelRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(_ model: LoggedModel) async throws {
        guard let experiment = Int64(model.experimentID) else { throw StoreError.notFound("experiment", model.experimentID) }
        try await database.write { db in
            try await db.insert(into: "logged_models")
                .columns(
                    "model_id", "experiment_id", "name", "artifact_uri", "status", "status_message", "creator", "model_type", "source_run_id",
                    "lifecycle_stage", "creation_time", "last_updated_time"
                )
                .values(
                    SQLBind(model.modelID), SQLBind(experiment), SQLBind(model.name), SQLBind(model.artifactURI), SQLBind(model.status),
                    SQLBind(model.statusMessage), SQLBind(model.creator), SQLBind(model.modelType), SQLBind(model.sourceRunID),
                    SQLBind(model.lifecycleStage.rawValue), SQLBind(model.creationTime), SQLBind(model.lastUpdatedTime)
                ).run()
            for (table, pairs) in [("logged_model_tags", model.tags), ("logged_model_params", model.params)] where !pairs.isEmpty {
                var latest: [String: String] = [:]
                for pair in pairs { latest[pair.key] = pair.value }
                for (key, value) in latest.sorted(by: { $0.key < $1.key }) {
                    try await db.insert(into: table).columns("model_id", "key", "value")
                        .values(SQLBind(model.modelID), SQLBind(key), SQLBind(value)).run()
                }
            }
        }
    }

    public func model(id: String) async throws -> LoggedModel? {
        try await database.read { db in try await Self.models(db, SQLQueryString("model_id = \(bind: id)")).first }
    }

    public func models(inExperiments ids: [String]) async throws -> [LoggedModel] {
        let numbers = ids.compactMap { Int64($0) }
        guard !numbers.isEmpty else { return [] }
        return try await database.read { db in
            try await Self.models(db, SQLQueryString("experiment_id IN \(SQLBind.group(numbers)) AND lifecycle_stage = 'active'"))
        }
    }

    static func models(_ db: any SQLDatabase, _ condition: any SQLExpression) async throws -> [LoggedModel] {
        let rows = try await db.select().column("*").from("logged_models").where(condition).orderBy("creation_time", .descending)
            .all(decoding: LoggedModelRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        guard !rows.isEmpty else { return [] }
        var tags: [String: [KeyValue]] = [:]
        var params: [String: [KeyValue]] = [:]
        var metrics: [String: [LoggedModelMetric]] = [:]
        for start in stride(from: 0, to: rows.count, by: 500) {
            let ids = rows[start..<min(start + 500, rows.count)].map(\.modelId)
            for (table, isTag) in [("logged_model_tags", true), ("logged_model_params", false)] {
                for row in try await db.select().columns("model_id", "key", "value").from(table).where("model_id", .in, ids).orderBy("key").all() {
                    let pair = KeyValue(key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "value", as: String.self))
                    let id = try row.decode(column: "model_id", as: String.self)
                    if isTag { tags[id, default: []].append(pair) } else { params[id, default: []].append(pair) }
                }
            }
            for row in try await db.select().column("*").from("logged_model_metrics").where("model_id", .in, ids)
                .orderBy("key").orderBy("step").orderBy("timestamp").all()
            {
                let point = try MetricRow.point(of: row)
                metrics[try row.decode(column: "model_id", as: String.self), default: []].append(
                    LoggedModelMetric(
                        point: point, runID: try row.decode(column: "run_id", as: String.self),
                        datasetName: try row.decode(column: "dataset_name", as: String.self),
                        datasetDigest: try row.decode(column: "dataset_digest", as: String.self)))
            }
        }
        return rows.map { row in
            LoggedModel(
                modelID: row.modelId, experimentID: String(row.experimentId), name: row.name, artifactURI: row.artifactUri, status: row.status,
                statusMessage: row.statusMessage, creator: row.creator, modelType: row.modelType, sourceRunID: row.sourceRunId,
                lifecycleStage: LifecycleStage(rawValue: row.lifecycleStage) ?? .active, creationTime: row.creationTime,
                lastUpdatedTime: row.lastUpdatedTime, tags: tags[row.modelId] ?? [], params: params[row.modelId] ?? [],
                metrics: metrics[row.modelId] ?? [])
        }
    }

    private func touch(_ db: any SQLDatabase, _ id: String) async throws {
        guard try await db.select().column("model_id").from("logged_models").where("model_id", .equal, id).first() != nil else {
            throw StoreError.notFound("logged model", id)
        }
        try await db.update("logged_models").set("last_updated_time", to: SQLTrackingRepository.millis()).where("model_id", .equal, id).run()
    }

    public func setStatus(id: String, status: String) async throws {
        try await database.write { db in
            try await touch(db, id)
            try await db.update("logged_models").set("status", to: status).where("model_id", .equal, id).run()
        }
    }

    public func setTags(id: String, _ tags: [KeyValue]) async throws {
        try await database.write { db in
            try await touch(db, id)
            var latest: [String: String] = [:]
            for tag in tags { latest[tag.key] = tag.value }
            guard !latest.isEmpty else { return }
            var insert = db.insert(into: "logged_model_tags").columns("model_id", "key", "value")
            for (key, value) in latest.sorted(by: { $0.key < $1.key }) { insert = insert.values(SQLBind(id), SQLBind(key), SQLBind(value)) }
            try await insert.onConflict(with: ["model_id", "key"]) { $0.set(excludedValueOf: "value") }.run()
        }
    }

    public func deleteTag(id: String, key: String) async throws -> Bool {
        try await database.write { db in
            try await touch(db, id)
            guard
                try await db.select().column("key").from("logged_model_tags").where("model_id", .equal, id).where("key", .equal, key).first()
                    != nil
            else { return false }
            try await db.delete(from: "logged_model_tags").where("model_id", .equal, id).where("key", .equal, key).run()
            return true
        }
    }

    public func logParams(id: String, _ params: [KeyValue]) async throws {
        try await database.write { db in
            try await touch(db, id)
            // New keys are added, known ones skipped (whoever wrote them), then what is stored is compared.
            for param in params {
                try await db.insert(into: "logged_model_params").columns("model_id", "key", "value")
                    .values(SQLBind(id), SQLBind(param.key), SQLBind(param.value))
                    .ignoringConflicts(with: ["model_id", "key"]).run()
                if let old = try await db.select().column("value").from("logged_model_params").where("model_id", .equal, id)
                    .where("key", .equal, param.key).first(decodingColumn: "value", as: String.self), old != param.value
                {
                    throw StoreError.conflict(
                        code: "param_changed", "param '\(param.key)' of model \(id) is '\(old)' and cannot change to '\(param.value)'")
                }
            }
        }
    }

    public func logMetrics(_ metrics: [(modelID: String, metric: LoggedModelMetric)]) async throws {
        guard !metrics.isEmpty else { return }
        try await database.write { db in
            for start in stride(from: 0, to: metrics.count, by: 100) {
                var insert = db.insert(into: "logged_model_metrics")
                    .columns("model_id", "run_id", "key", "step", "timestamp", "value", "is_nan", "dataset_name", "dataset_digest")
                for (modelID, metric) in metrics[start..<min(start + 100, metrics.count)] {
                    let point = metric.point
                    insert = insert.values(
                        SQLBind(modelID), SQLBind(metric.runID), SQLBind(point.key), SQLBind(point.step), SQLBind(point.timestamp),
                        SQLBind(point.value.isNaN ? 0 : point.value), SQLBind(Int64(point.value.isNaN ? 1 : 0)), SQLBind(metric.datasetName),
                        SQLBind(metric.datasetDigest))
                }
                try await insert.ignoringConflicts(
                    with: ["model_id", "key", "step", "timestamp", "value", "is_nan", "dataset_name", "dataset_digest"]
                ).run()
            }
        }
    }

    public func markDeleted(id: String) async throws {
        try await database.write { db in
            try await touch(db, id)
            try await db.update("logged_models").set("lifecycle_stage", to: LifecycleStage.deleted.rawValue).where("model_id", .equal, id).run()
        }
    }

    public func recordOutputs(runID: String, _ outputs: [(modelID: String, step: Int64)]) async throws {
        try await database.write { db in
            for output in outputs {
                try await db.insert(into: "run_outputs").columns("run_id", "model_id", "step")
                    .values(SQLBind(runID), SQLBind(output.modelID), SQLBind(output.step))
                    .ignoringConflicts(with: ["run_id", "model_id"]).run()
            }
        }
    }
}

struct LoggedModelRow: Codable {
    var modelId: String
    var experimentId: Int64
    var name: String
    var artifactUri: String
    var status: String
    var statusMessage: String
    var creator: String
    var modelType: String
    var sourceRunId: String?
    var lifecycleStage: String
    var creationTime: Int64
    var lastUpdatedTime: Int64
}
