import SlipwayDomain

/// Writes a record as one line of a shard, byte for byte what ``RecordCoding/encoder()`` writes (sorted snake_case
/// keys, slashes unescaped, absent optionals left out), without `JSONEncoder`'s per-call cost, which was most of the
/// time of importing a large table.
enum RecordJSONWriter {
    /// Appends `record`'s JSON to `buffer`.
    /// - Throws: ``DataImportError`` for a number JSON cannot hold (infinite or NaN), as the encoder refuses one.
    static func append(_ record: DatasetRecord, to buffer: inout [UInt8]) throws {
        buffer.append(contentsOf: #"{"annotations":["#.utf8)
        for (index, annotation) in record.annotations.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            try append(annotation, of: record, to: &buffer)
        }
        buffer.append(contentsOf: #"],"fields":{"#.utf8)
        var first = true
        for name in record.fields.keys.sorted() {
            if !first { buffer.append(UInt8(ascii: ",")) }
            first = false
            string(name, to: &buffer)
            buffer.append(UInt8(ascii: ":"))
            switch record.fields[name]! {
            case .string(let text): string(text, to: &buffer)
            case .integer(let value): buffer.append(contentsOf: String(value).utf8)
            case .number(let value): try number(value, of: record, to: &buffer)
            case .bool(let flag): buffer.append(contentsOf: (flag ? "true" : "false").utf8)
            case .null: buffer.append(contentsOf: "null".utf8)
            }
        }
        buffer.append(UInt8(ascii: "}"))
        if let file = record.file {
            buffer.append(contentsOf: #","file":{"media_type":"#.utf8)
            string(file.mediaType, to: &buffer)
            buffer.append(contentsOf: #","path":"#.utf8)
            string(file.path, to: &buffer)
            buffer.append(contentsOf: #","sha256":"#.utf8)
            string(file.sha256, to: &buffer)
            buffer.append(contentsOf: #","size":"#.utf8)
            buffer.append(contentsOf: String(file.size).utf8)
            buffer.append(UInt8(ascii: "}"))
        }
        buffer.append(contentsOf: #","id":"#.utf8)
        string(record.id, to: &buffer)
        buffer.append(UInt8(ascii: "}"))
    }

    private static func append(_ annotation: Annotation, of record: DatasetRecord, to buffer: inout [UInt8]) throws {
        buffer.append(UInt8(ascii: "{"))
        if let box = annotation.box {
            buffer.append(contentsOf: #""box":{"height":"#.utf8)
            try number(box.height, of: record, to: &buffer)
            buffer.append(contentsOf: #","width":"#.utf8)
            try number(box.width, of: record, to: &buffer)
            buffer.append(contentsOf: #","x":"#.utf8)
            try number(box.x, of: record, to: &buffer)
            buffer.append(contentsOf: #","y":"#.utf8)
            try number(box.y, of: record, to: &buffer)
            buffer.append(contentsOf: "},".utf8)
        }
        buffer.append(contentsOf: #""kind":"#.utf8)
        string(annotation.kind.rawValue, to: &buffer)
        if let label = annotation.label {
            buffer.append(contentsOf: #","label":"#.utf8)
            string(label, to: &buffer)
        }
        let source = annotation.source
        buffer.append(contentsOf: #","source":{"kind":"#.utf8)
        string(source.kind.rawValue, to: &buffer)
        if let modelVersion = source.modelVersion {
            buffer.append(contentsOf: #","model_version":"#.utf8)
            string(modelVersion, to: &buffer)
        }
        if let score = source.score {
            buffer.append(contentsOf: #","score":"#.utf8)
            try number(score, of: record, to: &buffer)
        }
        if let user = source.user {
            buffer.append(contentsOf: #","user":"#.utf8)
            string(user, to: &buffer)
        }
        buffer.append(UInt8(ascii: "}"))
        if let text = annotation.text {
            buffer.append(contentsOf: #","text":"#.utf8)
            string(text, to: &buffer)
        }
        buffer.append(UInt8(ascii: "}"))
    }

    /// A number as the encoder writes it: Swift's shortest round-tripping form, without a trailing `.0`.
    private static func number(_ value: Double, of record: DatasetRecord, to buffer: inout [UInt8]) throws {
        guard value.isFinite else { throw DataImportError.invalid("record '\(record.id)': \(value) is not a number JSON can hold") }
        let text = value.description
        if text.hasSuffix(".0") {
            buffer.append(contentsOf: text.utf8.dropLast(2))
        } else {
            buffer.append(contentsOf: text.utf8)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string: quotes and backslashes escaped, control characters as `\n`-style or `\u00XX` escapes.
    private static func string(_ text: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): buffer.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): buffer.append(contentsOf: #"\\"#.utf8)
                case 0x0A: buffer.append(contentsOf: #"\n"#.utf8)
                case 0x0D: buffer.append(contentsOf: #"\r"#.utf8)
                case 0x09: buffer.append(contentsOf: #"\t"#.utf8)
                case 0x08: buffer.append(contentsOf: #"\b"#.utf8)
                case 0x0C: buffer.append(contentsOf: #"\f"#.utf8)
                default:
                    buffer.append(contentsOf: #"\u00"#.utf8)
                    buffer.append(hexDigits[Int(byte >> 4)])
                    buffer.append(hexDigits[Int(byte & 0x0F)])
                }
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        buffer.append(UInt8(ascii: "\""))
    }
}
