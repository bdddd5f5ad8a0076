import SlipwayDomain

/// What a version holds, computed while it is written: counts, class balance, field summaries, files.
public struct DatasetStatistics: Codable, Sendable, Hashable {
    public var records: Int = 0
    /// Records per class label (the first class annotation of each record).
    public var classCounts: [String: Int] = [:]
    /// Records without a class label.
    public var unlabeled: Int = 0
    /// Boxes per class, for detection datasets.
    public var boxCounts: [String: Int] = [:]
    /// Per field: values, missing values, range and mean of numbers, most common strings.
    public var fields: [String: FieldSummary] = [:]
    /// Records with a file, and their total size.
    public var files: Int = 0
    public var fileBytes: Int64 = 0

    public init() {}

    /// Takes one record into account.
    public mutating func observe(_ record: DatasetRecord) {
        records += 1
        if let label = record.classLabel { classCounts[label, default: 0] += 1 } else { unlabeled += 1 }
        for annotation in record.annotations where annotation.kind == .box {
            boxCounts[annotation.label ?? "", default: 0] += 1
        }
        for (name, value) in record.fields { fields[name, default: FieldSummary()].observe(value) }
        if let file = record.file {
            files += 1
            fileBytes += file.size
        }
    }
}

/// A summary of one field's values.
public struct FieldSummary: Codable, Sendable, Hashable {
    public var count: Int = 0
    public var missing: Int = 0
    public var minimum: Double?
    public var maximum: Double?
    public var mean: Double?
    /// The most frequent text values (kept for at most ``FieldSummary/distinctLimit`` distinct values).
    public var topValues: [String: Int]?
    /// Whether more distinct text values were seen than are counted.
    public var distinctOverflow: Bool = false

    static let distinctLimit = 1000

    public init() {}

    mutating func observe(_ value: JSONValue) {
        switch value {
        case .null:
            missing += 1
            return
        case .integer, .number:
            let number = value.doubleValue!
            minimum = min(minimum ?? number, number)
            maximum = max(maximum ?? number, number)
            mean = ((mean ?? 0) * Double(count) + number) / Double(count + 1)
        case .string(let text):
            // Counted in place: a copy of the dictionary here would copy up to a thousand entries for every value.
            if topValues == nil { topValues = [:] }
            if topValues![text] != nil || topValues!.count < Self.distinctLimit {
                topValues![text, default: 0] += 1
            } else {
                distinctOverflow = true
            }
        case .bool(let flag):
            topValues = topValues ?? [:]
            topValues![flag ? "true" : "false", default: 0] += 1
        }
        count += 1
    }
}
