import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayData
import SlipwayDomain

/// `slipway dataset …`: datasets and their versions.
struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset", abstract: "Manage datasets and their immutable versions.",
        subcommands: [
            List.self, Create.self, Visibility.self, Push.self, Pull.self, Versions.self, Show.self, Diff.self, Export.self, Search.self,
            DatasetDraftCommand.self, DatasetRecordCommand.self, DatasetCommitCommand.self, Deprecate.self, Archive.self, Delete.self,
            GC.self,
        ])

    /// `NAMESPACE/PROJECT/DATASET[@VERSION]`.
    struct Path {
        var namespace: String
        var project: String
        var dataset: String
        var version: String?

        init(_ text: String, allowVersion: Bool = false) throws {
            var text = text
            if let at = text.lastIndex(of: "@") {
                guard allowVersion else { throw CLIError("'\(text)' names a version; give NAMESPACE/PROJECT/DATASET") }
                version = String(text[text.index(after: at)...])
                text = String(text[..<at])
            }
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, !parts.contains(where: \.isEmpty) else {
                throw CLIError("'\(text)' is not NAMESPACE/PROJECT/DATASET\(allowVersion ? "[@VERSION]" : "")")
            }
            (namespace, project, dataset) = (parts[0], parts[1], parts[2])
        }

        var api: String {
            "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(project))/datasets/\(SlipwayAPIClient.segment(dataset))"
        }
        var versionAPI: String { api + "/versions/" + SlipwayAPIClient.segment(version ?? "latest") }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's datasets: NAMESPACE/PROJECT.")
        @Argument var project: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let (namespace, name) = try splitProjectPath(project)
            try await runClient {
                let list = try await options.client().send(
                    .GET, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(name))/datasets",
                    as: ItemList<Dataset>.self)
                try options.print(
                    list.items, headers: ["NAME", "TASK", "VISIBILITY", "LATEST", "DESCRIPTION"],
                    rows: list.items.map {
                        [$0.name.value, $0.taskType.rawValue, $0.visibility.rawValue, $0.latestVersion.map(String.init) ?? "-", $0.description]
                    })
            }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find datasets across namespaces: public ones and those of your namespaces, matching TEXT in name or description.")
        @Argument var text: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let query = text.map { "?search=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? ""
                let list = try await options.client().send(.GET, "/datasets" + query, as: ItemList<DatasetListing>.self)
                try options.print(
                    list.items, headers: ["DATASET", "TASK", "VISIBILITY", "LATEST", "DESCRIPTION"],
                    rows: list.items.map {
                        [
                            "\($0.namespace)/\($0.project)/\($0.dataset.name)", $0.dataset.taskType.rawValue, $0.dataset.visibility.rawValue,
                            $0.dataset.latestVersion.map(String.init) ?? "-", $0.dataset.description,
                        ]
                    })
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a dataset: NAMESPACE/PROJECT/DATASET.")
        @Argument var path: String
        @Option(help: "One of: \(TaskType.allCases.map(\.rawValue).joined(separator: ", ")).") var task: String
        @Option(help: "What the data is.") var description: String?
        @Option(help: "private (the project's members and the namespace's maintainers), namespace or public.") var visibility: String = "private"
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let path = try Path(path)
            guard let task = TaskType(rawValue: task) else {
                throw ValidationError("--task must be one of: \(TaskType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let visibility = SlipwayDomain.Visibility(rawValue: visibility) else {
                throw ValidationError("--visibility must be private, namespace or public")
            }
            try await runClient {
                let dataset = try await options.client().send(
                    .POST, "/namespaces/\(SlipwayAPIClient.segment(path.namespace))/projects/\(SlipwayAPIClient.segment(path.project))/datasets",
                    body: CreateDatasetRequest(name: path.dataset, taskType: task, description: description, visibility: visibility), as: Dataset.self
                )
                try options.print(
                    dataset, headers: ["NAME", "TASK", "VISIBILITY"],
                    rows: [[dataset.name.value, dataset.taskType.rawValue, dataset.visibility.rawValue]])
            }
        }
    }

    /// `slipway dataset visibility NS/PROJECT/DATASET [private|namespace|public]`.
    struct Visibility: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or change who sees a dataset (maintainers change it).",
            discussion: """
                private: the project's members and the namespace's maintainers and owners. namespace: every member of \
                the namespace. public: every signed-in user (read only).
                """)
        @Argument var path: String
        @Argument(help: "private, namespace or public; without it, the current visibility is shown.") var visibility: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let path = try Path(path)
            var wanted: SlipwayDomain.Visibility?
            if let visibility {
                guard let parsed = SlipwayDomain.Visibility(rawValue: visibility) else {
                    throw ValidationError("the visibility must be private, namespace or public")
                }
                wanted = parsed
            }
            try await runClient {
                let client = try options.client()
                let dataset =
                    if let wanted {
                        try await client.send(.PATCH, path.api, body: UpdateDatasetRequest(visibility: wanted), as: Dataset.self)
                    } else {
                        try await client.send(.GET, path.api, as: Dataset.self)
                    }
                try options.print(
                    dataset, headers: ["DATASET", "VISIBILITY"],
                    rows: [["\(path.namespace)/\(path.project)/\(dataset.name)", dataset.visibility.rawValue]])
            }
        }
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a CSV or JSON Lines file, or a folder of images (plain, COCO or Pascal VOC), as the dataset's next version.",
            discussion: """
                An image folder holds one sub-folder per class (cats/001.png is a cat), or images directly for unlabeled data.
                A COCO folder holds one COCO detection .json file, in it or in annotations/, and the images that file names, \
                in it, in images/ or beside the .json file.
                A Pascal VOC folder holds Annotations/*.xml and the images they name in JPEGImages/.
                A folder's layout is detected; --format forces it.
                Only bytes the server lacks are sent: pushing unchanged data uploads nothing.
                """)
        @Argument(help: "NAMESPACE/PROJECT/DATASET") var path: String
        @Argument(help: "A .csv, .jsonl, .zip, .tar, .tar.gz or .tgz (image folder) file, or a folder of images.") var file: String
        @Option(
            help: """
                A file: csv, jsonl, image_folder_zip or image_folder_tar (default: from the file's extension). \
                A folder: image_folder, coco or voc (default: detected).
                """)
        var format: String?
        @Option(help: "The column (CSV) or key (JSON Lines) holding class labels.") var labelColumn: String?
        @Option(help: "The column or key holding record ids.") var idColumn: String?
        @Option(name: .customLong("type"), help: "Override an inferred type: COLUMN=string|integer|number|boolean (repeatable).")
        var types: [String] = []
        @Option(name: [.short, .customLong("message")], help: "What changed in this version.") var message: String?
        @Flag(help: "Import into the dataset's open draft (adding records, or replacing those with the same ids) instead of committing a version.")
        var draft = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let path = try Path(path)
            if draft, message != nil { throw ValidationError("--message belongs to the commit: slipway dataset commit -m …") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else { throw ValidationError("cannot read \(file)") }
            var fieldTypes: [String: FieldType] = [:]
            for entry in types {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let type = FieldType(rawValue: parts[1]) else {
                    throw ValidationError("--type takes COLUMN=string|integer|number|boolean, not '\(entry)'")
                }
                fieldTypes[parts[0]] = type
            }
            try await runClient {
                let client = try options.client()
                var upload = file
                var format: DataFormat
                if isDirectory.boolValue {
                    // A folder of images: images are uploaded here, and their records imported as JSON Lines.
                    let reader = LayoutReader(directory: file)
                    let layout: DatasetLayout
                    if let forced = self.format {
                        guard let chosen = DatasetLayout(rawValue: forced), chosen != .records else {
                            throw CLIError("for a folder, --format must be image_folder, coco or voc")
                        }
                        layout = chosen
                    } else {
                        layout = try reader.detect()
                    }
                    let images = try reader.images(layout)
                    if layout != .imageFolder {
                        let boxes = images.reduce(0) { $0 + $1.image.annotations.count { $0.kind == .box } }
                        FileHandle.standardError.write(Data("\(file): a \(layout.title) folder, \(images.count) images, \(boxes) boxes\n".utf8))
                    }
                    upload = try await AnnotatedImagePush(client: client, namespace: path.namespace).prepare(images: images)
                    format = .jsonl
                } else {
                    let fromExtension: DataFormat =
                        switch URL(fileURLWithPath: file).pathExtension.lowercased() {
                        case "csv": .csv
                        case "zip": .imageFolderZip
                        case "tar", "tgz": .imageFolderTar
                        case "gz" where file.lowercased().hasSuffix(".tar.gz"): .imageFolderTar
                        default: .jsonl
                        }
                    if let forced = self.format, let layout = DatasetLayout(rawValue: forced), layout != .records {
                        throw CLIError("--format \(forced) reads a folder; give the folder that holds the images and their annotations")
                    }
                    guard let chosen = self.format.map({ DataFormat(rawValue: $0) }) ?? fromExtension else {
                        throw CLIError(
                            "--format must be csv, jsonl, image_folder_zip or image_folder_tar for a file, image_folder, coco or voc for a folder")
                    }
                    format = chosen
                }
                defer { if upload != file { try? FileManager.default.removeItem(atPath: upload) } }
                let digest = try FileDigest.of(path: upload)
                if try await client.missingBlobs([digest.sha256], namespace: path.namespace).isEmpty {
                    FileHandle.standardError.write(
                        Data(
                            "\(isDirectory.boolValue ? "the record list" : file): already on the server (\(ProgressBar.bytes(digest.size))), nothing to upload\n"
                                .utf8))
                } else {
                    let bar = ProgressBar(
                        label: "uploading \(isDirectory.boolValue ? "records" : URL(fileURLWithPath: file).lastPathComponent)", total: digest.size)
                    _ = try await client.uploadBlob(path: upload, digest: digest, namespace: path.namespace) { bar.update($0) }
                    bar.finish()
                }
                let source = ImportSource(
                    format: format, blob: digest.sha256, labelColumn: labelColumn, idColumn: idColumn,
                    fieldTypes: fieldTypes.isEmpty ? nil : fieldTypes)
                if draft {
                    let report = try await client.send(.POST, path.api + "/draft/import", body: source, as: DraftImportReport.self)
                    try options.print(
                        report, headers: ["ADDED", "REPLACED", "DRAFT RECORDS"],
                        rows: [[String(report.added), String(report.replaced), String(report.draft.recordCount)]])
                    return
                }
                let detail = try await client.send(
                    .POST, path.api + "/versions", body: CreateVersionRequest(source: source, message: message), as: DatasetVersionDetail.self)
                try options.print(detail, headers: ["VERSION", "RECORDS", "CLASSES", "FIELDS"], rows: [detail.row])
            }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a version into a folder a training job can read: NAMESPACE/PROJECT/DATASET[@VERSION] FOLDER.",
            discussion: """
                records (the default) writes FOLDER/records.jsonl (every record), FOLDER/data.csv for tables, \
                and each file under FOLDER/files/ at its original path.
                image_folder writes FOLDER/<class>/<file name>, or FOLDER/<file name> for unlabeled records.
                coco writes FOLDER/images/<path> and FOLDER/annotations.json.
                voc writes FOLDER/JPEGImages/<path> and FOLDER/Annotations/<id>.xml.
                Files already there with the right content are not downloaded again.
                """)
        @Argument var path: String
        @Argument var folder: String
        @Option(help: "records, image_folder, coco or voc.") var layout: DatasetLayout = .records
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let path = try Path(path, allowVersion: true)
            try await runClient {
                let pulled = try await VersionPull(client: try options.client(), path: path, layout: layout)
                    .runShowingProgress(into: URL(fileURLWithPath: folder))
                let (version, records) = (pulled.detail.version.number, pulled.detail.manifest.recordCount)
                print("Pulled version \(version): \(records) records, \(pulled.files) files, into \(folder).")
            }
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a dataset's versions: NAMESPACE/PROJECT/DATASET.")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let path = try Path(path)
            try await runClient {
                let list = try await options.client().send(.GET, path.api + "/versions", as: ItemList<DatasetVersion>.self)
                try options.print(
                    list.items, headers: ["VERSION", "STATE", "RECORDS", "CREATED", "BY", "MESSAGE"],
                    rows: list.items.map {
                        [String($0.number), $0.state.rawValue, String($0.recordCount), $0.createdAt.shortText, $0.createdBy, $0.message]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a version's schema and statistics: NAMESPACE/PROJECT/DATASET[@VERSION].")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let path = try Path(path, allowVersion: true)
            try await runClient {
                let detail = try await options.client().send(.GET, path.versionAPI, as: DatasetVersionDetail.self)
                if options.output == .json {
                    try options.print(detail, headers: [], rows: [])
                    return
                }
                print("Version \(detail.version.number) (\(detail.version.state.rawValue)): \(detail.manifest.recordCount) records")
                print(
                    Table(
                        headers: ["FIELD", "TYPE", "VALUES", "MISSING", "MIN", "MAX", "MEAN"],
                        rows: detail.manifest.schema.fields.map { field in
                            let summary = detail.manifest.statistics.fields[field.name]
                            func number(_ value: Double?) -> String { value.map { String(format: "%g", $0) } ?? "" }
                            return [
                                field.name, field.type.rawValue, String(summary?.count ?? 0), String(summary?.missing ?? 0),
                                number(summary?.minimum), number(summary?.maximum), number(summary?.mean),
                            ]
                        }
                    ).rendered)
                if !detail.manifest.statistics.classCounts.isEmpty {
                    print("")
                    print(
                        Table(
                            headers: ["CLASS", "RECORDS"],
                            rows: detail.manifest.statistics.classCounts.sorted { $0.key < $1.key }.map {
                                [$0.key, String($0.value)]
                            }
                        ).rendered)
                }
            }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Compare two versions: NAMESPACE/PROJECT/DATASET FROM TO.")
        @Argument var path: String
        @Argument(help: "The older version (a number or latest).") var from: String
        @Argument(help: "The newer version (a number or latest).") var to: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let path = try Path(path)
            try await runClient {
                let diff = try await options.client().send(
                    .GET, path.api + "/diff?from=\(SlipwayAPIClient.segment(from))&to=\(SlipwayAPIClient.segment(to))", as: VersionDiff.self)
                if options.output == .json {
                    try options.print(diff, headers: [], rows: [])
                    return
                }
                print("\(diff.from) → \(diff.to): \(diff.added) added, \(diff.removed) removed, \(diff.changed) changed, \(diff.unchanged) unchanged")
                let classes = Set(diff.classCountsBefore.keys).union(diff.classCountsAfter.keys).sorted()
                if !classes.isEmpty {
                    print(
                        Table(
                            headers: ["CLASS", "BEFORE", "AFTER"],
                            rows: classes.map {
                                [$0, String(diff.classCountsBefore[$0] ?? 0), String(diff.classCountsAfter[$0] ?? 0)]
                            }
                        ).rendered)
                }
            }
        }
    }

    /// Moves a version to `state`.
    static func move(_ text: String, to state: VersionState, options: ClientOptions) async throws {
        let path = try Path(text, allowVersion: true)
        guard path.version != nil else { throw ValidationError("name the version: NAMESPACE/PROJECT/DATASET@VERSION") }
        try await runClient {
            let version = try await options.client().send(
                .PUT, path.versionAPI + "/state", body: VersionStateRequest(state: state), as: DatasetVersion.self)
            try options.print(version, headers: ["VERSION", "STATE"], rows: [[String(version.number), version.state.rawValue]])
        }
    }

    struct Deprecate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark a version deprecated: NAMESPACE/PROJECT/DATASET@VERSION.")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await DatasetCommand.move(path, to: .deprecated, options: options) }
    }

    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Archive a version: NAMESPACE/PROJECT/DATASET@VERSION.")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await DatasetCommand.move(path, to: .archived, options: options) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a version (DATASET@VERSION) or, with --all-versions, the whole dataset.",
            discussion: "Deleted data is removed by the next garbage collection (slipway dataset gc).")
        @Argument var path: String
        @Flag(help: "Delete the dataset with every version.") var allVersions = false
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let parsed = try Path(path, allowVersion: true)
            if parsed.version != nil {
                try await DatasetCommand.move(path, to: .deleted, options: options)
                return
            }
            guard allVersions else {
                throw ValidationError("to delete the whole dataset, add --all-versions; to delete one version, name it (DATASET@VERSION)")
            }
            try await runClient {
                try await options.client().sendIgnoringResponse(.DELETE, parsed.api)
                print("Deleted dataset \(path).")
            }
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Delete blobs no live version references (administrators).")
        @Option(help: "Keep uploads younger than this many seconds (default 3600).") var graceSeconds: Int?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let report = try await options.client().send(
                    .POST, "/admin/gc", body: GarbageCollectionRequest(graceSeconds: graceSeconds), as: GarbageCollectionReport.self)
                try options.print(
                    report, headers: ["DELETED", "FREED", "KEPT (RECENT UPLOADS)"],
                    rows: [[String(report.deleted), ProgressBar.bytes(report.freedBytes), String(report.keptYoung)]])
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Download a version as CSV, JSON Lines, or an archive of an image folder, COCO or Pascal VOC: NAMESPACE/PROJECT/DATASET[@VERSION].",
            discussion: """
                image_folder_zip and tar_gz hold one sub-folder per class, as `dataset pull --layout image_folder` writes it; \
                pushing the archive back gives the same records. coco and voc are zips of the folders `dataset pull --layout \
                coco|voc` writes (images/ and annotations.json; JPEGImages/ and Annotations/); unpacked, they push back to the \
                same images, boxes and labels.
                """)
        /// The formats, and how each is made.
        enum Format: String, CaseIterable {
            case csv, jsonl
            case imageFolderZip = "image_folder_zip"
            case tarGz = "tar_gz"
            case coco, voc

            /// The layout and archive of an archive format; `nil` for the server's streamed exports.
            var archive: (DatasetLayout, LayoutArchiveExport.Archive)? {
                switch self {
                case .csv, .jsonl: nil
                case .imageFolderZip: (.imageFolder, .zip)
                case .tarGz: (.imageFolder, .tarGz)
                case .coco: (.coco, .zip)
                case .voc: (.voc, .zip)
                }
            }
        }
        @Argument var path: String
        @Option(help: "csv, jsonl, image_folder_zip, tar_gz (an image folder), coco or voc (zips).") var format: String = "jsonl"
        @Option(name: [.short, .customLong("output-file")], help: "Where to write it.") var outputFile: String
        func run() async throws {
            let path = try Path(path, allowVersion: true)
            guard let format = Format(rawValue: format) else {
                throw ValidationError("--format must be one of: \(Format.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try await runClient {
                let configuration = try ClientConfiguration.load()
                let client = SlipwayAPIClient(baseURL: configuration.url, token: configuration.token)
                if let (layout, archive) = format.archive {
                    let summary = try await LayoutArchiveExport(client: client, path: path, layout: layout, archive: archive).write(to: outputFile)
                    print("Wrote \(outputFile): version \(summary.detail.version.number), \(summary.files) images.")
                    return
                }
                let bar = ProgressBar(label: "downloading", total: 0)
                try await client.download(path.versionAPI + "/export?format=\(format.rawValue)", to: outputFile) { bar.update($0) }
                bar.finish()
                print("Wrote \(outputFile).")
            }
        }
    }
}

extension DatasetVersionDetail {
    /// The one-line summary `push` prints.
    var row: [String] {
        [
            String(version.number), String(manifest.recordCount), manifest.schema.classes.joined(separator: ","),
            manifest.schema.fields.map { "\($0.name):\($0.type.rawValue)" }.joined(separator: " "),
        ]
    }
}
