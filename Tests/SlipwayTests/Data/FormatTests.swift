import Foundation
import NIOCore
import SlipwayData
import SlipwayDomain
import Testing

/// Bytes as the chunked stream importers read, cut into pieces of `size` to exercise chunk boundaries.
struct ChunkedBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    var bytes: [UInt8]
    var size: Int

    init(_ text: String, size: Int = 7) {
        self.bytes = Array(text.utf8)
        self.size = size
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var bytes: ArraySlice<UInt8>
        var size: Int
        mutating func next() async throws -> ByteBuffer? {
            guard !bytes.isEmpty else { return nil }
            let piece = bytes.prefix(size)
            bytes = bytes.dropFirst(size)
            return ByteBuffer(bytes: piece)
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes[...], size: size) }
}

@Suite("Data formats")
struct FormatTests {
    @Test(arguments: [1, 3, 1000])
    func csvReaderHandlesQuotesLineEndsAndChunkBoundaries(chunkSize: Int) {
        let text = "a,b,c\r\n1,\"two, with comma\",\"say \"\"hi\"\"\"\n\"multi\nline\",,x\n\n4,5,6"
        var reader = CSVReader()
        var rows: [CSVReader.Row] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            rows += reader.consume(bytes[index..<min(index + chunkSize, bytes.count)])
            index += chunkSize
        }
        if let last = reader.finish() { rows.append(last) }
        #expect(rows.map(\.fields) == [["a", "b", "c"], ["1", "two, with comma", "say \"hi\""], ["multi\nline", "", "x"], ["4", "5", "6"]])
        #expect(rows.map(\.line) == [1, 2, 3, 6])
    }

    static let iris = """
        sepal_length,sepal_width,species,flag,note
        5.1,3.5,setosa,true,first
        4.9,3,setosa,false,
        7,3.2,versicolor,true,"has, comma"
        6.3,3.3,virginica,false,x

        """

    @Test func csvImportInfersTypesAndClassesAndRoundTrips() async throws {
        let importer = CSVTableImporter(options: CSVImportOptions(labelColumn: "species"))
        let plan = try await importer.plan(ChunkedBytes(Self.iris))
        #expect(plan.rowCount == 4)
        #expect(
            plan.schema.fields == [
                FieldSpec(name: "sepal_length", type: .number), FieldSpec(name: "sepal_width", type: .number),
                FieldSpec(name: "flag", type: .boolean), FieldSpec(name: "note", type: .string),
            ])
        #expect(plan.schema.classes == ["setosa", "versicolor", "virginica"])
        var records: [DatasetRecord] = []
        try await importer.records(ChunkedBytes(Self.iris), plan: plan) { records.append($0) }
        #expect(records.map(\.id) == ["row-1", "row-2", "row-3", "row-4"])
        #expect(records[0].fields["sepal_length"] == .number(5.1))
        #expect(records[1].fields["sepal_width"] == .number(3))
        #expect(records[1].fields["note"] == .null)
        #expect(records[2].fields["note"] == .string("has, comma"))
        #expect(records[2].classLabel == "versicolor")
        #expect(records[0].annotations.first?.source.kind == .import)

        // Out to CSV and back in: the same records.
        var exported = TableExporter.csvHeader(schema: plan.schema, labelColumn: "species")
        for record in records { exported += TableExporter.csvLine(record, schema: plan.schema) }
        let again = CSVTableImporter(options: CSVImportOptions(labelColumn: "species", idColumn: "id"))
        let replan = try await again.plan(ChunkedBytes(exported))
        var reimported: [DatasetRecord] = []
        try await again.records(ChunkedBytes(exported), plan: replan) { reimported.append($0) }
        #expect(reimported == records)
        #expect(replan.schema == plan.schema)
    }

    @Test func csvSchemaOverrideIsCheckedOnEveryValue() async throws {
        let text = "id,zip,count\na,01234,1\nb,98765,2\nc,1x,3\n"
        let strings = CSVTableImporter(options: CSVImportOptions(idColumn: "id", fieldTypes: ["zip": .string]))
        let plan = try await strings.plan(ChunkedBytes(text))
        #expect(plan.schema.field("zip")?.type == .string, "the override keeps leading zeros")
        #expect(plan.schema.field("count")?.type == .integer)

        let integers = CSVTableImporter(options: CSVImportOptions(idColumn: "id", fieldTypes: ["zip": .integer]))
        let badPlan = try await integers.plan(ChunkedBytes(text))
        await #expect(throws: DataImportError.atLine(4, "'1x' in column 'zip' is not an integer")) {
            try await integers.records(ChunkedBytes(text), plan: badPlan) { _ in }
        }
    }

    @Test(arguments: [
        ("", "the CSV file is empty: it needs a header line naming the columns"),
        ("a,a\n1,2\n", "line 1: the header names column 'a' twice"),
        ("a,b\n1\n", "line 2: has 1 values but the header has 2 columns"),
        ("a,b\n1,\"open\n", "the CSV file ends inside a quoted value (a \" is not closed)"),
    ])
    func malformedCSVIsRefusedSayingWhere(text: String, message: String) async throws {
        let importer = CSVTableImporter(options: CSVImportOptions())
        do {
            _ = try await importer.plan(ChunkedBytes(text))
            Issue.record("expected an error for \(text.debugDescription)")
        } catch let error as DataImportError {
            #expect(error.description == message)
        }
    }

    @Test func csvLabelAndIdColumnsMustExistAndIdsMustBeUnique() async throws {
        await #expect(throws: DataImportError.self) {
            _ = try await CSVTableImporter(options: CSVImportOptions(labelColumn: "nope")).plan(ChunkedBytes("a\n1\n"))
        }
        let importer = CSVTableImporter(options: CSVImportOptions(idColumn: "id"))
        let text = "id,x\nk,1\nk,2\n"
        let plan = try await importer.plan(ChunkedBytes(text))
        await #expect(throws: DataImportError.atLine(3, "the id 'k' appears twice")) {
            try await importer.records(ChunkedBytes(text), plan: plan) { _ in }
        }
    }

    @Test func jsonLinesImportReadsPlainObjectsAndSlipwayRecords() async throws {
        let text = """
            {"id": "a", "text": "good film", "stars": 5, "label": "positive"}
            {"id": "b", "text": "bad film", "stars": 1.5, "label": "negative"}

            {"id": "c", "file": {"sha256": "\(String(repeating: "ab", count: 32))", "size": 10, "media_type": "image/png", "path": "x/c.png"}, "fields": {"stars": 2}, "annotations": [{"kind": "box", "label": "cat", "box": {"x": 1, "y": 2, "width": 3, "height": 4}, "source": {"kind": "model", "model_version": "det/3", "score": 0.9}}]}
            """
        let importer = JSONLinesImporter()
        let schema = try await importer.schema(ChunkedBytes(text, size: 11))
        #expect(schema.fields == [FieldSpec(name: "stars", type: .number), FieldSpec(name: "text", type: .string)])
        #expect(schema.classes == ["cat", "negative", "positive"])
        var records: [DatasetRecord] = []
        try await importer.records(ChunkedBytes(text, size: 11), schema: schema) { records.append($0) }
        #expect(records.map(\.id) == ["a", "b", "c"])
        #expect(records[0].fields["stars"] == .number(5), "integers widen to the column's number type")
        #expect(records[2].annotations.first?.box == BoundingBox(x: 1, y: 2, width: 3, height: 4))
        #expect(records[2].annotations.first?.source.modelVersion == "det/3")

        // Out as Slipway JSON Lines and back: the same records.
        let exported = try records.map(TableExporter.jsonLine).joined()
        var again: [DatasetRecord] = []
        try await importer.records(ChunkedBytes(exported), schema: schema) { again.append($0) }
        #expect(again == records)
    }

    @Test func jsonLinesRefusesLinesThatAreNotObjects() async throws {
        await #expect(throws: DataImportError.atLine(2, "not a JSON object")) {
            _ = try await JSONLinesImporter().schema(ChunkedBytes("{\"a\": 1}\n[1, 2]\n"))
        }
    }

    @Test func manifestBuilderShardsValidatesAndCountsAndReadsBack() async throws {
        let schema = DatasetSchema(fields: [FieldSpec(name: "x", type: .number)], classes: ["a", "b"])
        let shards = ShardCollector()
        var builder = ManifestBuilder(taskType: .tabularClassification, schema: schema, recordsPerShard: 2) { bytes in
            await shards.store(bytes)
        }
        for index in 1...5 {
            try await builder.add(
                DatasetRecord(
                    id: "r\(index)", fields: ["x": .number(Double(index))],
                    annotations: index == 5 ? [] : [.imported(label: index % 2 == 0 ? "a" : "b")]))
        }
        await #expect(throws: DataImportError.self) { try await builder.add(DatasetRecord(id: "r1")) }
        await #expect(throws: DataImportError.self) { try await builder.add(DatasetRecord(id: "r9", fields: ["y": .integer(1)])) }
        await #expect(throws: DataImportError.self) { try await builder.add(DatasetRecord(id: "r9", fields: ["x": .string("no")])) }
        let manifest = try await builder.finish()
        #expect(manifest.recordCount == 5)
        #expect(manifest.shards.map(\.records) == [2, 2, 1])
        #expect(manifest.statistics.classCounts == ["a": 2, "b": 2])
        #expect(manifest.statistics.unlabeled == 1)
        #expect(manifest.statistics.fields["x"]?.mean == 3)
        #expect(manifest.statistics.fields["x"]?.minimum == 1)
        var read: [String] = []
        for shard in manifest.shards {
            read += try ManifestReader.records(inShard: await shards.bytes(shard.sha256)).map(\.id)
        }
        #expect(read == ["r1", "r2", "r3", "r4", "r5"])
    }
}

/// An in-memory shard store for manifest tests.
actor ShardCollector {
    private var blobs: [String: [UInt8]] = [:]

    func store(_ bytes: [UInt8]) -> String {
        let digest = sha256Hex(String(decoding: bytes, as: UTF8.self))
        blobs[digest] = bytes
        return digest
    }

    func bytes(_ digest: String) -> [UInt8] { blobs[digest] ?? [] }
}

@Suite("Version diff")
struct VersionDiffTests {
    @Test func diffMatchesRecordsByIdAndComparesContentAndLabels() throws {
        var differ = VersionDiffer(from: 1, to: 2)
        let old = [
            DatasetRecord(id: "a", fields: ["x": .integer(1)], annotations: [.imported(label: "cat")]),
            DatasetRecord(id: "b", fields: ["x": .integer(2)], annotations: [.imported(label: "dog")]),
            DatasetRecord(id: "c", fields: ["x": .integer(3)], annotations: [.imported(label: "dog")]),
        ]
        let new = [
            DatasetRecord(id: "a", fields: ["x": .integer(1)], annotations: [.imported(label: "cat")]),
            DatasetRecord(id: "c", fields: ["x": .integer(3)], annotations: [.imported(label: "cat")]),
            DatasetRecord(id: "d", fields: ["x": .integer(4)], annotations: [.imported(label: "cat")]),
        ]
        for record in old { try differ.indexOld(record) }
        for record in new { try differ.compareNew(record) }
        let diff = differ.finish()
        #expect((diff.added, diff.removed, diff.changed, diff.unchanged) == (1, 1, 1, 1))
        #expect(diff.addedSample == ["d"] && diff.removedSample == ["b"] && diff.changedSample == ["c"])
        #expect(diff.classCountsBefore == ["cat": 1, "dog": 2])
        #expect(diff.classCountsAfter == ["cat": 3])
    }
}

@Suite("Image dimensions")
struct ImageDimensionsTests {
    @Test func readsPNGGIFAndJPEGHeaders() {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        png += [0, 0, 2, 128, 0, 0, 1, 224]  // 640 × 480
        #expect(ImageDimensions.of(png)! == (640, 480))
        let gif: [UInt8] = Array("GIF89a".utf8) + [0x20, 0x03, 0x58, 0x02]  // 800 × 600
        #expect(ImageDimensions.of(gif)! == (800, 600))
        // SOI, an APP0 segment of 16 bytes, then SOF0 with height 300 and width 400.
        let jpeg: [UInt8] =
            [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array(repeating: 0, count: 14)
            + [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0x2C, 0x01, 0x90, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(ImageDimensions.of(jpeg)! == (400, 300))
        #expect(ImageDimensions.of(Array("not an image".utf8)) == nil)
        #expect(MediaTypes.image(forFileNamed: "cats/a.JPG") == "image/jpeg")
        #expect(MediaTypes.image(forFileNamed: "notes.txt") == nil)
    }
}
