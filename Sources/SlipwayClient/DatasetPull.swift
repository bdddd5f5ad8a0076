import Foundation
import SlipwayData
import SlipwayDomain

/// The folder layouts a dataset's images are pushed from and pulled into.
public enum DatasetLayout: String, CaseIterable, Sendable {
    /// `records.jsonl`, `data.csv` for tables, and `files/<path>`: Slipway's own format (pull only).
    case records
    /// One sub-folder per class (`cats/001.png`), or images directly in the folder for unlabeled data.
    case imageFolder = "image_folder"
    /// The images (`images/<path>` when pulled) and one COCO detection file (`annotations.json`).
    case coco
    /// `JPEGImages/<path>` and a Pascal VOC file per image (`Annotations/<id>.xml`).
    case voc

    /// What the layout is called in messages.
    public var title: String {
        switch self {
        case .records: "record"
        case .imageFolder: "image"
        case .coco: "COCO"
        case .voc: "Pascal VOC"
        }
    }
}

// MARK: - Writing a pulled version

/// Where a version's files and annotation documents go in a layout, with every path checked to stay in the folder.
public struct LayoutPlan {
    /// A record's file and the path it is written to, relative to the folder.
    public struct Placement {
        public var file: RecordFile
        public var target: String
    }

    /// The files to write (each target once).
    public var files: [Placement] = []
    /// The annotation documents to write, by path relative to the folder.
    public var documents: [(target: String, contents: Data)] = []

    /// The plan for `records` in `layout`; `classes` orders the COCO categories.
    /// - Throws: `CLIError` when a path would leave the folder, a record without a file is asked for in an image
    ///   layout, or two different files would land on the same path.
    public init(layout: DatasetLayout, records: [DatasetRecord], classes: [String]) throws {
        var owners: [String: (sha256: String, record: String)] = [:]
        func place(_ file: RecordFile, at target: String, for record: String) throws {
            try Self.check(target, what: "the version names a file outside the folder (\(file.path))")
            if let owner = owners[target] {
                guard owner.sha256 != file.sha256 else { return }
                throw DatasetPullError("records '\(owner.record)' and '\(record)' would both be written to \(target); pull with --layout records")
            }
            owners[target] = (file.sha256, record)
            files.append(Placement(file: file, target: target))
        }
        func imageFile(_ record: DatasetRecord) throws -> RecordFile {
            guard let file = record.file else {
                throw DatasetPullError(
                    "record '\(record.id)' has no file, and the \(layout.rawValue) layout holds images; pull with --layout records")
            }
            try Self.check(file.path, what: "the version names a file outside the folder (\(file.path))")
            return file
        }

        switch layout {
        case .records:
            for record in records {
                if let file = record.file { try place(file, at: "files/" + file.path, for: record.id) }
            }
        case .imageFolder:
            for record in records {
                let file = try imageFile(record)
                let name = file.path.split(separator: "/").last.map(String.init) ?? file.path
                guard let label = record.classLabel else {
                    try place(file, at: name, for: record.id)
                    continue
                }
                guard !label.contains("/"), label != ".", label != ".." else {
                    throw DatasetPullError("the class '\(label)' of record '\(record.id)' cannot be a folder name; pull with --layout records")
                }
                try place(file, at: label + "/" + name, for: record.id)
            }
        case .coco:
            for record in records {
                let file = try imageFile(record)
                try place(file, at: "images/" + file.path, for: record.id)
            }
            documents.append(("annotations.json", try Self.converted { try COCODetection.document(records: records, classes: classes) }))
        case .voc:
            for record in records {
                let file = try imageFile(record)
                try place(file, at: "JPEGImages/" + file.path, for: record.id)
                let target = "Annotations/\(record.id).xml"
                try Self.check(target, what: "the record id '\(record.id)' would leave the folder")
                documents.append((target, try Self.converted { try PascalVOC.document(for: record) }))
            }
        }
    }

    private static func check(_ path: String, what: String) throws {
        guard !path.split(separator: "/").contains(".."), !path.hasPrefix("/") else { throw DatasetPullError("\(what); refusing to write it") }
    }

    private static func converted(_ body: () throws -> Data) throws -> Data {
        do {
            return try body()
        } catch let error as DataImportError {
            throw DatasetPullError(error.description)
        }
    }
}

/// Why a version cannot be pulled into a layout, in a sentence.
public struct DatasetPullError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// Downloads a version into a folder in one of the layouts: what `slipway dataset pull` does, and what an agent
/// does for a job's dataset inputs. Files already there with the right content are not downloaded again; every
/// file is checked against its SHA-256 as it arrives.
public struct VersionPull: Sendable {
    let client: SlipwayAPIClient
    let namespace: String
    /// The dataset's API path, `/namespaces/N/projects/P/datasets/D`.
    let datasetAPI: String
    /// A version number, or `latest`.
    let version: String
    let layout: DatasetLayout

    public init(client: SlipwayAPIClient, namespace: String, datasetAPI: String, version: String, layout: DatasetLayout) {
        self.client = client
        self.namespace = namespace
        self.datasetAPI = datasetAPI
        self.version = version
        self.layout = layout
    }

    /// What was pulled.
    public struct Summary: Sendable {
        public var detail: DatasetVersionDetail
        /// Files the layout holds.
        public var files: Int
        /// Of those, files downloaded now (the rest were there already).
        public var downloaded: Int
    }

    /// Pulls into `root`.
    /// - Parameters:
    ///   - starting: told how many files and bytes are about to be downloaded.
    ///   - progress: told the bytes downloaded so far.
    public func run(
        into root: URL, starting: (_ files: Int, _ bytes: Int64) -> Void = { _, _ in }, progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws -> Summary {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let detail = try await client.send(.GET, datasetAPI + "/versions/" + SlipwayAPIClient.segment(version), as: DatasetVersionDetail.self)
        let versionAPI = datasetAPI + "/versions/\(detail.version.number)"
        // The records layout keeps records.jsonl; the others read it from a temporary file.
        let recordsFile =
            layout == .records
            ? root.appendingPathComponent("records.jsonl").path
            : FileManager.default.temporaryDirectory.appendingPathComponent("slipway-pull-\(UUID().uuidString).jsonl").path
        defer { if layout != .records { try? FileManager.default.removeItem(atPath: recordsFile) } }
        try await client.download(versionAPI + "/export?format=jsonl", to: recordsFile)
        if layout == .records, detail.manifest.statistics.files == 0 {
            try await client.download(versionAPI + "/export?format=csv", to: root.appendingPathComponent("data.csv").path)
        }
        var records: [DatasetRecord] = []
        let decoder = RecordCoding.decoder()
        let text = try String(contentsOfFile: recordsFile, encoding: .utf8)
        for line in text.split(separator: "\n") {
            records.append(try decoder.decode(DatasetRecord.self, from: Data(line.utf8)))
        }

        let plan = try LayoutPlan(layout: layout, records: records, classes: detail.manifest.schema.classes)
        for (target, contents) in plan.documents {
            let url = root.appendingPathComponent(target)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: url, options: .atomic)
        }
        var needed: [LayoutPlan.Placement] = []
        for placement in plan.files {
            let target = root.appendingPathComponent(placement.target).path
            if FileManager.default.fileExists(atPath: target), (try? FileDigest.of(path: target).sha256) == placement.file.sha256 { continue }
            needed.append(placement)
        }
        starting(needed.count, needed.reduce(0) { $0 + $1.file.size })
        var before: Int64 = 0
        for placement in needed {
            let target = root.appendingPathComponent(placement.target)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            let offset = before
            try await client.download("/namespaces/\(SlipwayAPIClient.segment(namespace))/blobs/\(placement.file.sha256)", to: target.path) {
                progress(offset + $0)
            }
            before += placement.file.size
            guard try FileDigest.of(path: target.path).sha256 == placement.file.sha256 else {
                try? FileManager.default.removeItem(at: target)
                throw DatasetPullError("\(placement.file.path) arrived damaged (its SHA-256 differs); pull again")
            }
        }
        return Summary(detail: detail, files: plan.files.count, downloaded: needed.count)
    }
}
