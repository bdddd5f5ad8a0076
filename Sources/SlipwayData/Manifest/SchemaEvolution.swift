import SlipwayDomain

/// How a draft's schema grows as records are added by hand: a field the schema lacks is added with the
/// type of its value; a value of another type than its field's is refused.
public enum SchemaEvolution {
    /// `schema` with the fields of `record` it lacked, or `nil` when nothing is new.
    /// - Throws: ``DataImportError`` when a value does not fit its field's type.
    public static func schema(_ schema: DatasetSchema, admitting record: DatasetRecord) throws -> DatasetSchema? {
        var grown = schema
        for name in record.fields.keys.sorted() where schema.field(name) == nil {
            guard let type = type(of: record.fields[name]!) else { continue }
            grown.fields.append(FieldSpec(name: name, type: type))
        }
        if let problem = RecordValidation.problem(with: record, schema: grown) { throw DataImportError.invalid(problem) }
        return grown == schema ? nil : grown
    }

    /// `schema` with the fields of `other` it lacked. - Throws: when a field has different types in the two.
    public static func schema(_ schema: DatasetSchema, merging other: DatasetSchema) throws -> DatasetSchema {
        var merged = schema
        for field in other.fields {
            if let existing = schema.field(field.name) {
                let compatible = existing.type == field.type || (existing.type == .number && field.type == .integer)
                guard compatible else {
                    throw DataImportError.invalid(
                        "field '\(field.name)' is \(existing.type.article) in the draft but \(field.type.article) in the import")
                }
            } else {
                merged.fields.append(field)
            }
        }
        return merged
    }

    /// The field type of a value; `nil` for `null`, which fits every type.
    static func type(of value: JSONValue) -> FieldType? {
        switch value {
        case .string: .string
        case .integer: .integer
        case .number: .number
        case .bool: .boolean
        case .null: nil
        }
    }
}
