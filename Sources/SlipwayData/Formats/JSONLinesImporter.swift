import Foundation
import NIOCore
import SlipwayDomain

/// Imports JSON Lines: one JSON object per line, either a record in Slipway's own format (with `fields`,
/// `annotations` or `file`) or a plain object whose scalar values become fields, with an optional id key
/// and label key. Two streamed passes, as for CSV: the first infers the schema, the second emits records.
public struct JSONLinesImporter: Sendable {
    /// The key holding stable record ids in plain objects (records are numbered without it).
    public var idKey: String?
    /// The key holding the class label in plain objects.
    public var labelKey: String?
    /// Types that replace the inferred ones.
    public var fieldTypes: [String: FieldType]

    public init(idKey: String? = "id", labelKey: String? = "label", fieldTypes: [String: FieldType] = [:]) {
        self.idKey = idKey
        self.labelKey = labelKey
        self.fieldTypes = fieldTypes
    }

    /// Pass 1: the schema of the records.
    public func schema(_ chunks: some AsyncSequence<ByteBuffer, any Error>) async throws -> DatasetSchema {
        var types: [String: FieldType] = [:]
        var order: [String] = []
        var classes: Set<String> = []
        // Fields seen so far with null only: declared as strings unless a value says otherwise.
        var onlyNull: Set<String> = []
        try await lines(chunks) { record, _ in
            for (name, value) in record.fields.sorted(by: { $0.key < $1.key }) {
                if types[name] == nil, !onlyNull.contains(name) { order.append(name) }
                guard let type = Self.type(of: value) else {
                    if types[name] == nil { onlyNull.insert(name) }
                    continue
                }
                onlyNull.remove(name)
                types[name] = Self.widen(types[name], type)
            }
            for annotation in record.annotations where annotation.kind != .text {
                if let label = annotation.label { classes.insert(label) }
            }
        }
        for name in fieldTypes.keys where types[name] == nil && !onlyNull.contains(name) {
            throw DataImportError.invalid("a type is given for field '\(name)', which no record has")
        }
        let fields = order.map { FieldSpec(name: $0, type: fieldTypes[$0] ?? types[$0] ?? .string) }
        return DatasetSchema(fields: fields, classes: classes.sorted())
    }

    /// Pass 2: every record, converted to the schema's types.
    public func records(
        _ chunks: some AsyncSequence<ByteBuffer, any Error>, schema: DatasetSchema, emit: (DatasetRecord) async throws -> Void
    ) async throws {
        var pending: [(DatasetRecord, Int)] = []
        try await lines(chunks) { record, line in
            pending.append((record, line))
        } afterChunk: {
            for (var record, line) in pending {
                for (name, value) in record.fields {
                    guard let type = schema.field(name)?.type else { continue }
                    guard let converted = Self.convert(value, to: type) else {
                        throw DataImportError.atLine(line, "field '\(name)' of record '\(record.id)' is not \(type.article)")
                    }
                    record.fields[name] = converted
                }
                try await emit(record)
            }
            pending.removeAll(keepingCapacity: true)
        }
    }

    private func lines(
        _ chunks: some AsyncSequence<ByteBuffer, any Error>, _ body: (DatasetRecord, Int) throws -> Void,
        afterChunk: () async throws -> Void = {}
    ) async throws {
        var carry: [UInt8] = []
        var line = 0
        var number = 0
        let decoder = RecordCoding.decoder()
        func handle(_ bytes: ArraySlice<UInt8>) throws {
            line += 1
            let trimmed = bytes.drop { $0 == 32 || $0 == 9 || $0 == 13 }.reversed().drop { $0 == 32 || $0 == 9 || $0 == 13 }.reversed()
            guard !trimmed.isEmpty else { return }
            number += 1
            try body(try record(Data(trimmed), line: line, number: number, decoder: decoder), line)
        }
        for try await chunk in chunks {
            carry.append(contentsOf: chunk.readableBytesView)
            var start = carry.startIndex
            while let end = carry[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try handle(carry[start..<end])
                start = end + 1
            }
            carry.removeSubrange(carry.startIndex..<start)
            try await afterChunk()
        }
        if !carry.isEmpty { try handle(carry[...]) }
        try await afterChunk()
    }

    private func record(_ data: Data, line: Int, number: Int, decoder: JSONDecoder) throws -> DatasetRecord {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DataImportError.atLine(line, "not a JSON object")
        }
        if object["fields"] != nil || object["annotations"] != nil || object["file"] != nil {
            if let key = RecordValidation.unknownKey(in: object) {
                throw DataImportError.atLine(line, "'\(key)' is not part of a Slipway record (see docs/dataset-record.schema.json)")
            }
            do {
                return try decoder.decode(DatasetRecord.self, from: data)
            } catch {
                throw DataImportError.atLine(line, "not a valid Slipway record: \(Self.describe(error))")
            }
        }
        var record = DatasetRecord(id: "row-\(number)")
        let values: [String: JSONValue]
        do {
            values = try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch {
            throw DataImportError.atLine(line, "values of a plain object must be strings, numbers, booleans or null")
        }
        for (key, value) in values {
            if key == idKey {
                guard case .string(let id) = value, !id.isEmpty else {
                    if case .integer(let id) = value { record.id = String(id); continue }
                    throw DataImportError.atLine(line, "the id '\(key)' must be a non-empty string or an integer")
                }
                record.id = id
            } else if key == labelKey {
                if value != .null { record.annotations = [.imported(label: value.description)] }
            } else {
                record.fields[key] = value
            }
        }
        return record
    }

    static func type(of value: JSONValue) -> FieldType? {
        switch value {
        case .string: .string
        case .integer: .integer
        case .number: .number
        case .bool: .boolean
        case .null: nil
        }
    }

    static func widen(_ current: FieldType?, _ new: FieldType) -> FieldType {
        guard let current, current != new else { return new }
        if Set([current, new]) == [.integer, .number] { return .number }
        return .string
    }

    static func convert(_ value: JSONValue, to type: FieldType) -> JSONValue? {
        switch (value, type) {
        case (.null, _): .null
        case (.string, .string), (.integer, .integer), (.number, .number), (.bool, .boolean): value
        case (.integer(let number), .number): .number(Double(number))
        case (_, .string): .string(value.description)
        case (.string(let text), _): FieldInference.value(text, as: type)
        default: nil
        }
    }

    static func describe(_ error: any Error) -> String {
        if case DecodingError.keyNotFound(let key, _) = error { return "'\(key.stringValue)' is missing" }
        if case DecodingError.typeMismatch(_, let context) = error {
            return "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        }
        return "\(error)"
    }
}
