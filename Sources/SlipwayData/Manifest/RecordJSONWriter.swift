import SlipwayDomain

/// Writes a record as one line of a shard, byte for byte what ``RecordCoding/encoder()`` writes (sorted snake_case
/// keys, slashes unescaped, absent optionals left out), without `JSONEncoder`'s per-call cost, which was most of the
/// time of importing a large table.
enum RecordJSONWriter {
    /// Appends `record`'s JSON to `buffer`.
    /// - Throws: ``DataImportError`` for a number JSON cannot hold (infinite or NaN), as the encoder refuses one.
    static func append(_ record: DatasetRecord, to buffer: inout JSONText) throws {
        buffer.raw(#"{"annotations":["#)
        for (index, annotation) in record.annotations.enumerated() {
            if index > 0 { buffer.raw(byte: UInt8(ascii: ",")) }
            try append(annotation, of: record, to: &buffer)
        }
        buffer.raw(#"],"fields":{"#)
        var first = true
        for name in record.fields.keys.sorted() {
            if !first { buffer.raw(byte: UInt8(ascii: ",")) }
            first = false
            buffer.string(name)
            buffer.raw(byte: UInt8(ascii: ":"))
            switch record.fields[name]! {
            case .string(let text): buffer.string(text)
            case .integer(let value): buffer.integer(value)
            case .number(let value): try number(value, of: record, to: &buffer)
            case .bool(let flag): buffer.raw(flag ? "true" : "false")
            case .null: buffer.raw("null")
            }
        }
        buffer.raw(byte: UInt8(ascii: "}"))
        if let file = record.file {
            buffer.raw(#","file":{"media_type":"#)
            buffer.string(file.mediaType)
            buffer.raw(#","path":"#)
            buffer.string(file.path)
            buffer.raw(#","sha256":"#)
            buffer.string(file.sha256)
            buffer.raw(#","size":"#)
            buffer.integer(file.size)
            buffer.raw(byte: UInt8(ascii: "}"))
        }
        buffer.raw(#","id":"#)
        buffer.string(record.id)
        buffer.raw(byte: UInt8(ascii: "}"))
    }

    private static func append(_ annotation: Annotation, of record: DatasetRecord, to buffer: inout JSONText) throws {
        buffer.raw(byte: UInt8(ascii: "{"))
        if let box = annotation.box {
            buffer.raw(#""box":{"height":"#)
            try number(box.height, of: record, to: &buffer)
            buffer.raw(#","width":"#)
            try number(box.width, of: record, to: &buffer)
            buffer.raw(#","x":"#)
            try number(box.x, of: record, to: &buffer)
            buffer.raw(#","y":"#)
            try number(box.y, of: record, to: &buffer)
            buffer.raw("},")
        }
        buffer.raw(#""kind":"#)
        buffer.string(annotation.kind.rawValue)
        if let label = annotation.label {
            buffer.raw(#","label":"#)
            buffer.string(label)
        }
        let source = annotation.source
        buffer.raw(#","source":{"kind":"#)
        buffer.string(source.kind.rawValue)
        if let modelVersion = source.modelVersion {
            buffer.raw(#","model_version":"#)
            buffer.string(modelVersion)
        }
        if let score = source.score {
            buffer.raw(#","score":"#)
            try number(score, of: record, to: &buffer)
        }
        if let user = source.user {
            buffer.raw(#","user":"#)
            buffer.string(user)
        }
        buffer.raw(byte: UInt8(ascii: "}"))
        if let text = annotation.text {
            buffer.raw(#","text":"#)
            buffer.string(text)
        }
        buffer.raw(byte: UInt8(ascii: "}"))
    }

    /// A number as the encoder writes it: Swift's shortest round-tripping form, without a trailing `.0`.
    private static func number(_ value: Double, of record: DatasetRecord, to buffer: inout JSONText) throws {
        guard value.isFinite else { throw DataImportError.invalid("record '\(record.id)': \(value) is not a number JSON can hold") }
        let text = value.description
        buffer.raw(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
    }
}
