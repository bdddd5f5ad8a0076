import Foundation
import SlipwayData
import SlipwayDomain

/// Records written to a temporary JSON Lines file and read back: the schema's classes are known only after
/// the last record, and a version of any size must not wait in memory.
final class RecordSpool {
    private let url = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-spool-\(UUID().uuidString).jsonl")
    private var handle: FileHandle?
    private let encoder = RecordCoding.encoder()

    func append(_ record: DatasetRecord) throws {
        if handle == nil {
            FileManager.default.createFile(atPath: url.path, contents: nil)
            handle = try FileHandle(forWritingTo: url)
        }
        try handle!.write(contentsOf: try encoder.encode(record) + Data("\n".utf8))
    }

    func replay(_ body: (DatasetRecord) async throws -> Void) async throws {
        try handle?.close()
        handle = nil
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let decoder = RecordCoding.decoder()
        let reader = try FileHandle(forReadingFrom: url)
        defer { try? reader.close() }
        var carry = Data()
        while let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty {
            carry.append(chunk)
            while let end = carry.firstIndex(of: UInt8(ascii: "\n")) {
                try await body(try decoder.decode(DatasetRecord.self, from: carry[carry.startIndex..<end]))
                carry.removeSubrange(carry.startIndex...end)
            }
        }
    }

    deinit {
        try? handle?.close()
        try? FileManager.default.removeItem(at: url)
    }
}
