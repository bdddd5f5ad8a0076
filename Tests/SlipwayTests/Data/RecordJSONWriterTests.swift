import Foundation
import SlipwayDomain
import Testing

@testable import SlipwayData

/// The shard writer's hand-written JSON is byte for byte what the record encoder writes, so shards keep the same
/// bytes (and hashes) and every reader of the format reads them as before.
@Suite("Record JSON writer")
struct RecordJSONWriterTests {
    /// Awkward text: quotes, backslashes, slashes, every control character, non-ASCII and emoji.
    static let texts = [
        "", "plain", "a/b\\c\"d", "tab\tnew\nline\rcr", "é€😀 U+2028:\u{2028} DEL:\u{7F}", "camelCaseName", "snake_name",
        String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }),
    ]
    static let numbers: [Double] = [0, -0.0, 1, -1.5, 0.1, 1e20, 1e-7, 123_456_789_012_345_680, 5e-324, 1.7976931348623157e308, 3.25]

    static func randomRecord(_ random: inout some RandomNumberGenerator, index: Int) -> DatasetRecord {
        func text() -> String { texts.randomElement(using: &random)! }
        func number() -> Double { numbers.randomElement(using: &random)! / 7 * (Bool.random(using: &random) ? 1 : -3) }
        var record = DatasetRecord(id: "r-\(index)-\(text())")
        for _ in 0..<Int.random(in: 0...5, using: &random) {
            let value: JSONValue =
                switch Int.random(in: 0..<5, using: &random) {
                case 0: .string(text())
                case 1: .integer(Int64.random(in: Int64.min...Int64.max, using: &random))
                case 2: .number(number())
                case 3: .bool(Bool.random(using: &random))
                default: .null
                }
            record.fields["\(text())\(Int.random(in: 0..<100, using: &random))"] = value
        }
        if Bool.random(using: &random) {
            record.file = RecordFile(
                sha256: String(repeating: "ab", count: 32), size: Int64.random(in: 0...1 << 40, using: &random), mediaType: "image/png",
                path: "cats/\(text()).png")
        }
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            let source: AnnotationSource =
                switch Int.random(in: 0..<3, using: &random) {
                case 0: .imported
                case 1: AnnotationSource(kind: .human, user: Bool.random(using: &random) ? text() : nil)
                default: AnnotationSource(kind: .model, modelVersion: "m/\(index)", score: Bool.random(using: &random) ? 0.5 : nil)
                }
            record.annotations.append(
                Annotation(
                    kind: [.classLabel, .box, .text].randomElement(using: &random)!, label: Bool.random(using: &random) ? text() : nil,
                    box: Bool.random(using: &random) ? BoundingBox(x: number(), y: number(), width: number(), height: number()) : nil,
                    text: Bool.random(using: &random) ? text() : nil, source: source))
        }
        return record
    }

    @Test func writesWhatTheEncoderWritesForEveryShapeOfRecord() throws {
        var random = SystemRandomNumberGenerator()
        let encoder = RecordCoding.encoder()
        for index in 0..<2000 {
            let record = Self.randomRecord(&random, index: index)
            var text = JSONText()
            try RecordJSONWriter.append(record, to: &text)
            let written = text.bytes
            let encoded = Array(try encoder.encode(record))
            // Bytes, not strings: String's == would take canonically equivalent text as equal, a hash would not.
            let same = written == encoded
            #expect(same, "\(String(decoding: written, as: UTF8.self))\n  differs from\n\(String(decoding: encoded, as: UTF8.self))")
            // And every reader of the format reads it.
            _ = try RecordCoding.decoder().decode(DatasetRecord.self, from: Data(written))
            if !same { break }
        }
    }

    @Test func refusesNumbersJSONCannotHold() {
        for value in [Double.infinity, -.infinity, .nan] {
            var buffer = JSONText()
            #expect(throws: DataImportError.self) {
                try RecordJSONWriter.append(DatasetRecord(id: "x", fields: ["v": .number(value)]), to: &buffer)
            }
        }
    }
}
