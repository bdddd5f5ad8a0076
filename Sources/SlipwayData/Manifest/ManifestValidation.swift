import SlipwayDomain

/// The rules every version manifest obeys: those `docs/dataset-manifest.schema.json` states, and those across
/// fields that JSON Schema cannot state (listed in `docs/dataset-format.md`). Every manifest the server writes
/// is checked against them before its version is committed.
public enum ManifestValidation {
    /// The longest field name a schema may declare.
    public static let maximumFieldNameLength = 256

    /// Why `manifest` breaks the format, or `nil` when it does not.
    public static func problem(with manifest: DatasetManifest) -> String? {
        // What the JSON Schema states.
        if manifest.formatVersion != 1 { return "format_version must be 1, not \(manifest.formatVersion)" }
        var names: Set<String> = []
        for field in manifest.schema.fields {
            if field.name.isEmpty || field.name.count > maximumFieldNameLength {
                return "a field name must be 1 to \(maximumFieldNameLength) characters ('\(field.name.prefix(40))…' is not)"
            }
            // Not expressible in JSON Schema: names are unique.
            guard names.insert(field.name).inserted else { return "the field '\(field.name)' is declared twice" }
        }
        if let empty = manifest.schema.classes.firstIndex(where: \.isEmpty) { return "class \(empty + 1) of the schema is empty" }
        if Set(manifest.schema.classes).count != manifest.schema.classes.count { return "the schema lists a class twice" }
        if manifest.recordCount < 0 { return "record_count must not be negative" }
        for (position, shard) in manifest.shards.enumerated() {
            if !RecordValidation.isSHA256(shard.sha256) { return "shard \(position + 1): sha256 must be 64 lowercase hex digits" }
            if shard.records < 1 || shard.bytes < 1 { return "shard \(position + 1) must hold at least one record and one byte" }
        }
        let statistics = manifest.statistics
        let counts =
            [statistics.records, statistics.unlabeled, statistics.files] + Array(statistics.classCounts.values)
            + Array(statistics.boxCounts.values)
        if counts.contains(where: { $0 < 0 }) || statistics.fileBytes < 0 { return "statistics must not hold negative counts" }
        for (name, summary) in statistics.fields where summary.count < 0 || summary.missing < 0 {
            return "statistics of field '\(name)' must not hold negative counts"
        }
        // Across fields.
        let sharded = manifest.shards.reduce(0) { $0 + $1.records }
        if sharded != manifest.recordCount { return "the shards hold \(sharded) records, but record_count is \(manifest.recordCount)" }
        if statistics.records != manifest.recordCount {
            return "statistics count \(statistics.records) records, but record_count is \(manifest.recordCount)"
        }
        let labelled = statistics.classCounts.values.reduce(0, +)
        if labelled + statistics.unlabeled != statistics.records {
            return "class counts (\(labelled)) and unlabeled records (\(statistics.unlabeled)) must add up to the \(statistics.records) records"
        }
        let classes = Set(manifest.schema.classes)
        if let stray = (Array(statistics.classCounts.keys) + Array(statistics.boxCounts.keys)).sorted().first(where: { !classes.contains($0) }) {
            return "the label '\(stray)' is used by records but is not one of the schema's classes"
        }
        if let stray = statistics.fields.keys.sorted().first(where: { !names.contains($0) }) {
            return "statistics describe the field '\(stray)', which the schema does not declare"
        }
        if statistics.files > statistics.records { return "more records with files (\(statistics.files)) than records" }
        return nil
    }
}
