import Foundation
import SlipwayDomain

/// One image as an annotation file (COCO, Pascal VOC, an image folder) describes it: its path, its size
/// when the file gives one, and its annotations.
public struct AnnotatedImage: Hashable, Sendable {
    /// The image's path relative to the image folder (`000001.jpg`, `train/cat.png`).
    public var fileName: String
    /// The width in pixels the annotation file gives.
    public var width: Int?
    /// The height in pixels the annotation file gives.
    public var height: Int?
    /// Box (or class) annotations, in file order, each with `source: .imported`.
    public var annotations: [Annotation]

    public init(fileName: String, width: Int? = nil, height: Int? = nil, annotations: [Annotation] = []) {
        self.fileName = fileName
        self.width = width
        self.height = height
        self.annotations = annotations
    }

    /// The id of the record the image becomes: its path without the extension (`train/cat.png` is `train/cat`).
    public var recordID: String { Self.recordID(forPath: fileName) }

    /// The id of the record for the image at `path`: the path without the extension.
    public static func recordID(forPath path: String) -> String {
        let name = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        guard let dot = path[name...].lastIndex(of: "."), dot != name else { return path }
        return String(path[..<dot])
    }

    /// The record for this image, stored as `file`.
    /// - Parameter measured: the size read from the image itself, used when the annotation file gives none.
    public func record(file: RecordFile, measured: (width: Int, height: Int)? = nil) -> DatasetRecord {
        var record = DatasetRecord(id: recordID, file: file, annotations: annotations)
        if let width, let height, width > 0, height > 0 {
            record.fields = ["width": .integer(Int64(width)), "height": .integer(Int64(height))]
        } else if let measured {
            record.fields = ["width": .integer(Int64(measured.width)), "height": .integer(Int64(measured.height))]
        }
        return record
    }

    /// Why `path` cannot be a record's file path (absolute, or leaving the folder), or `nil` when it can.
    static func pathProblem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.hasPrefix("/") { return "is absolute" }
        if path.split(separator: "/").contains("..") { return "leaves the folder (..)" }
        return nil
    }
}
