/// What a dataset is for; decides which annotations and exports make sense.
public enum TaskType: String, Codable, Sendable, CaseIterable {
    case imageClassification = "image_classification"
    case objectDetection = "object_detection"
    case tabularClassification = "tabular_classification"
    case tabularRegression = "tabular_regression"
    case textClassification = "text_classification"
    case unlabeled
}

/// The type of a record field.
public enum FieldType: String, Codable, Sendable, CaseIterable {
    case string
    case integer
    case number
    case boolean
}

/// A typed field of a dataset's records.
public struct FieldSpec: Codable, Hashable, Sendable {
    public var name: String
    public var type: FieldType

    public init(name: String, type: FieldType) {
        self.name = name
        self.type = type
    }
}

/// The shape of a dataset's records: typed feature fields and the label classes.
public struct DatasetSchema: Codable, Hashable, Sendable {
    /// Feature fields, in column order.
    public var fields: [FieldSpec]
    /// The label classes, sorted.
    public var classes: [String]

    public init(fields: [FieldSpec] = [], classes: [String] = []) {
        self.fields = fields
        self.classes = classes
    }

    /// The field named `name`.
    public func field(_ name: String) -> FieldSpec? { fields.first { $0.name == name } }
}
