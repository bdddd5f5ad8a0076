import SlipwayDomain

/// The rules every record of a manifest obeys; the same rules the JSON Schema in `docs/` states.
public enum RecordValidation {
    /// Why `record` does not fit `schema`, or `nil` when it does.
    public static func problem(with record: DatasetRecord, schema: DatasetSchema) -> String? {
        if record.id.isEmpty || record.id.count > 512 { return "a record id must be 1 to 512 characters" }
        if let file = record.file {
            if !isSHA256(file.sha256) { return "record '\(record.id)': file sha256 must be 64 lowercase hex digits" }
            if file.size < 0 { return "record '\(record.id)': file size must not be negative" }
            if file.mediaType.isEmpty { return "record '\(record.id)': file media_type must not be empty" }
            if file.path.isEmpty || file.path.hasPrefix("/") || file.path.split(separator: "/").contains("..") {
                return "record '\(record.id)': file path '\(file.path)' must be relative and stay inside the dataset"
            }
        }
        for (name, value) in record.fields {
            guard let spec = schema.field(name) else { return "record '\(record.id)': field '\(name)' is not in the schema" }
            if !fits(value, spec.type) { return "record '\(record.id)': field '\(name)' must be \(spec.type.article)" }
        }
        for annotation in record.annotations {
            if annotation.label?.isEmpty == true { return "record '\(record.id)': an annotation's label must not be empty" }
            switch annotation.kind {
            case .classLabel where annotation.label?.isEmpty != false:
                return "record '\(record.id)': a class annotation needs a label"
            case .box:
                guard let box = annotation.box, annotation.label?.isEmpty == false else {
                    return "record '\(record.id)': a box annotation needs a label and a box"
                }
                if !(box.width >= 0 && box.height >= 0 && box.x.isFinite && box.y.isFinite) {
                    return "record '\(record.id)': a box needs finite coordinates and a non-negative size"
                }
            case .text where annotation.text == nil:
                return "record '\(record.id)': a text annotation needs text"
            default:
                break
            }
            if annotation.source.kind == .model, annotation.source.modelVersion == nil {
                return "record '\(record.id)': an annotation from a model names the model version"
            }
            if let score = annotation.source.score, !(0...1).contains(score) {
                return "record '\(record.id)': an annotation's score must be between 0 and 1"
            }
        }
        return nil
    }

    /// The keys each object of a record may have; the JSON Schema allows no others (`additionalProperties: false`).
    static let allowedKeys: (record: Set<String>, file: Set<String>, annotation: Set<String>, box: Set<String>, source: Set<String>) = (
        ["id", "file", "fields", "annotations"], ["sha256", "size", "media_type", "path"], ["kind", "label", "text", "box", "source"],
        ["x", "y", "width", "height"], ["kind", "user", "model_version", "score"]
    )

    /// The first key of a record line (parsed JSON) that the format does not define, as a path such as
    /// `annotations[0].source.confidence`; `nil` when there is none. Decoding would drop such a key silently (a
    /// misspelt `anotations` would lose the labels), so an import refuses it instead.
    public static func unknownKey(in object: [String: Any]) -> String? {
        func stray(_ object: Any?, _ allowed: Set<String>, _ path: String) -> String? {
            guard let object = object as? [String: Any] else { return nil }
            return object.keys.sorted().first { !allowed.contains($0) }.map { path.isEmpty ? $0 : "\(path).\($0)" }
        }
        let keys = allowedKeys
        if let found = stray(object, keys.record, "") ?? stray(object["file"], keys.file, "file") { return found }
        for (index, annotation) in ((object["annotations"] as? [Any]) ?? []).enumerated() {
            let path = "annotations[\(index)]"
            if let found = stray(annotation, keys.annotation, path) ?? stray((annotation as? [String: Any])?["box"], keys.box, path + ".box")
                ?? stray((annotation as? [String: Any])?["source"], keys.source, path + ".source")
            {
                return found
            }
        }
        return nil
    }

    static func fits(_ value: JSONValue, _ type: FieldType) -> Bool {
        switch (value, type) {
        case (.null, _), (.string, .string), (.integer, .integer), (.integer, .number), (.number, .number), (.bool, .boolean): true
        default: false
        }
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}
