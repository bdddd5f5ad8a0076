import Foundation
import SQLKit
import SlipwayDomain

/// Experiments and runs with what is logged to them: params, tags, metric history, dataset inputs.
public protocol TrackingRepository: Sendable {
    /// Creates the experiment. `id` names it explicitly (MLflow's Default experiment is "0"); otherwise the next id.
    /// - Throws: ``StoreError`` already_exists when the name is taken.
    func createExperiment(
        id: Int64?, name: String, in project: Project, artifactRoot: String, tags: [KeyValue], by actor: AuditActor
    ) async throws -> Experiment
    func experiment(id: String) async throws -> Experiment?
    func experiment(named name: String) async throws -> Experiment?
    /// Every experiment, optionally only those of some namespaces (`nil`: all).
    func experiments(inNamespaces namespaceIDs: [UUID]?) async throws -> [Experiment]
    func updateExperiment(id: String, name: String?, lifecycleStage: LifecycleStage?, by actor: AuditActor) async throws
    func setExperimentTag(id: String, _ tag: KeyValue) async throws
    /// - Returns: whether the experiment had the tag.
    func deleteExperimentTag(id: String, key: String) async throws -> Bool

    func createRun(_ info: RunInfo, tags: [KeyValue]) async throws
    func run(id: String) async throws -> RunDetail?
    func updateRun(id: String, status: RunStatus?, endTime: Int64?, name: String?) async throws
    func setRunLifecycle(id: String, _ stage: LifecycleStage) async throws
    /// Logs metrics (repeated points are kept once), params (a different value for a logged key is refused) and tags.
    /// - Throws: ``StoreError`` `param_changed` naming the param.
    func log(runID: String, metrics: [MetricPoint], params: [KeyValue], tags: [KeyValue]) async throws
    func deleteTag(runID: String, key: String) async throws -> Bool
    func logInputs(runID: String, _ inputs: [RunDatasetInput]) async throws
    /// The metric's history in step, then timestamp order.
    func metricHistory(runID: String, key: String) async throws -> [MetricPoint]
    /// Runs with a dataset input of `sourceType` and `source`, each with that input.
    func runs(usingSource source: String, sourceType: String) async throws -> [(run: RunInfo, input: RunDatasetInput)]
    /// The runs of the experiments, with their latest metrics, params, tags and inputs.
    func runs(inExperiments ids: [String], lifecycle: [LifecycleStage]) async throws -> [RunDetail]
}

/// Tracking data in the SQL database.
public struct SQLTrackingRepository: TrackingRepository {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static func millis(_ date: Date = Date()) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    public func createExperiment(
        id: Int64?, name: String, in project: Project, artifactRoot: String, tags: [KeyValue], by actor: AuditActor
    ) async throws -> Experiment {
        let now = Self.millis()
        let newID: Int64 = try await database.write { db in
            if try await db.select().column("id").from("experiments").where("name", .equal, name).first() != nil {
                throw StoreError.alreadyExists("experiment", name)
            }
            var columns = ["namespace_id", "project_id", "name", "artifact_location", "lifecycle_stage", "creation_time", "last_update_time"]
            var values: [any SQLExpression] = [
                SQLBind(project.namespaceID.uuidString), SQLBind(project.id.uuidString), SQLBind(name), SQLBind(""),
                SQLBind(LifecycleStage.active.rawValue), SQLBind(now), SQLBind(now),
            ]
            if let id {
                columns.append("id")
                values.append(SQLBind(id))
            }
            let row = try await db.insert(into: "experiments").columns(columns).values(values).returning("id").first()
            guard let newID = try row?.decode(column: "id", as: Int64.self) else { throw StoreError.notFound("experiment", name) }
            try await db.update("experiments").set("artifact_location", to: "\(artifactRoot)/\(newID)").where("id", .equal, newID).run()
            for tag in tags {
                try await db.insert(into: "experiment_tags").columns("experiment_id", "key", "value")
                    .values(SQLBind(newID), SQLBind(tag.key), SQLBind(tag.value)).run()
            }
            try await db.recordAudit(
                actor, "experiment.create", targetType: "experiment", target: name, namespaceID: project.namespaceID,
                details: ["id": String(newID)])
            return newID
        }
        guard let experiment = try await experiment(id: String(newID)) else { throw StoreError.notFound("experiment", name) }
        return experiment
    }

    public func experiment(id: String) async throws -> Experiment? {
        guard let number = Int64(id) else { return nil }
        return try await database.read { db in try await Self.experiments(db, where: SQLQueryString("e.id = \(bind: number)")).first }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await database.read { db in try await Self.experiments(db, where: SQLQueryString("e.name = \(bind: name)")).first }
    }

    public func experiments(inNamespaces namespaceIDs: [UUID]?) async throws -> [Experiment] {
        try await database.read { db in
            guard let namespaceIDs else { return try await Self.experiments(db, where: nil) }
            if namespaceIDs.isEmpty { return [] }
            return try await Self.experiments(
                db, where: SQLBinaryExpression(SQLColumn("namespace_id", table: "e"), .in, SQLBind.group(namespaceIDs.map(\.uuidString))))
        }
    }

    static func experiments(_ db: any SQLDatabase, where condition: (any SQLExpression)?) async throws -> [Experiment] {
        var query = db.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("e")))
            .from(SQLAlias(SQLIdentifier("experiments"), as: SQLIdentifier("e")))
        if let condition { query = query.where(condition) }
        let rows = try await query.orderBy(SQLColumn("id", table: "e")).all(decoding: ExperimentRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        guard !rows.isEmpty else { return [] }
        var tags: [Int64: [KeyValue]] = [:]
        for start in stride(from: 0, to: rows.count, by: 500) {
            let ids = rows[start..<min(start + 500, rows.count)].map(\.id)
            for row in try await db.select().columns("experiment_id", "key", "value").from("experiment_tags")
                .where("experiment_id", .in, ids).orderBy("key").all()
            {
                tags[try row.decode(column: "experiment_id", as: Int64.self), default: []].append(
                    KeyValue(key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "value", as: String.self)))
            }
        }
        return rows.map { $0.experiment(tags: tags[$0.id] ?? []) }
    }

    public func updateExperiment(id: String, name: String?, lifecycleStage: LifecycleStage?, by actor: AuditActor) async throws {
        guard let number = Int64(id) else { throw StoreError.notFound("experiment", id) }
        try await database.write { db in
            guard let existing = try await Self.experiments(db, where: SQLQueryString("e.id = \(bind: number)")).first else {
                throw StoreError.notFound("experiment", id)
            }
            var update = db.update("experiments").set("last_update_time", to: Self.millis())
            if let name, name != existing.name {
                if try await db.select().column("id").from("experiments").where("name", .equal, name).first() != nil {
                    throw StoreError.alreadyExists("experiment", name)
                }
                update = update.set("name", to: name)
            }
            if let lifecycleStage { update = update.set("lifecycle_stage", to: lifecycleStage.rawValue) }
            try await update.where("id", .equal, number).run()
            let action = lifecycleStage.map { $0 == .deleted ? "experiment.delete" : "experiment.restore" } ?? "experiment.update"
            try await db.recordAudit(
                actor, action, targetType: "experiment", target: name ?? existing.name, namespaceID: existing.namespaceID,
                details: ["id": id])
        }
    }

    public func setExperimentTag(id: String, _ tag: KeyValue) async throws {
        guard let number = Int64(id) else { throw StoreError.notFound("experiment", id) }
        try await database.write { db in
            try await db.delete(from: "experiment_tags").where("experiment_id", .equal, number).where("key", .equal, tag.key).run()
            try await db.insert(into: "experiment_tags").columns("experiment_id", "key", "value")
                .values(SQLBind(number), SQLBind(tag.key), SQLBind(tag.value)).run()
        }
    }

    public func deleteExperimentTag(id: String, key: String) async throws -> Bool {
        guard let number = Int64(id) else { return false }
        return try await database.write { db in
            guard
                try await db.select().column("key").from("experiment_tags").where("experiment_id", .equal, number).where("key", .equal, key)
                    .first() != nil
            else { return false }
            try await db.delete(from: "experiment_tags").where("experiment_id", .equal, number).where("key", .equal, key).run()
            return true
        }
    }

    public func createRun(_ info: RunInfo, tags: [KeyValue]) async throws {
        guard let experimentID = Int64(info.experimentID) else { throw StoreError.notFound("experiment", info.experimentID) }
        try await database.write { db in
            try await db.insert(into: "runs")
                .columns("run_id", "experiment_id", "name", "user_id", "status", "start_time", "end_time", "artifact_uri", "lifecycle_stage")
                .values(
                    SQLBind(info.runID), SQLBind(experimentID), SQLBind(info.name), SQLBind(info.userID), SQLBind(info.status.rawValue),
                    SQLBind(info.startTime), SQLBind(info.endTime), SQLBind(info.artifactURI), SQLBind(info.lifecycleStage.rawValue)
                ).run()
            try await Self.upsertTags(db, runID: info.runID, tags)
        }
    }

    public func run(id: String) async throws -> RunDetail? {
        try await database.read { db in
            try await Self.details(db, SQLQueryString("run_id = \(bind: id)")).first
        }
    }

    public func updateRun(id: String, status: RunStatus?, endTime: Int64?, name: String?) async throws {
        try await database.write { db in
            guard try await db.select().column("run_id").from("runs").where("run_id", .equal, id).first() != nil else {
                throw StoreError.notFound("run", id)
            }
            var update = db.update("runs")
            var changed = false
            if let status {
                update = update.set("status", to: status.rawValue)
                changed = true
            }
            if let endTime {
                update = update.set("end_time", to: endTime)
                changed = true
            }
            if let name {
                update = update.set("name", to: name)
                changed = true
                try await Self.upsertTags(db, runID: id, [KeyValue(key: "mlflow.runName", value: name)])
            }
            if changed { try await update.where("run_id", .equal, id).run() }
        }
    }

    public func setRunLifecycle(id: String, _ stage: LifecycleStage) async throws {
        try await database.write { db in
            guard try await db.select().column("run_id").from("runs").where("run_id", .equal, id).first() != nil else {
                throw StoreError.notFound("run", id)
            }
            try await db.update("runs").set("lifecycle_stage", to: stage.rawValue).where("run_id", .equal, id).run()
        }
    }

    public func log(runID: String, metrics: [MetricPoint], params: [KeyValue], tags: [KeyValue]) async throws {
        try await database.write { db in
            if !params.isEmpty {
                var seen: [String: String] = [:]
                for param in params {
                    if let earlier = seen[param.key], earlier != param.value {
                        throw StoreError.conflict(
                            code: "param_changed", "param '\(param.key)' is given twice with different values ('\(earlier)' and '\(param.value)')")
                    }
                    seen[param.key] = param.value
                }
                let existing = try await db.select().columns("key", "value").from("run_params").where("run_id", .equal, runID)
                    .where("key", .in, Array(seen.keys)).all()
                var logged: [String: String] = [:]
                for row in existing { logged[try row.decode(column: "key", as: String.self)] = try row.decode(column: "value", as: String.self) }
                for (key, value) in seen.sorted(by: { $0.key < $1.key }) {
                    if let old = logged[key] {
                        guard old == value else {
                            throw StoreError.conflict(
                                code: "param_changed",
                                "param '\(key)' of run \(runID) was logged as '\(old)' and cannot change to '\(value)'; params are immutable")
                        }
                        continue
                    }
                    try await db.insert(into: "run_params").columns("run_id", "key", "value").values(SQLBind(runID), SQLBind(key), SQLBind(value))
                        .run()
                }
            }
            try await Self.upsertTags(db, runID: runID, tags)
            if !metrics.isEmpty { try await Self.insertMetrics(db, runID: runID, metrics) }
        }
    }

    static func insertMetrics(_ db: any SQLDatabase, runID: String, _ metrics: [MetricPoint]) async throws {
        for start in stride(from: 0, to: metrics.count, by: 150) {
            let batch = metrics[start..<min(start + 150, metrics.count)]
            var insert = db.insert(into: "run_metrics").columns("run_id", "key", "step", "timestamp", "value", "is_nan")
            for point in batch {
                insert = insert.values(
                    SQLBind(runID), SQLBind(point.key), SQLBind(point.step), SQLBind(point.timestamp),
                    SQLBind(point.value.isNaN ? 0 : point.value), SQLBind(Int64(point.value.isNaN ? 1 : 0)))
            }
            try await insert.ignoringConflicts(with: ["run_id", "key", "step", "timestamp", "value", "is_nan"]).run()
        }
        // The latest value per key: highest step, then latest timestamp, then largest value (as MLflow).
        var latest: [String: MetricPoint] = [:]
        for point in metrics {
            if let current = latest[point.key], !Self.isLater(point, than: current) { continue }
            latest[point.key] = point
        }
        let keys = Array(latest.keys)
        var stored: [String: MetricPoint] = [:]
        for start in stride(from: 0, to: keys.count, by: 500) {
            for row in try await db.select().columns("key", "step", "timestamp", "value", "is_nan").from("run_latest_metrics")
                .where("run_id", .equal, runID).where("key", .in, Array(keys[start..<min(start + 500, keys.count)])).all(
                    decoding: MetricRow.self)
            {
                stored[row.key] = row.point
            }
        }
        for (key, point) in latest.sorted(by: { $0.key < $1.key }) {
            if let current = stored[key] {
                guard Self.isLater(point, than: current) else { continue }
                try await db.update("run_latest_metrics").set("step", to: point.step).set("timestamp", to: point.timestamp)
                    .set("value", to: point.value.isNaN ? 0 : point.value).set("is_nan", to: Int64(point.value.isNaN ? 1 : 0))
                    .where("run_id", .equal, runID).where("key", .equal, key).run()
            } else {
                try await db.insert(into: "run_latest_metrics").columns("run_id", "key", "step", "timestamp", "value", "is_nan")
                    .values(
                        SQLBind(runID), SQLBind(key), SQLBind(point.step), SQLBind(point.timestamp), SQLBind(point.value.isNaN ? 0 : point.value),
                        SQLBind(Int64(point.value.isNaN ? 1 : 0))
                    ).run()
            }
        }
    }

    static func isLater(_ a: MetricPoint, than b: MetricPoint) -> Bool {
        if a.step != b.step { return a.step > b.step }
        if a.timestamp != b.timestamp { return a.timestamp > b.timestamp }
        if a.value.isNaN { return false }
        return b.value.isNaN || a.value > b.value
    }

    static func upsertTags(_ db: any SQLDatabase, runID: String, _ tags: [KeyValue]) async throws {
        var latest: [String: String] = [:]
        for tag in tags { latest[tag.key] = tag.value }
        for (key, value) in latest.sorted(by: { $0.key < $1.key }) {
            try await db.delete(from: "run_tags").where("run_id", .equal, runID).where("key", .equal, key).run()
            try await db.insert(into: "run_tags").columns("run_id", "key", "value").values(SQLBind(runID), SQLBind(key), SQLBind(value)).run()
        }
    }

    public func deleteTag(runID: String, key: String) async throws -> Bool {
        try await database.write { db in
            guard
                try await db.select().column("key").from("run_tags").where("run_id", .equal, runID).where("key", .equal, key).first() != nil
            else { return false }
            try await db.delete(from: "run_tags").where("run_id", .equal, runID).where("key", .equal, key).run()
            return true
        }
    }

    public func logInputs(runID: String, _ inputs: [RunDatasetInput]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try await database.write { db in
            for input in inputs {
                try await db.delete(from: "run_inputs").where("run_id", .equal, runID).where("name", .equal, input.name)
                    .where("digest", .equal, input.digest).run()
                try await db.insert(into: "run_inputs")
                    .columns("run_id", "name", "digest", "source_type", "source", "schema", "profile", "tags")
                    .values(
                        SQLBind(runID), SQLBind(input.name), SQLBind(input.digest), SQLBind(input.sourceType), SQLBind(input.source),
                        SQLBind(input.schema), SQLBind(input.profile), SQLBind(String(decoding: try encoder.encode(input.tags), as: UTF8.self))
                    ).run()
            }
        }
    }

    public func metricHistory(runID: String, key: String) async throws -> [MetricPoint] {
        try await database.read { db in
            try await db.select().columns("key", "step", "timestamp", "value", "is_nan").from("run_metrics")
                .where("run_id", .equal, runID).where("key", .equal, key).orderBy("step").orderBy("timestamp")
                .all(decoding: MetricRow.self).map(\.point)
        }
    }

    public func runs(usingSource source: String, sourceType: String) async throws -> [(run: RunInfo, input: RunDatasetInput)] {
        let details = try await database.read { db in
            try await Self.details(
                db,
                SQLQueryString(
                    "run_id IN (SELECT run_id FROM run_inputs WHERE source = \(bind: source) AND source_type = \(bind: sourceType)) AND lifecycle_stage = 'active'"
                ))
        }
        return details.compactMap { detail in
            detail.inputs.first { $0.source == source && $0.sourceType == sourceType }.map { (detail.info, $0) }
        }
    }

    public func runs(inExperiments ids: [String], lifecycle: [LifecycleStage]) async throws -> [RunDetail] {
        let numbers = ids.compactMap { Int64($0) }
        guard !numbers.isEmpty, !lifecycle.isEmpty else { return [] }
        return try await database.read { db in
            try await Self.details(
                db,
                SQLQueryString(
                    "experiment_id IN \(SQLBind.group(numbers)) AND lifecycle_stage IN \(SQLBind.group(lifecycle.map(\.rawValue)))"))
        }
    }

    /// Runs matching `condition` with everything logged to them, read in a few set queries (not one per run).
    static func details(_ db: any SQLDatabase, _ condition: any SQLExpression) async throws -> [RunDetail] {
        let runs = try await db.select().column("*").from("runs").where(condition).orderBy("start_time", .descending)
            .all(decoding: RunRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        guard !runs.isEmpty else { return [] }
        var metrics: [String: [MetricPoint]] = [:]
        var params: [String: [KeyValue]] = [:]
        var tags: [String: [KeyValue]] = [:]
        var inputs: [String: [RunDatasetInput]] = [:]
        let decoder = JSONDecoder()
        for start in stride(from: 0, to: runs.count, by: 500) {
            let ids = runs[start..<min(start + 500, runs.count)].map(\.runId)
            for row in try await db.select().columns("run_id", "key", "step", "timestamp", "value", "is_nan").from("run_latest_metrics")
                .where("run_id", .in, ids).orderBy("key").all()
            {
                metrics[try row.decode(column: "run_id", as: String.self), default: []].append(try row.decode(model: MetricRow.self).point)
            }
            for (table, target) in [("run_params", 0), ("run_tags", 1)] {
                for row in try await db.select().columns("run_id", "key", "value").from(table).where("run_id", .in, ids).orderBy("key").all() {
                    let pair = KeyValue(key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "value", as: String.self))
                    let runID = try row.decode(column: "run_id", as: String.self)
                    if target == 0 { params[runID, default: []].append(pair) } else { tags[runID, default: []].append(pair) }
                }
            }
            for row in try await db.select().column("*").from("run_inputs").where("run_id", .in, ids).orderBy("name").all() {
                let input = RunDatasetInput(
                    name: try row.decode(column: "name", as: String.self), digest: try row.decode(column: "digest", as: String.self),
                    sourceType: try row.decode(column: "source_type", as: String.self), source: try row.decode(column: "source", as: String.self),
                    schema: try row.decode(column: "schema", as: String?.self), profile: try row.decode(column: "profile", as: String?.self),
                    tags: try decoder.decode([KeyValue].self, from: Data(try row.decode(column: "tags", as: String.self).utf8)))
                inputs[try row.decode(column: "run_id", as: String.self), default: []].append(input)
            }
        }
        return runs.map { row in
            RunDetail(
                info: row.info, metrics: metrics[row.runId] ?? [], params: params[row.runId] ?? [], tags: tags[row.runId] ?? [],
                inputs: inputs[row.runId] ?? [])
        }
    }
}

struct ExperimentRow: Codable {
    var id: Int64
    var namespaceId: String
    var projectId: String
    var name: String
    var artifactLocation: String
    var lifecycleStage: String
    var creationTime: Int64
    var lastUpdateTime: Int64

    func experiment(tags: [KeyValue]) -> Experiment {
        Experiment(
            id: String(id), namespaceID: UUID(uuidString: namespaceId)!, projectID: UUID(uuidString: projectId)!, name: name,
            artifactLocation: artifactLocation, lifecycleStage: LifecycleStage(rawValue: lifecycleStage) ?? .active, creationTime: creationTime,
            lastUpdateTime: lastUpdateTime, tags: tags)
    }
}

struct RunRow: Codable {
    var runId: String
    var experimentId: Int64
    var name: String
    var userId: String
    var status: String
    var startTime: Int64
    var endTime: Int64?
    var artifactUri: String
    var lifecycleStage: String

    var info: RunInfo {
        RunInfo(
            runID: runId, experimentID: String(experimentId), name: name, userID: userId, status: RunStatus(rawValue: status) ?? .running,
            startTime: startTime, endTime: endTime, artifactURI: artifactUri, lifecycleStage: LifecycleStage(rawValue: lifecycleStage) ?? .active)
    }
}

struct MetricRow: Codable {
    var key: String
    var step: Int64
    var timestamp: Int64
    var value: Double
    var is_nan: Int64

    var point: MetricPoint { MetricPoint(key: key, value: is_nan != 0 ? .nan : value, timestamp: timestamp, step: step) }
}
