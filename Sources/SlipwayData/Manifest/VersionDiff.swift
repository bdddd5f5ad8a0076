import Foundation
import SlipwayDomain

/// What changed between two versions of a dataset: records added, removed and changed (matched by id),
/// and the label distribution before and after.
public struct VersionDiff: Codable, Sendable, Hashable {
    public var from: Int
    public var to: Int
    public var added: Int = 0
    public var removed: Int = 0
    public var changed: Int = 0
    public var unchanged: Int = 0
    /// Up to ``VersionDiff/sampleLimit`` ids of each kind, in record order.
    public var addedSample: [String] = []
    public var removedSample: [String] = []
    public var changedSample: [String] = []
    public var classCountsBefore: [String: Int] = [:]
    public var classCountsAfter: [String: Int] = [:]

    /// How many ids of each kind are listed.
    public static let sampleLimit = 100

    public init(from: Int, to: Int) {
        self.from = from
        self.to = to
    }
}

/// Computes a ``VersionDiff`` in two streamed passes: the old version's records are indexed by id
/// (a fingerprint each, not the records), then the new version's records are compared as they come.
public struct VersionDiffer: Sendable {
    private var old: [String: Int] = [:]
    private var oldOrder: [String] = []
    private var seen: Set<String> = []
    private var diff: VersionDiff
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    public init(from: Int, to: Int) {
        diff = VersionDiff(from: from, to: to)
    }

    /// Pass 1: a record of the old version.
    public mutating func indexOld(_ record: DatasetRecord) throws {
        old[record.id] = try fingerprint(record)
        oldOrder.append(record.id)
        if let label = record.classLabel { diff.classCountsBefore[label, default: 0] += 1 }
    }

    /// Pass 2: a record of the new version.
    public mutating func compareNew(_ record: DatasetRecord) throws {
        seen.insert(record.id)
        if let label = record.classLabel { diff.classCountsAfter[label, default: 0] += 1 }
        guard let before = old[record.id] else {
            diff.added += 1
            if diff.addedSample.count < VersionDiff.sampleLimit { diff.addedSample.append(record.id) }
            return
        }
        if before == (try fingerprint(record)) {
            diff.unchanged += 1
        } else {
            diff.changed += 1
            if diff.changedSample.count < VersionDiff.sampleLimit { diff.changedSample.append(record.id) }
        }
    }

    /// The differences.
    public func finish() -> VersionDiff {
        var result = diff
        for id in oldOrder where !seen.contains(id) {
            result.removed += 1
            if result.removedSample.count < VersionDiff.sampleLimit { result.removedSample.append(id) }
        }
        return result
    }

    private func fingerprint(_ record: DatasetRecord) throws -> Int {
        var hasher = Hasher()
        hasher.combine(try encoder.encode(record))
        return hasher.finalize()
    }
}
