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
                Either give a spec file (JSON: name, command, resources {cpu, memory_bytes, gpu}, environment {python, \
                requirements}, priority, max_runtime_seconds, env) or the command and options:
                  slipway job submit team/vision --name train --cpu 2 --memory 4GiB -- python train.py
                """)
        @Argument(help: "NAMESPACE/PROJECT") var project: String
        @Option(name: .customLong("file"), help: "A JSON job spec.") var file: String?
        @Option(help: "The job's name.") var name: String?
        @Option(help: "CPU cores (default 1).") var cpu: Double = 1
        @Option(help: "Memory, e.g. 512MiB or 4GiB (default 1GiB); the job is stopped above it.") var memory: String = "1GiB"
        @Option(help: "Whole GPUs (default 0).") var gpu: Int = 0
        @Option(help: "Stop and fail the job after this many seconds.") var maxRuntime: Int?
        @Option(help: "Higher runs first.") var priority: Int?
        @Option(name: .customLong("requirement"), help: "A pip requirement; repeat for more (the job runs in a cached virtualenv).")
        var requirements: [String] = []
        @Option(help: "The interpreter the virtualenv is made from (default python3).") var python: String?
        @Flag(help: "Follow the job's log until it ends.") var follow = false
        @OptionGroup var options: ClientOptions
        @Argument(parsing: .postTerminator, help: "The command, after --.") var command: [String] = []

        func run() async throws {
            try await runClient {
                let (namespace, projectName) = try splitProjectPath(project)
                var spec: JobSpec
                if let file {
                    spec = try APICoding.decoder().decode(JobSpec.self, from: try Data(contentsOf: URL(fileURLWithPath: file)))
                } else {
                    guard !command.isEmpty else { throw ValidationError("give the command after -- (or a spec with --file)") }
                    guard let bytes = parseBytes(memory) else { throw ValidationError("--memory must look like 512MiB, 4GiB or a number of bytes") }
                    spec = JobSpec(
                        name: name ?? "job", command: command.joined(separator: " "),
                        environment: requirements.isEmpty && python == nil ? nil : JobEnvironment(python: python, requirements: requirements),
                        resources: ComputeResources(cpu: cpu, memoryBytes: bytes, gpu: gpu), priority: priority, maxRuntimeSeconds: maxRuntime)
                }
                let client = try options.client()
                let job = try await client.send(
                    .POST, "/namespaces/\(SlipwayAPIClient.segment(namespace))/projects/\(SlipwayAPIClient.segment(projectName))/jobs",
                    body: spec, as: Job.self)
                if options.output == .json && !follow {
                    try options.print(job, headers: [], rows: [])
                    return
                }
                print("Submitted job \(job.id.uuidString.lowercased()) (\(job.spec.name)), \(job.state.rawValue).")
                if follow { try await Logs.follow(client, job.id.uuidString.lowercased()) }
            }
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

/// `512MiB`, `4GiB`, `2G`, `1000000` → bytes.
func parseBytes(_ text: String) -> Int64? {
    let units: [(String, Int64)] = [
        ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10),
        ("B", 1),
    ]
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
        guard let number = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number > 0 else { return nil }
        return Int64(number * Double(scale))
    }
    return Int64(trimmed)
}
