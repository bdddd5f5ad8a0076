import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayData
import SlipwayDomain

/// `slipway dataset draft …`: the dataset's editable staging area.
struct DatasetDraftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "draft", abstract: "Open, inspect or discard a dataset's draft (edited with `dataset record`, closed by `dataset commit`).",
        subcommands: [Open.self, Show.self, Records.self, Discard.self])

    static func api(_ text: String) throws -> String { try DatasetCommand.Path(text).api + "/draft" }

    static func printDraft(_ draft: DatasetDraft, options: ClientOptions) throws {
        try options.print(
            draft, headers: ["BASE", "RECORDS", "ADDED", "CHANGED", "REMOVED", "UPDATED"],
            rows: [
                [
                    draft.baseVersion.map { "v\($0)" } ?? "empty", String(draft.recordCount), String(draft.added), String(draft.changed),
                    String(draft.removed), draft.updatedAt.shortText,
                ]
            ])
    }

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open the draft of NAMESPACE/PROJECT/DATASET, holding the latest version's records (or --from-version, or --empty).")
        @Argument var path: String
        @Option(help: "Start from this version instead of the latest.") var fromVersion: Int?
        @Flag(help: "Start with no records.") var empty = false
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let api = try DatasetDraftCommand.api(path)
            try await runClient {
                let draft = try await options.client().send(
                    .POST, api, body: CreateDraftRequest(fromVersion: fromVersion, empty: empty ? true : nil), as: DatasetDraft.self)
                try DatasetDraftCommand.printDraft(draft, options: options)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What changed in the draft of NAMESPACE/PROJECT/DATASET.")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let api = try DatasetDraftCommand.api(path)
            try await runClient {
                try DatasetDraftCommand.printDraft(try await options.client().send(.GET, api, as: DatasetDraft.self), options: options)
            }
        }
    }

    struct Records: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List records of the draft of NAMESPACE/PROJECT/DATASET.")
        @Argument var path: String
        @Option(help: "Records to skip.") var offset = 0
        @Option(help: "At most this many (1 to 1000).") var limit = 50
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let api = try DatasetDraftCommand.api(path)
            try await runClient {
                let page = try await options.client().send(.GET, api + "/records?offset=\(offset)&limit=\(limit)", as: RecordPage.self)
                try options.print(
                    page, headers: ["ID", "LABELS", "FILE", "FIELDS"],
                    rows: page.items.map { record in
                        [
                            record.id, DatasetRecordCommand.labels(record), record.file?.path ?? "",
                            record.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.text)" }.joined(separator: " "),
                        ]
                    })
            }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Throw away the draft of NAMESPACE/PROJECT/DATASET.")
        @Argument var path: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let api = try DatasetDraftCommand.api(path)
            try await runClient {
                try await options.client().sendIgnoringResponse(.DELETE, api)
                print("Discarded the draft of \(path).")
            }
        }
    }
}

/// `slipway dataset commit`: the draft becomes the next immutable version.
struct DatasetCommitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", abstract: "Commit the draft of NAMESPACE/PROJECT/DATASET as its next version.")
    @Argument var path: String
    @Option(name: [.short, .customLong("message")], help: "What changed in this version.") var message: String?
    @OptionGroup var options: ClientOptions
    func run() async throws {
        let api = try DatasetDraftCommand.api(path)
        try await runClient {
            let detail = try await options.client().send(
                .POST, api + "/commit", body: CommitDraftRequest(message: message), as: DatasetVersionDetail.self)
            try options.print(detail, headers: ["VERSION", "RECORDS", "CLASSES", "FIELDS"], rows: [detail.row])
        }
    }
}

/// `slipway dataset record …`: edit single records of the draft.
struct DatasetRecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record", abstract: "Add, show, relabel or remove records of a dataset's draft.",
        subcommands: [Add.self, Show.self, Label.self, Remove.self])

    static func api(_ path: String, _ id: String) throws -> String {
        try DatasetDraftCommand.api(path) + "/records/" + SlipwayAPIClient.segment(id)
    }

    /// A record's labels in one cell: `cat`, `box:dog@(1,2,30,40)`, `text:"…"`.
    static func labels(_ record: DatasetRecord) -> String {
        record.annotations.map { annotation in
            switch annotation.kind {
            case .classLabel: annotation.label ?? ""
            case .box:
                "box:\(annotation.label ?? "")@"
                    + (annotation.box.map { "(\([$0.x, $0.y, $0.width, $0.height].map { String(format: "%g", $0) }.joined(separator: ",")))" } ?? "")
            case .text: "text:\"\(annotation.text ?? "")\""
            }
        }.joined(separator: " ")
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add records to the draft (or replace those with the same ids) from a JSON Lines file of records in the unified format.",
            discussion: "Files the records refer to must be uploaded first; for many records or other formats use `dataset push --draft`.")
        @Argument(help: "NAMESPACE/PROJECT/DATASET") var path: String
        @Argument(help: "A .jsonl file, one record per line (docs/dataset-format.md).") var file: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw ValidationError("cannot read \(file)") }
            let decoder = RecordCoding.decoder()
            var records: [DatasetRecord] = []
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
                do { records.append(try decoder.decode(DatasetRecord.self, from: Data(line.utf8))) } catch {
                    throw ValidationError("\(file), line \(index + 1): not a dataset record (\(error))")
                }
            }
            try await runClient {
                let client = try options.client()
                for record in records {
                    _ = try await client.send(.PUT, try DatasetRecordCommand.api(path, record.id), body: record, as: DatasetRecord.self)
                }
                print("Put \(records.count) records into the draft of \(path).")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one record of the draft.")
        @Argument(help: "NAMESPACE/PROJECT/DATASET") var path: String
        @Argument(help: "The record's id.") var id: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let record = try await options.client().send(.GET, try DatasetRecordCommand.api(path, id), as: DatasetRecord.self)
                try options.print(
                    record, headers: ["ID", "LABELS", "FILE"], rows: [[record.id, DatasetRecordCommand.labels(record), record.file?.path ?? ""]])
            }
        }
    }

    struct Label: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a record's labels in the draft; the labels are recorded as yours.",
            discussion: "Example: slipway dataset record label team/p/pets cats/001 --class dog --box 10,20,30,40=dog")
        @Argument(help: "NAMESPACE/PROJECT/DATASET") var path: String
        @Argument(help: "The record's id.") var id: String
        @Option(name: .customLong("class"), help: "The record's class.") var className: String?
        @Option(name: .customLong("box"), help: "A box X,Y,WIDTH,HEIGHT=LABEL in pixels (repeatable).") var boxes: [String] = []
        @Option(help: "A text label.") var text: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let human = AnnotationSource(kind: .human)
            var annotations: [Annotation] = []
            if let className { annotations.append(Annotation(kind: .classLabel, label: className, source: human)) }
            for box in boxes {
                let parts = box.split(separator: "=", maxSplits: 1)
                let numbers = parts.first?.split(separator: ",").compactMap { Double($0) } ?? []
                guard parts.count == 2, numbers.count == 4, !parts[1].isEmpty else {
                    throw ValidationError("--box takes X,Y,WIDTH,HEIGHT=LABEL, not '\(box)'")
                }
                annotations.append(
                    Annotation(
                        kind: .box, label: String(parts[1]), box: BoundingBox(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3]),
                        source: human))
            }
            if let text { annotations.append(Annotation(kind: .text, text: text, source: human)) }
            try await runClient {
                let record = try await options.client().send(
                    .PUT, try DatasetRecordCommand.api(path, id) + "/annotations", body: AnnotationsRequest(annotations: annotations),
                    as: DatasetRecord.self)
                try options.print(record, headers: ["ID", "LABELS"], rows: [[record.id, DatasetRecordCommand.labels(record)]])
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take records out of the draft.")
        @Argument(help: "NAMESPACE/PROJECT/DATASET") var path: String
        @Argument(help: "Record ids.") var ids: [String]
        @OptionGroup var options: ClientOptions
        func run() async throws {
            guard !ids.isEmpty else { throw ValidationError("name at least one record id") }
            try await runClient {
                let client = try options.client()
                for id in ids { try await client.sendIgnoringResponse(.DELETE, try DatasetRecordCommand.api(path, id)) }
                print("Removed \(ids.count) record\(ids.count == 1 ? "" : "s") from the draft of \(path).")
            }
        }
    }
}

extension JSONValue {
    /// The value as a table shows it.
    var text: String {
        switch self {
        case .string(let value): value
        case .integer(let value): String(value)
        case .number(let value): String(format: "%g", value)
        case .bool(let value): String(value)
        case .null: ""
        }
    }
}
