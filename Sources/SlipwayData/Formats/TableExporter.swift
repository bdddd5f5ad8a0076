import Foundation
import SlipwayDomain

/// Writes records back out as CSV (id, the schema's fields in order, label) or as JSON Lines in Slipway's format.
public enum TableExporter {
    /// The CSV header line.
    public static func csvHeader(schema: DatasetSchema, idColumn: String = "id", labelColumn: String = "label") -> String {
        CSVWriter.line([idColumn] + schema.fields.map(\.name) + (schema.classes.isEmpty ? [] : [labelColumn]))
    }

    /// One CSV line for `record`.
    public static func csvLine(_ record: DatasetRecord, schema: DatasetSchema) -> String {
        var cells = [record.id]
        cells += schema.fields.map { record.fields[$0.name]?.description ?? "" }
        if !schema.classes.isEmpty { cells.append(record.classLabel ?? "") }
        return CSVWriter.line(cells)
    }

    private static let encoder = RecordCoding.encoder()

    /// One JSON Lines line for `record`, in Slipway's record format.
    public static func jsonLine(_ record: DatasetRecord) throws -> String {
        String(decoding: try encoder.encode(record), as: UTF8.self) + "\n"
    }
}
