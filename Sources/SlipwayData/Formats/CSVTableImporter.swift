import Foundation
import NIOCore
import SlipwayDomain

/// How a CSV file maps onto records.
public struct CSVImportOptions: Codable, Sendable, Hashable {
    /// The column holding each record's class label, if any.
    public var labelColumn: String?
    /// The column holding stable record ids; rows are numbered (`row-1`, …) without one.
    public var idColumn: String?
    /// Types that replace the inferred ones, by column name.
    public var fieldTypes: [String: FieldType]

    public init(labelColumn: String? = nil, idColumn: String? = nil, fieldTypes: [String: FieldType] = [:]) {
        self.labelColumn = labelColumn
        self.idColumn = idColumn
        self.fieldTypes = fieldTypes
    }
}

/// Imports a CSV table into records in two streamed passes: the first infers the schema (types from every
/// value, overridden where the options say, and the label classes); the second converts each row.
public struct CSVTableImporter: Sendable {
    public let options: CSVImportOptions

    public init(options: CSVImportOptions) {
        self.options = options
    }

    /// What the first pass learned.
    public struct Plan: Sendable, Equatable {
        public var header: [String]
        public var schema: DatasetSchema
        public var rowCount: Int
    }

    /// Pass 1: reads the whole table once and returns its schema.
    public func plan(_ chunks: some AsyncSequence<ByteBuffer, any Error>) async throws -> Plan {
        var header: [String]?
        var inference: [FieldInference] = []
        var classes: Set<String> = []
        var rows = 0
        try await Self.rows(chunks) { row in
            guard let columns = header else {
                header = try validateHeader(row)
                inference = Array(repeating: FieldInference(), count: row.fields.count)
                return
            }
            try Self.checkWidth(row, columns.count)
            rows += 1
            for (index, cell) in row.fields.enumerated() { inference[index].observe(cell) }
            if let label = labelIndex(columns), !row.fields[label].isEmpty { classes.insert(row.fields[label]) }
        }
        guard let header else { throw DataImportError.invalid("the CSV file is empty: it needs a header line naming the columns") }
        var fields: [FieldSpec] = []
        for (index, name) in header.enumerated() where name != options.labelColumn && name != options.idColumn {
            fields.append(FieldSpec(name: name, type: options.fieldTypes[name] ?? inference[index].type))
        }
        return Plan(header: header, schema: DatasetSchema(fields: fields, classes: classes.sorted()), rowCount: rows)
    }

    /// Pass 2: converts every row to a record, in file order.
    /// - Throws: ``DataImportError`` naming the line of a value that does not fit its type, or a repeated id.
    public func records(
        _ chunks: some AsyncSequence<ByteBuffer, any Error>, plan: Plan, emit: (DatasetRecord) async throws -> Void
    ) async throws {
        let header = plan.header
        let types = Dictionary(uniqueKeysWithValues: plan.schema.fields.map { ($0.name, $0.type) })
        let label = labelIndex(header)
        let idColumn = options.idColumn.flatMap { header.firstIndex(of: $0) }
        var seenHeader = false
        var number = 0
        var ids: Set<String> = []
        var pending: [DatasetRecord] = []
        try await Self.rows(chunks) { row in
            guard seenHeader else {
                seenHeader = true
                return
            }
            try Self.checkWidth(row, header.count)
            number += 1
            var record = DatasetRecord(id: "row-\(number)")
            if let idColumn {
                let id = row.fields[idColumn]
                guard !id.isEmpty else { throw DataImportError.atLine(row.line, "the id column '\(header[idColumn])' is empty") }
                record.id = id
            }
            guard ids.insert(record.id).inserted else { throw DataImportError.atLine(row.line, "the id '\(record.id)' appears twice") }
            for (index, name) in header.enumerated() {
                guard let type = types[name] else { continue }
                guard let value = FieldInference.value(row.fields[index], as: type) else {
                    throw DataImportError.atLine(row.line, "'\(row.fields[index])' in column '\(name)' is not \(type.article)")
                }
                record.fields[name] = value
            }
            if let label, !row.fields[label].isEmpty { record.annotations = [.imported(label: row.fields[label])] }
            pending.append(record)
        } afterChunk: {
            for record in pending { try await emit(record) }
            pending.removeAll(keepingCapacity: true)
        }
    }

    private func labelIndex(_ header: [String]) -> Int? {
        options.labelColumn.flatMap { header.firstIndex(of: $0) }
    }

    private func validateHeader(_ row: CSVReader.Row) throws -> [String] {
        let names = row.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        if let empty = names.firstIndex(of: "") {
            throw DataImportError.atLine(row.line, "column \(empty + 1) of the header has no name")
        }
        var seen: Set<String> = []
        for name in names where !seen.insert(name).inserted {
            throw DataImportError.atLine(row.line, "the header names column '\(name)' twice")
        }
        for (role, column) in [("label", options.labelColumn), ("id", options.idColumn)] {
            if let column, !names.contains(column) {
                throw DataImportError.invalid("the \(role) column '\(column)' is not in the header (\(names.joined(separator: ", ")))")
            }
        }
        for name in options.fieldTypes.keys where !names.contains(name) {
            throw DataImportError.invalid("a type is given for column '\(name)', which is not in the header")
        }
        return names
    }

    private static func checkWidth(_ row: CSVReader.Row, _ width: Int) throws {
        if row.fields.count != width {
            throw DataImportError.atLine(row.line, "has \(row.fields.count) values but the header has \(width) columns")
        }
    }

    /// Feeds `chunks` through a CSV reader, calling `body` for every row and `afterChunk` after each chunk.
    static func rows(
        _ chunks: some AsyncSequence<ByteBuffer, any Error>, _ body: (CSVReader.Row) throws -> Void,
        afterChunk: () async throws -> Void = {}
    ) async throws {
        var reader = CSVReader()
        var first = true
        for try await chunk in chunks {
            var bytes = chunk.readableBytesView[...]
            if first {
                first = false
                if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }  // UTF-8 byte order mark
            }
            for row in reader.consume(bytes) { try body(row) }
            try await afterChunk()
        }
        if reader.isInsideQuotes { throw DataImportError.invalid("the CSV file ends inside a quoted value (a \" is not closed)") }
        if let row = reader.finish() { try body(row) }
        try await afterChunk()
    }
}

extension FieldType {
    /// "an integer", "a number", … for messages.
    var article: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .number: "a number"
        case .boolean: "true or false"
        }
    }
}
