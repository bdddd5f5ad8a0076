import Foundation

/// One record of a dataset version: the unit every format is imported into and exported from.
///
/// A record has a stable id, optionally a file (an image, a document) stored as a blob, typed fields
/// (the columns of a table), and annotations, each saying where it came from.
public struct DatasetRecord: Codable, Hashable, Sendable, Identifiable {
    /// Stable within the dataset: the same record keeps its id across versions.
    public var id: String
    /// The record's file, if it has one.
    public var file: RecordFile?
    /// Typed feature values, by field name.
    public var fields: [String: JSONValue]
    /// Labels: a class, boxes, a text label.
    public var annotations: [Annotation]

    public init(id: String, file: RecordFile? = nil, fields: [String: JSONValue] = [:], annotations: [Annotation] = []) {
        self.id = id
        self.file = file
        self.fields = fields
        self.annotations = annotations
    }

    /// The first class label, if any.
    public var classLabel: String? {
        annotations.first { $0.kind == .classLabel }?.label
    }
}

/// A file belonging to a record, stored in the blob store under its SHA-256.
public struct RecordFile: Codable, Hashable, Sendable {
    /// SHA-256 of the bytes, 64 lowercase hex digits.
    public var sha256: String
    /// Length in bytes.
    public var size: Int64
    /// IANA media type (`image/png`).
    public var mediaType: String
    /// The path the file had in the source (`cats/001.png`), used when exporting.
    public var path: String

    public init(sha256: String, size: Int64, mediaType: String, path: String) {
        self.sha256 = sha256
        self.size = size
        self.mediaType = mediaType
        self.path = path
    }
}

/// A label on a record.
public struct Annotation: Codable, Hashable, Sendable {
    /// What kind of label it is.
    public enum Kind: String, Codable, Sendable {
        /// The record's class (`label`).
        case classLabel = "class"
        /// A box around an object (`label` and `box`).
        case box
        /// Free text (`text`), e.g. a transcription or a text class.
        case text
    }

    public var kind: Kind
    /// The class of a `class` or `box` annotation.
    public var label: String?
    /// The box of a `box` annotation.
    public var box: BoundingBox?
    /// The text of a `text` annotation.
    public var text: String?
    /// Who or what made the annotation.
    public var source: AnnotationSource

    public init(kind: Kind, label: String? = nil, box: BoundingBox? = nil, text: String? = nil, source: AnnotationSource) {
        self.kind = kind
        self.label = label
        self.box = box
        self.text = text
        self.source = source
    }

    /// A class label from an import.
    public static func imported(label: String) -> Annotation {
        Annotation(kind: .classLabel, label: label, source: .imported)
    }
}

/// A box in pixels: top-left corner, width and height.
public struct BoundingBox: Codable, Hashable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// Where an annotation came from.
public struct AnnotationSource: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case human
        case model
        case `import`
    }

    public var kind: Kind
    /// The person, for `human`.
    public var user: String?
    /// The model version (`name/3`), for `model`.
    public var modelVersion: String?
    /// The model's confidence, for `model`.
    public var score: Double?

    public init(kind: Kind, user: String? = nil, modelVersion: String? = nil, score: Double? = nil) {
        self.kind = kind
        self.user = user
        self.modelVersion = modelVersion
        self.score = score
    }

    /// Imported with the data.
    public static let imported = AnnotationSource(kind: .import)
}
