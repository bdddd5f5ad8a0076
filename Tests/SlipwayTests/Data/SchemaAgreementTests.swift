import Foundation
import SlipwayDomain
import Testing

@testable import SlipwayData

/// The Swift validation judges the shared cases of `tests/data/schema_cases.json` as the cases say; the Python
/// test `tests/test_dataset_schemas.py` checks the published JSON Schemas (and a real server) against the same
/// cases, so the two agree.
@Suite("Record and manifest rules")
struct SchemaAgreementTests {
    /// The shared cases, read afresh by each test (JSON objects are not Sendable, so they are not kept in a static).
    static func cases() throws -> [String: Any] {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../tests/data/schema_cases.json")
        let data = try Data(contentsOf: file.standardizedFileURL)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Whether the server's rules admit a record line: no key the format lacks, decodable, and valid against a schema
    /// declaring its fields.
    static func admits(_ object: [String: Any]) -> Bool {
        if RecordValidation.unknownKey(in: object) != nil { return false }
        guard let data = try? JSONSerialization.data(withJSONObject: object),
            let record = try? RecordCoding.decoder().decode(DatasetRecord.self, from: data)
        else { return false }
        let fields = record.fields.map { name, value in FieldSpec(name: name, type: JSONLinesImporter.type(of: value) ?? .string) }
        return RecordValidation.problem(with: record, schema: DatasetSchema(fields: fields)) == nil
    }

    /// `value` with `path` set to `new` (or removed when `new` is nil).
    static func setting(_ value: Any, _ path: ArraySlice<Any>, to new: Any?) -> Any? {
        guard let key = path.first else { return new }
        if var object = value as? [String: Any], let name = key as? String {
            object[name] = object[name].flatMap { setting($0, path.dropFirst(), to: new) } ?? (path.count == 1 ? new : nil)
            return object
        }
        if var array = value as? [Any], let index = key as? Int, array.indices.contains(index) {
            if let changed = setting(array[index], path.dropFirst(), to: new) { array[index] = changed } else { array.remove(at: index) }
            return array
        }
        return value
    }

    @Test func recordCasesAreJudgedAsTheSchemaJudgesThem() throws {
        let records = try #require(try Self.cases()["records"] as? [[String: Any]])
        #expect(records.count >= 20)
        for entry in records {
            let name = try #require(entry["name"] as? String)
            var text = String(decoding: try JSONSerialization.data(withJSONObject: try #require(entry["record"])), as: UTF8.self)
            text = text.replacingOccurrences(of: "\"$IMAGE_SIZE\"", with: "10").replacingOccurrences(
                of: "$IMAGE", with: String(repeating: "ab", count: 32))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(Self.admits(object) == (entry["valid"] as? Bool), "\(name)")
        }
    }

    @Test func manifestCasesAreJudgedAsTheCasesSay() throws {
        let cases = try Self.cases()
        let base = try #require(cases["manifest_base"])
        let manifests = try #require(cases["manifests"] as? [[String: Any]])
        #expect(manifests.count >= 15)
        for entry in manifests {
            let name = try #require(entry["name"] as? String)
            var manifest: Any = base
            for change in entry["set"] as? [[Any]] ?? [] {
                manifest = Self.setting(manifest, ArraySlice(try #require(change[0] as? [Any])), to: change[1]) ?? manifest
            }
            for path in entry["delete"] as? [[Any]] ?? [] {
                manifest = Self.setting(manifest, ArraySlice(path), to: nil) ?? manifest
            }
            let data = try JSONSerialization.data(withJSONObject: manifest)
            let decoded = try? APICoding.decoder().decode(DatasetManifest.self, from: data)
            let valid = decoded.map { ManifestValidation.problem(with: $0) == nil } ?? false
            #expect(valid == (entry["valid"] as? Bool), "\(name): \(decoded.flatMap(ManifestValidation.problem(with:)) ?? "does not decode")")
        }
    }

    @Test func everyManifestTheBuilderWritesFollowsTheRules() async throws {
        // Labels outside the declared classes join them; an empty field name is refused before anything is committed.
        var builder = ManifestBuilder(
            taskType: .imageClassification, schema: DatasetSchema(fields: [FieldSpec(name: "w", type: .integer)], classes: ["cat"]),
            recordsPerShard: 2
        ) { bytes in String(repeating: "0", count: 63) + String(bytes.count % 10) }
        for (index, label) in ["cat", "dog", "cat"].enumerated() {
            try await builder.add(DatasetRecord(id: "r\(index)", fields: ["w": .integer(Int64(index))], annotations: [.imported(label: label)]))
        }
        let manifest = try await builder.finish()
        #expect(manifest.schema.classes == ["cat", "dog"])
        #expect(ManifestValidation.problem(with: manifest) == nil)
        #expect(manifest.shards.map(\.records) == [2, 1])

        var broken = ManifestBuilder(taskType: .unlabeled, schema: DatasetSchema(fields: [FieldSpec(name: "", type: .string)])) { _ in
            String(repeating: "a", count: 64)
        }
        await #expect(throws: DataImportError.self) { _ = try await broken.finish() }
    }
}
