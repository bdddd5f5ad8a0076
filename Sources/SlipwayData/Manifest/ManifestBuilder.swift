import Foundation
import SlipwayDomain

/// Writes a version's records into shards as they come, validating each and keeping statistics,
/// so a version of any size is written in bounded memory.
public struct ManifestBuilder: Sendable {
    /// Stores a shard's bytes and returns their SHA-256 (the blob store's `put`).
    public typealias ShardSink = @Sendable ([UInt8]) async throws -> String

    public let taskType: TaskType
    public let schema: DatasetSchema
    private let recordsPerShard: Int
    private let sink: ShardSink
    private var buffer = JSONText()
    private var bufferedRecords = 0
    private var shards: [ManifestShard] = []
    private var ids: Set<String> = []
    private var statistics = DatasetStatistics()

    public init(taskType: TaskType, schema: DatasetSchema, recordsPerShard: Int = 50_000, sink: @escaping ShardSink) {
        self.taskType = taskType
        self.schema = schema
        self.recordsPerShard = max(1, recordsPerShard)
        self.sink = sink
    }

    /// Adds a record. - Throws: ``DataImportError`` when it breaks a rule of the format or repeats an id.
    public mutating func add(_ record: DatasetRecord) async throws {
        if let problem = RecordValidation.problem(with: record, schema: schema) { throw DataImportError.invalid(problem) }
        guard ids.insert(record.id).inserted else { throw DataImportError.invalid("the record id '\(record.id)' appears twice") }
        try RecordJSONWriter.append(record, to: &buffer)
        buffer.raw(byte: UInt8(ascii: "\n"))
        bufferedRecords += 1
        statistics.observe(record)
        if bufferedRecords >= recordsPerShard { try await flush() }
    }

    /// Writes the last shard and returns the manifest, checked against the format's rules (``ManifestValidation``); a
    /// label the records carry that the schema does not list joins its classes.
    /// - Throws: ``DataImportError`` when the manifest would break one (a schema with an empty or repeated name).
    public mutating func finish() async throws -> DatasetManifest {
        try await flush()
        // Every label the records carry is one of the schema's classes.
        var schema = self.schema
        let seen = Set(statistics.classCounts.keys).union(statistics.boxCounts.keys)
        if !seen.isSubset(of: schema.classes) { schema.classes = Set(schema.classes).union(seen).sorted() }
        let manifest = DatasetManifest(
            taskType: taskType, schema: schema, recordCount: statistics.records, shards: shards, statistics: statistics)
        if let problem = ManifestValidation.problem(with: manifest) { throw DataImportError.invalid("the version's manifest: \(problem)") }
        return manifest
    }

    private mutating func flush() async throws {
        guard bufferedRecords > 0 else { return }
        let digest = try await sink(buffer.bytes)
        shards.append(ManifestShard(sha256: digest, records: bufferedRecords, bytes: Int64(buffer.bytes.count)))
        buffer.removeAll()
        bufferedRecords = 0
    }
}

/// Reads the records of a shard back, line by line.
public enum ManifestReader {
    /// Decodes a shard's JSON Lines into records.
    public static func records(inShard bytes: [UInt8]) throws -> [DatasetRecord] {
        let decoder = RecordCoding.decoder()
        var records: [DatasetRecord] = []
        var line = 0
        for slice in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            line += 1
            do {
                records.append(try decoder.decode(DatasetRecord.self, from: Data(slice)))
            } catch {
                throw DataImportError.atLine(line, "not a dataset record: \(error)")
            }
        }
        return records
    }
}
