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
    /// The run with everything logged to it.
    func run(id: String) async throws -> RunDetail?
    /// The run's own row without what is logged to it: the cheap lookup behind access checks and writes.
    func runInfo(id: String) async throws -> RunInfo?
    /// The runs with everything logged to them, in no particular order; unknown ids are left out.
    func runs(ids: [String]) async throws -> [RunDetail]
    func updateRun(id: String, status: RunStatus?, endTime: Int64?, name: String?) async throws
    func setRunLifecycle(id: String, _ stage: LifecycleStage) async throws
    /// Logs metrics (repeated points are kept once), params (a different value for a logged key is refused) and tags.
    /// - Throws: ``StoreError`` `param_changed` naming the param.
    func log(runID: String, metrics: [MetricPoint], params: [KeyValue], tags: [KeyValue]) async throws
    func deleteTag(runID: String, key: String) async throws -> Bool
    /// Records dataset inputs (the same dataset again replaces what is recorded of it) and MLflow 3 logged
    /// models the run used (each kept once).
    func logInputs(runID: String, _ inputs: [RunDatasetInput], models: [String]) async throws
    /// The metric's history in step, then timestamp order.
    func metricHistory(runID: String, key: String) async throws -> [MetricPoint]
    /// Runs with a dataset input of `sourceType` and `source`, each with that input.
    func runs(usingSource source: String, sourceType: String) async throws -> [(run: RunInfo, input: RunDatasetInput)]
    /// The runs of the experiments, with their latest metrics, params, tags and inputs.
    func runs(inExperiments ids: [String], lifecycle: [LifecycleStage]) async throws -> [RunDetail]
    /// The runs of the experiments with only the metrics, params, tags and inputs `selection` names: what a
    /// search needs to filter and order them, before it loads the page it returns in full.
    func runs(inExperiments ids: [String], lifecycle: [LifecycleStage], selecting selection: RunFieldSelection) async throws -> [RunDetail]
}

extension TrackingRepository {
    /// Records dataset inputs.
    public func logInputs(runID: String, _ inputs: [RunDatasetInput]) async throws {
        try await logInputs(runID: runID, inputs, models: [])
    }
}

/// Which of a run's logged values to read: some metric, param and tag keys (`nil`: all of them) and
/// whether to read its dataset inputs.
public struct RunFieldSelection: Sendable, Hashable {
    public var metrics: Set<String>?
    public var params: Set<String>?
    public var tags: Set<String>?
    public var inputs: Bool

    public init(metrics: Set<String>?, params: Set<String>?, tags: Set<String>?, inputs: Bool) {
        self.metrics = metrics
        self.params = params
        self.tags = tags
        self.inputs = inputs
    }

    /// Everything logged to a run.
    public static let all = RunFieldSelection(metrics: nil, params: nil, tags: nil, inputs: true)
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
        var latestTags: [String: String] = [:]
        for tag in tags { latestTags[tag.key] = tag.value }
        let uniqueTags = latestTags.sorted { $0.key < $1.key }
        // The name is checked first for a plain answer; a concurrent create of the same name (or id) loses at
        // the unique index instead, which on PostgreSQL aborts the transaction: mapped to already_exists below.
        let newID: Int64
        do {
            newID = try await database.write { db in
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
                if !uniqueTags.isEmpty {
                    var insert = db.insert(into: "experiment_tags").columns("experiment_id", "key", "value")
                    for (key, value) in uniqueTags { insert = insert.values(SQLBind(newID), SQLBind(key), SQLBind(value)) }
                    try await insert.run()
                }
                try await db.recordAudit(
                    actor, "experiment.create", targetType: "experiment", target: name, namespaceID: project.namespaceID,
                    details: ["id": String(newID)])
                return newID
            }
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("experiment", name)
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
        do {
            try await Self.update(database, number: number, id: id, name: name, lifecycleStage: lifecycleStage, by: actor)
        } catch  where isUniqueViolation(error) {
            throw StoreError.alreadyExists("experiment", name ?? id)
        }
    }

    static func update(
        _ database: Database, number: Int64, id: String, name: String?, lifecycleStage: LifecycleStage?, by actor: AuditActor
    ) async throws {
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
            try await db.insert(into: "experiment_tags").columns("experiment_id", "key", "value")
                .values(SQLBind(number), SQLBind(tag.key), SQLBind(tag.value))
                .onConflict(with: ["experiment_id", "key"]) { $0.set(excludedValueOf: "value") }.run()
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

    public func runInfo(id: String) async throws -> RunInfo? {
        try await database.read { db in
            try await db.select().column("*").from("runs").where("run_id", .equal, id)
                .first().map { try RunRow.info(of: $0) }
        }
    }

    public func runs(ids: [String]) async throws -> [RunDetail] {
        guard !ids.isEmpty else { return [] }
        return try await database.read { db in
            var found: [RunDetail] = []
            for start in stride(from: 0, to: ids.count, by: 500) {
                found += try await Self.details(db, SQLQueryString("run_id IN \(SQLBind.group(Array(ids[start..<min(start + 500, ids.count)])))"))
            }
            return found
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
        var seen: [String: String] = [:]
        for param in params {
            if let earlier = seen[param.key], earlier != param.value {
                throw StoreError.conflict(
                    code: "param_changed", "param '\(param.key)' is given twice with different values ('\(earlier)' and '\(param.value)')")
            }
            seen[param.key] = param.value
        }
        let newParams = seen
        try await database.write { db in
            if !newParams.isEmpty { try await Self.insertParams(db, runID: runID, newParams) }
            try await Self.upsertTags(db, runID: runID, tags)
            if !metrics.isEmpty { try await Self.insertMetrics(db, runID: runID, metrics) }
        }
    }

    /// Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bound values.
    static let rowsPerStatement = 1000

    /// Adds params that are new and refuses a different value for one that is logged (params are immutable).
    /// Race-safe: the insert skips keys already there, whoever wrote them, and what is then stored is compared.
    static func insertParams(_ db: any SQLDatabase, runID: String, _ params: [String: String]) async throws {
        let sorted = params.sorted { $0.key < $1.key }
        for start in stride(from: 0, to: sorted.count, by: rowsPerStatement) {
            var insert = db.insert(into: "run_params").columns("run_id", "key", "value")
            for (key, value) in sorted[start..<min(start + rowsPerStatement, sorted.count)] {
                insert = insert.values(SQLBind(runID), SQLBind(key), SQLBind(value))
            }
            try await insert.ignoringConflicts(with: ["run_id", "key"]).run()
        }
        let keys = sorted.map(\.key)
        for start in stride(from: 0, to: keys.count, by: 500) {
            for row in try await db.select().columns("key", "value").from("run_params").where("run_id", .equal, runID)
                .where("key", .in, Array(keys[start..<min(start + 500, keys.count)])).all()
            {
                let key = try row.decode(column: "key", as: String.self)
                let old = try row.decode(column: "value", as: String.self)
                if let value = params[key], value != old {
                    throw StoreError.conflict(
                        code: "param_changed",
                        "param '\(key)' of run \(runID) was logged as '\(old)' and cannot change to '\(value)'; params are immutable")
                }
            }
        }
    }

    static func insertMetrics(_ db: any SQLDatabase, runID: String, _ metrics: [MetricPoint]) async throws {
        for start in stride(from: 0, to: metrics.count, by: rowsPerStatement) {
            var insert = db.insert(into: "run_metrics").columns("run_id", "key", "step", "timestamp", "value", "is_nan")
            for point in metrics[start..<min(start + rowsPerStatement, metrics.count)] {
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
        let points = latest.values.sorted { $0.key < $1.key }
        // One upsert per chunk: a new key is inserted, a known one replaced only by a later point — the same
        // rule as `isLater`, evaluated by the database against what is stored, so concurrent writers agree.
        let later = SQLRaw(
            """
            (EXCLUDED.step > run_latest_metrics.step OR (EXCLUDED.step = run_latest_metrics.step AND \
            (EXCLUDED.timestamp > run_latest_metrics.timestamp OR (EXCLUDED.timestamp = run_latest_metrics.timestamp AND \
            EXCLUDED.is_nan = 0 AND (run_latest_metrics.is_nan <> 0 OR EXCLUDED.value > run_latest_metrics.value)))))
            """)
        for start in stride(from: 0, to: points.count, by: rowsPerStatement) {
            var insert = db.insert(into: "run_latest_metrics").columns("run_id", "key", "step", "timestamp", "value", "is_nan")
            for point in points[start..<min(start + rowsPerStatement, points.count)] {
                insert = insert.values(
                    SQLBind(runID), SQLBind(point.key), SQLBind(point.step), SQLBind(point.timestamp),
                    SQLBind(point.value.isNaN ? 0 : point.value), SQLBind(Int64(point.value.isNaN ? 1 : 0)))
            }
            try await insert.onConflict(with: ["run_id", "key"]) { update in
                update.set(excludedValueOf: "step").set(excludedValueOf: "timestamp").set(excludedValueOf: "value")
                    .set(excludedValueOf: "is_nan").where(later)
            }.run()
        }
    }

    static func isLater(_ a: MetricPoint, than b: MetricPoint) -> Bool {
        if a.step != b.step { return a.step > b.step }
        if a.timestamp != b.timestamp { return a.timestamp > b.timestamp }
        if a.value.isNaN { return false }
        return b.value.isNaN || a.value > b.value
    }

    /// Sets the tags (the last value given for a key wins) with one multi-row upsert: race-safe on both backends.
    static func upsertTags(_ db: any SQLDatabase, runID: String, _ tags: [KeyValue]) async throws {
        var latest: [String: String] = [:]
        for tag in tags { latest[tag.key] = tag.value }
        guard !latest.isEmpty else { return }
        let sorted = latest.sorted { $0.key < $1.key }
        for start in stride(from: 0, to: sorted.count, by: rowsPerStatement) {
            var insert = db.insert(into: "run_tags").columns("run_id", "key", "value")
            for (key, value) in sorted[start..<min(start + rowsPerStatement, sorted.count)] {
                insert = insert.values(SQLBind(runID), SQLBind(key), SQLBind(value))
            }
            try await insert.onConflict(with: ["run_id", "key"]) { $0.set(excludedValueOf: "value") }.run()
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

    public func logInputs(runID: String, _ inputs: [RunDatasetInput], models: [String]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try await database.write { db in
            // One upsert per input: logging the same dataset again replaces what is recorded of it, race-safe.
            for input in inputs {
                try await db.insert(into: "run_inputs")
                    .columns("run_id", "name", "digest", "source_type", "source", "schema", "profile", "tags")
                    .values(
                        SQLBind(runID), SQLBind(input.name), SQLBind(input.digest), SQLBind(input.sourceType), SQLBind(input.source),
                        SQLBind(input.schema), SQLBind(input.profile), SQLBind(String(decoding: try encoder.encode(input.tags), as: UTF8.self))
                    )
                    .onConflict(with: ["run_id", "name", "digest"]) { update in
                        update.set(excludedValueOf: "source_type").set(excludedValueOf: "source").set(excludedValueOf: "schema")
                            .set(excludedValueOf: "profile").set(excludedValueOf: "tags")
                    }.run()
            }
            for modelID in Set(models).sorted() {
                try await db.insert(into: "run_model_inputs").columns("run_id", "model_id").values(SQLBind(runID), SQLBind(modelID))
                    .ignoringConflicts(with: ["run_id", "model_id"]).run()
            }
        }
    }

    public func metricHistory(runID: String, key: String) async throws -> [MetricPoint] {
        try await database.read { db in
            try await db.select().columns("key", "step", "timestamp", "value", "is_nan").from("run_metrics")
                .where("run_id", .equal, runID).where("key", .equal, key).orderBy("step").orderBy("timestamp")
                .all().map { try MetricRow.point(of: $0) }
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
        try await runs(inExperiments: ids, lifecycle: lifecycle, selecting: .all)
    }

    public func runs(
        inExperiments ids: [String], lifecycle: [LifecycleStage], selecting selection: RunFieldSelection
    ) async throws
        -> [RunDetail]
    {
        let numbers = ids.compactMap { Int64($0) }
        guard !numbers.isEmpty, !lifecycle.isEmpty else { return [] }
        return try await database.read { db in
            try await Self.details(
                db,
                SQLQueryString(
                    "experiment_id IN \(SQLBind.group(numbers)) AND lifecycle_stage IN \(SQLBind.group(lifecycle.map(\.rawValue)))"),
                selecting: selection)
        }
    }

    /// Runs matching `condition` with what `selection` names of what is logged to them, read in a few set
    /// queries (not one per run).
    static func details(
        _ db: any SQLDatabase, _ condition: any SQLExpression, selecting selection: RunFieldSelection = .all
    ) async throws
        -> [RunDetail]
    {
        let runs = try await db.select().column("*").from("runs").where(condition).orderBy("start_time", .descending)
            .all().map { try RunRow.info(of: $0) }
        guard !runs.isEmpty else { return [] }
        var metrics: [String: [MetricPoint]] = [:]
        var params: [String: [KeyValue]] = [:]
        var tags: [String: [KeyValue]] = [:]
        var inputs: [String: [RunDatasetInput]] = [:]
        var modelInputs: [String: [String]] = [:]
        var modelOutputs: [String: [RunModelOutput]] = [:]
        let decoder = JSONDecoder()
        /// Restricts a query to `keys` (nil: no restriction); `nil` when there is nothing to read.
        func restricted(_ query: SQLSelectBuilder, to keys: Set<String>?) -> SQLSelectBuilder? {
            guard let keys else { return query }
            return keys.isEmpty ? nil : query.where("key", .in, keys.sorted())
        }
        for start in stride(from: 0, to: runs.count, by: 500) {
            let ids = runs[start..<min(start + 500, runs.count)].map(\.runID)
            if let query = restricted(
                db.select().columns("run_id", "key", "step", "timestamp", "value", "is_nan").from("run_latest_metrics").where("run_id", .in, ids),
                to: selection.metrics)
            {
                for row in try await query.orderBy("key").all() {
                    metrics[try row.decode(column: "run_id", as: String.self), default: []].append(try MetricRow.point(of: row))
                }
            }
            for (table, keys, target) in [("run_params", selection.params, 0), ("run_tags", selection.tags, 1)] {
                guard let query = restricted(db.select().columns("run_id", "key", "value").from(table).where("run_id", .in, ids), to: keys)
                else { continue }
                for row in try await query.orderBy("key").all() {
                    let pair = KeyValue(key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "value", as: String.self))
                    let runID = try row.decode(column: "run_id", as: String.self)
                    if target == 0 { params[runID, default: []].append(pair) } else { tags[runID, default: []].append(pair) }
                }
            }
            guard selection.inputs else { continue }
            for row in try await db.select().columns("run_id", "model_id").from("run_model_inputs").where("run_id", .in, ids).orderBy("model_id")
                .all()
            {
                modelInputs[try row.decode(column: "run_id", as: String.self), default: []].append(
                    try row.decode(column: "model_id", as: String.self))
            }
            for row in try await db.select().columns("run_id", "model_id", "step").from("run_outputs").where("run_id", .in, ids)
                .orderBy("step").orderBy("model_id").all()
            {
                modelOutputs[try row.decode(column: "run_id", as: String.self), default: []].append(
                    RunModelOutput(modelID: try row.decode(column: "model_id", as: String.self), step: try row.decode(column: "step", as: Int64.self))
                )
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
        return runs.map { info in
            RunDetail(
                info: info, metrics: metrics[info.runID] ?? [], params: params[info.runID] ?? [], tags: tags[info.runID] ?? [],
                inputs: inputs[info.runID] ?? [], modelInputs: modelInputs[info.runID] ?? [], modelOutputs: modelOutputs[info.runID] ?? [])
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

/// A `runs` row, read column by column (hot: searches read many; Codable row decoding costs several times more).
enum RunRow {
    static func info(of row: any SQLRow) throws -> RunInfo {
        RunInfo(
            runID: try row.decode(column: "run_id", as: String.self), experimentID: String(try row.decode(column: "experiment_id", as: Int64.self)),
            name: try row.decode(column: "name", as: String.self), userID: try row.decode(column: "user_id", as: String.self),
            status: RunStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .running,
            startTime: try row.decode(column: "start_time", as: Int64.self), endTime: try row.decode(column: "end_time", as: Int64?.self),
            artifactURI: try row.decode(column: "artifact_uri", as: String.self),
            lifecycleStage: LifecycleStage(rawValue: try row.decode(column: "lifecycle_stage", as: String.self)) ?? .active)
    }
}

/// A metric point row (`key`, `step`, `timestamp`, `value`, `is_nan`): NaN is stored as 0 with `is_nan` set.
enum MetricRow {
    static func point(of row: any SQLRow) throws -> MetricPoint {
        let value = try row.decode(column: "value", as: Double.self)
        return MetricPoint(
            key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "is_nan", as: Int64.self) != 0 ? .nan : value,
            timestamp: try row.decode(column: "timestamp", as: Int64.self), step: try row.decode(column: "step", as: Int64.self))
    }
}
