import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway job …`: submit training jobs, watch them, follow their logs, cancel them.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Submit and follow jobs.", subcommands: [Submit.self, List.self, Show.self, Logs.self, Cancel.self])

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a job to a project.",
            discussion: """
                Either give a spec file (YAML or JSON; see docs/compute.md) or the command and options:
                  slipway job submit team/vision --name train --cpu 2 --memory 4GiB --code . \\
                    --input train=flowers@3 --requirement scikit-learn -- python train.py
                --code packs the folder (leaving out .git, virtualenvs, caches and what .slipwayignore lists) into a \
                content-addressed archive and uploads it unless the namespace has it already; the job starts in it.
                Each --input NAME=DATASET[@VERSION][:LAYOUT] is pulled into inputs/NAME, its path in SLIPWAY_INPUT_NAME.
                The job is recorded as an MLflow run (MLFLOW_RUN_ID is set); files it writes to $SLIPWAY_OUTPUT_DIR \
                become the run's artifacts.
                """)
        @Argument(help: "NAMESPACE/PROJECT") var project: String
        @Option(name: .customLong("file"), help: "A job spec, YAML or JSON; options given as well override it.") var file: String?
        @Option(help: "The job's name.") var name: String?
        @Option(help: "CPU cores (default 1).") var cpu: Double?
        @Option(help: "Memory, e.g. 512MiB or 4GiB (default 1GiB); the job is stopped above it.") var memory: String?
        @Option(help: "Whole GPUs (default 0).") var gpu: Int?
        @Option(help: "Stop and fail the job after this many seconds.") var maxRuntime: Int?
        @Option(help: "Higher runs first.") var priority: Int?
        @Option(name: .customLong("requirement"), help: "A pip requirement; repeat for more (the job runs in a cached virtualenv).")
        var requirements: [String] = []
        @Option(help: "The interpreter the virtualenv is made from (default python3).") var python: String?
        @Option(help: "A container image to run the command in (the node needs docker or podman).") var image: String?
        @Option(help: "A folder to pack and upload as the job's code.") var code: String?
        @Option(name: .customLong("input"), help: "NAME=DATASET[@VERSION][:LAYOUT], DATASET being NAME or PROJECT/NAME; repeat for more.")
        var inputs: [String] = []
        @Option(name: .customLong("selector"), help: "KEY=VALUE: run only on nodes with this label; repeat for more.")
        var selectors: [String] = []
        @Option(help: "The MLflow experiment of the job's run (default: the job's name).") var experiment: String?
        @Option(name: .customLong("env"), help: "KEY=VALUE: an environment variable for the job; repeat for more.") var env: [String] = []
        @Flag(help: "Follow the job's log until it ends.") var follow = false
        @OptionGroup var options: ClientOptions
        @Argument(parsing: .postTerminator, help: "The command, after --.") var command: [String] = []

        func run() async throws {
            try await runClient {
                let (namespace, projectName) = try splitProjectPath(project)
                var spec: JobSpec
                var codeFolder = code
                if let file {
                    let url = URL(fileURLWithPath: file)
                    let loaded: (spec: JobSpec, codeFolder: String?)
                    do {
                        loaded = try JobSpecFile.load(url)
                    } catch let error as JobSpecError {
                        throw CLIError(error.description)
                    }
                    spec = loaded.spec
                    if codeFolder == nil, let folder = loaded.codeFolder {
                        codeFolder = folder.hasPrefix("/") ? folder : url.deletingLastPathComponent().appendingPathComponent(folder).path
                    }
                } else {
                    guard !command.isEmpty else { throw ValidationError("give the command after -- (or a spec with --file)") }
                    spec = JobSpec(name: "job", command: "", resources: ComputeResources(cpu: 1, memoryBytes: 1 << 30, gpu: 0))
                }
                if !command.isEmpty { spec.command = command.joined(separator: " ") }
                if let name { spec.name = name }
                if let cpu { spec.resources.cpu = cpu }
                if let memory {
                    guard let bytes = parseBytes(memory) else { throw ValidationError("--memory must look like 512MiB, 4GiB or a number of bytes") }
                    spec.resources.memoryBytes = bytes
                }
                if let gpu { spec.resources.gpu = gpu }
                if let maxRuntime { spec.maxRuntimeSeconds = maxRuntime }
                if let priority { spec.priority = priority }
                if !requirements.isEmpty || python != nil || image != nil {
                    var environment = spec.environment ?? JobEnvironment()
                    if !requirements.isEmpty { environment.requirements = requirements }
                    if let python { environment.python = python }
                    if let image { environment.image = image }
                    spec.environment = environment
                }
                for text in inputs { spec.inputs = (spec.inputs ?? []) + [try Self.input(text)] }
                for text in selectors {
                    let (key, value) = try Self.pair(text, "--selector")
                    spec.nodeSelector = (spec.nodeSelector ?? [:]).merging([key: value]) { $1 }
                }
                for text in env {
                    let (key, value) = try Self.pair(text, "--env")
                    spec.env = (spec.env ?? [:]).merging([key: value]) { $1 }
                }
                if let experiment { spec.experiment = experiment }
                let client = try options.client()
                if let codeFolder { spec.code = try await Self.upload(code: codeFolder, namespace: namespace, client: client) }
                let job = try await client.send(
                    .POST, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(projectName))/jobs",
                    body: spec, as: Job.self)
                if options.output == .json && !follow {
                    try options.print(job, headers: [], rows: [])
                    return
                }
                print("Submitted job \(job.id.uuidString.lowercased()) (\(job.spec.name)), \(job.state.rawValue).")
                if let run = job.runId { print("Its run: \(run) (experiment \(job.experimentId ?? "?")).") }
                if follow { try await Logs.follow(client, job.id.uuidString.lowercased()) }
            }
        }

        /// Packs `folder` and uploads the archive unless the namespace holds it already.
        static func upload(code folder: String, namespace: String, client: SlipwayAPIClient) async throws -> CodeSnapshot {
            let packed: CodeArchive.Packed
            do {
                packed = try CodeArchive.pack(URL(fileURLWithPath: folder))
            } catch let error as CodeArchiveError {
                throw CLIError(error.description)
            }
            defer { try? FileManager.default.removeItem(at: packed.file) }
            for link in packed.skippedLinks.prefix(5) {
                FileHandle.standardError.write(Data("warning: \(link) is a symbolic link; code archives hold files only, so it is left out\n".utf8))
            }
            let digest = packed.digest
            let short = digest.sha256.prefix(12)
            if try await client.missingBlobs([digest.sha256], namespace: namespace).isEmpty {
                FileHandle.standardError.write(Data("code \(short): \(packed.files) files, already uploaded\n".utf8))
            } else {
                let bar = ProgressBar(label: "uploading code \(short) (\(packed.files) files)", total: digest.size)
                _ = try await client.uploadBlob(path: packed.file.path, digest: digest, namespace: namespace) { bar.update($0) }
                bar.finish()
            }
            return CodeSnapshot(sha256: digest.sha256, sizeBytes: digest.size, files: packed.files)
        }

        /// `NAME=DATASET[@VERSION][:LAYOUT]`.
        static func input(_ text: String) throws -> JobDatasetInput {
            let (name, rest) = try pair(text, "--input")
            var dataset = rest
            var layout: String?
            if let colon = dataset.lastIndex(of: ":") {
                layout = String(dataset[dataset.index(after: colon)...])
                dataset = String(dataset[..<colon])
            }
            var version: Int?
            if let at = dataset.lastIndex(of: "@") {
                let number = String(dataset[dataset.index(after: at)...])
                if number != "latest" {
                    guard let value = Int(number) else { throw ValidationError("--input \(text): the version after @ must be a number") }
                    version = value
                }
                dataset = String(dataset[..<at])
            }
            return JobDatasetInput(name: name, dataset: dataset, version: version, layout: layout)
        }

        static func pair(_ text: String, _ flag: String) throws -> (String, String) {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw ValidationError("\(flag) takes KEY=VALUE, not '\(text)'")
            }
            return (String(text[..<equals]), String(text[text.index(after: equals)...]))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs in your namespaces, newest first.")
        @Option(help: "Only jobs in this state.") var state: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let path = "/jobs" + (state.map { "?state=\(SlipwayAPIClient.segment($0))" } ?? "")
                let list = try await options.client().send(.GET, path, as: ItemList<Job>.self)
                try options.print(
                    list, headers: ["ID", "NAME", "PROJECT", "STATE", "NODE", "CREATED", "REASON"],
                    rows: list.items.map {
                        [
                            $0.id.uuidString.lowercased(), $0.spec.name, "\($0.namespace)/\($0.project)", $0.state.rawValue, $0.node ?? "",
                            $0.createdAt.shortText, String($0.reason.prefix(60)),
                        ]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A job with its state history.")
        @Argument var id: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let detail = try await options.client().send(.GET, "/jobs/\(SlipwayAPIClient.segment(id))", as: JobDetail.self)
                if options.output == .json {
                    try options.print(detail, headers: [], rows: [])
                    return
                }
                let job = detail.job
                print(
                    "\(job.spec.name)  \(job.state.rawValue)  \(job.namespace)/\(job.project)  node \(job.node ?? "-")  attempt \(job.attempts)/\(job.maxAttempts)"
                )
                print("command: \(job.spec.command)")
                print(
                    Table(
                        headers: ["AT", "STATE", "NODE", "REASON"],
                        rows: detail.events.map {
                            [$0.at.shortText, $0.state.rawValue, $0.node ?? "", $0.reason]
                        }
                    ).rendered)
            }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's log; -f follows it until the job ends.")
        @Argument var id: String
        @Flag(name: [.short, .customLong("follow")], help: "Follow the log live.") var follow = false
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let client = try options.client()
                if follow {
                    try await Self.follow(client, id)
                } else {
                    print(try await client.getText("/jobs/\(SlipwayAPIClient.segment(id))/logs").text, terminator: "")
                }
            }
        }

        static func follow(_ client: SlipwayAPIClient, _ id: String) async throws {
            try await client.streamText("/jobs/\(SlipwayAPIClient.segment(id))/logs?follow=true") { chunk in
                FileHandle.standardOutput.write(Data(chunk.utf8))
            }
            let job = try await client.send(.GET, "/jobs/\(SlipwayAPIClient.segment(id))", as: JobDetail.self).job
            FileHandle.standardError.write(Data("[job \(job.state.rawValue): \(job.reason)]\n".utf8))
            if job.state != .succeeded { throw ExitCode(1) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job; a running one is stopped with everything it started.")
        @Argument var id: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await runClient {
                let job = try await options.client().send(.POST, "/jobs/\(SlipwayAPIClient.segment(id))/cancel", as: Job.self)
                print("Job \(job.spec.name) is \(job.state.rawValue): \(job.reason)")
            }
        }
    }
}
