import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import SlipwayClient
import SlipwayDomain
import SlipwayStore
import Testing

@testable import SlipwayAgent
@testable import SlipwayServer

/// A job as a tracked run, and the token its attempt acts with: the run made at submission and moved with
/// the job, the token held to the job's namespace and to the attempt's life; and the code archive a job's
/// folder is packed into.
@Suite("Job runs and tokens")
struct JobRunTests {
    @Test(arguments: TestBackend.available)
    func aJobIsARunAndItsTokenActsOnlyInItsNamespaceWhileItRuns(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let (admin, agent) = try await ComputeTests.registeredNode(api)
            var spec = ComputeTests.spec("train")
            spec.experiment = "nightly"
            let submitted = try await api.request(.post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: spec)
            #expect(submitted.status == .created, "\(submitted.text)")
            let job = try submitted.decode(Job.self)
            let runID = try #require(job.runId)
            let run = try #require(try await api.platform.store.tracking.run(id: runID))
            #expect(run.info.status == .scheduled)
            #expect(try await api.platform.store.tracking.experiment(id: run.info.experimentID)?.name == "team/flowers/nightly")
            #expect(run.tags.contains(KeyValue(key: "slipway.job", value: job.id.uuidString.lowercased())))
            let page = try await api.request(.get, "/runs/\(runID)", token: admin)
            #expect(page.status == .ok)
            #expect(page.text.contains("href=\"/jobs/\(job.id.uuidString.lowercased())\""), "the run page links the job that runs it")
            let jobPage = try await api.request(.get, "/jobs/\(job.id.uuidString.lowercased())", token: admin)
            #expect(jobPage.status == .ok, "and that link leads to the job's page")

            // The outsider's namespace, to which the job's token must not reach.
            #expect(try await api.request(.post, "/api/v1/namespaces", token: admin, json: #"{"name":"other"}"#).status == .created)

            let scheduler = SchedulingService(store: api.platform.store, logger: Logger(label: "test"), now: { Date() }, lostAfter: 30)
            #expect(try await scheduler.tick().count == 1)
            let beat = try await api.request(.post, "/api/v1/agents/heartbeat", token: agent, body: AgentHeartbeat(usage: .zero, running: []))
            let assignment = try #require(try beat.decode(AgentInstructions.self).start.first)
            #expect(assignment.runId == runID)
            let token = try #require(assignment.token)
            #expect(token.hasPrefix("slwt_"))

            #expect(try await api.request(.get, "/api/v1/namespaces/team/projects", token: token).status == .ok)
            #expect(try await api.request(.get, "/api/v1/namespaces/other/projects", token: token).status == .notFound)
            let users = try await api.request(.get, "/api/v1/users", token: token)
            #expect(users.status == .forbidden)
            #expect(users.errorCode == "job_token_scope")
            #expect(try await api.request(.post, "/api/v1/tokens", token: token, json: #"{"name":"escape"}"#).status == .forbidden)
            // Admin's job, yet no admin rights: the token is a developer of its namespace only.
            #expect(try await api.request(.put, "/api/v1/namespaces/team/quota", token: token, json: #"{"cpu":64}"#).status == .forbidden)
            // MLflow: it may log to its run, and sees no experiment of another namespace.
            let logged = try await api.request(
                .post, "/api/2.0/mlflow/runs/log-metric", token: token,
                json: #"{"run_id":"\#(runID)","key":"loss","value":0.5,"timestamp":1,"step":0}"#)
            #expect(logged.status == .ok, "\(logged.text)")
            let elsewhere = try await api.request(
                .post, "/api/2.0/mlflow/experiments/create", token: token, json: #"{"name":"other/p/x"}"#)
            #expect(elsewhere.status == .notFound)

            // A second heartbeat that still lists the job does not hand out another token.
            let again = try await api.request(
                .post, "/api/v1/agents/heartbeat", token: agent, body: AgentHeartbeat(usage: .zero, running: [.init(jobId: job.id, attempt: 1)]))
            #expect(try again.decode(AgentInstructions.self).start.isEmpty)
            #expect(try await api.request(.get, "/api/v1/namespaces/team/projects", token: token).status == .ok)

            // The run moves with the job, and the token dies with the attempt.
            let state = "/api/v1/agents/jobs/\(job.id.uuidString)/state"
            #expect(try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .running)).status == .ok)
            #expect(try await api.platform.store.tracking.run(id: runID)?.info.status == .running)
            #expect(try await api.request(.post, state, token: agent, body: JobStateReport(attempt: 1, state: .succeeded, exitCode: 0)).status == .ok)
            let finished = try #require(try await api.platform.store.tracking.run(id: runID))
            #expect(finished.info.status == .finished)
            #expect(finished.info.endTime != nil)
            let dead = try await api.request(.get, "/api/v1/namespaces/team/projects", token: token)
            #expect(dead.status == .unauthorized)
        }
    }

    @Test(arguments: TestBackend.available)
    func aJobsLogIsKeptWithinItsLimitSayingWhereItStopped(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let admin = try await DatasetAPITests.setUp(api)
            let job = try await api.request(.post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: ComputeTests.spec("x"))
                .decode(Job.self)
            let store = api.platform.store.compute
            #expect(try await store.appendLog(jobID: job.id, "héllo ", limit: 10) == 6)
            let cut = try await store.appendLog(jobID: job.id, "wörld and more", limit: 10)
            let (text, next) = try await store.log(jobID: job.id, from: 0)
            #expect(text.hasPrefix("héllo wörl\n[slipway] the log reached its limit"))
            #expect(next == cut)
            #expect(try await store.appendLog(jobID: job.id, "dropped", limit: 10) == cut, "nothing more is kept")
            #expect(try await store.logLength(jobID: job.id) == cut)
            let tail = try await api.request(.get, "/api/v1/jobs/\(job.id.uuidString)/logs?tail=8", token: admin)
            #expect(tail.text.unicodeScalars.count == 8)
            #expect(tail.headers[HTTPField.Name("Slipway-Log-Offset")!] == String(cut))
        }
    }

    @Test func aNodesCacheEntryIsFilledByOneJobAtATime() async throws {
        // Jobs pulling the same dataset version take turns; another version does not wait.
        let locks = KeyedLock()
        let trace = Trace()
        await locks.acquire("flowers@1")
        let waiter = Task {
            await locks.acquire("flowers@1")
            await trace.add("second pull")
            await locks.release("flowers@1")
        }
        await locks.acquire("flowers@2")
        await trace.add("other version")
        await locks.release("flowers@2")
        try await Task.sleep(for: .milliseconds(50))
        await trace.add("first pull done")
        await locks.release("flowers@1")
        await waiter.value
        #expect(await trace.events == ["other version", "first pull done", "second pull"])
    }

    actor Trace {
        var events: [String] = []
        func add(_ event: String) { events.append(event) }
    }

    @Test func aCancelledJobsRunIsKilled() async throws {
        try await TestPlatform.withAPI(.sqlite) { api in
            let admin = try await DatasetAPITests.setUp(api)
            let job = try await api.request(.post, "/api/v1/namespaces/team/projects/flowers/jobs", token: admin, body: ComputeTests.spec("x"))
                .decode(Job.self)
            #expect(try await api.request(.post, "/api/v1/jobs/\(job.id.uuidString)/cancel", token: admin).status == .ok)
            #expect(try await api.platform.store.tracking.run(id: try #require(job.runId))?.info.status == .killed)
        }
    }

    @Test func codeArchivesAreReproducibleLeaveOutWhatIsIgnoredAndUnpackWithTheirModes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("code-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = [
            "train.py": "print('hi')\n", "lib/model.py": "x = 1\n", "data/big.bin": "ignored", ".git/HEAD": "ref", "lib/__pycache__/m.pyc": "c",
            String(repeating: "deep/", count: 30) + "long-name.txt": "a path over 100 bytes",
        ]
        for (path, text) in files {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        try Data("data/\n# comment\n".utf8).write(to: folder.appendingPathComponent(".slipwayignore"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.appendingPathComponent("train.py").path)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("link").path, withDestinationPath: "/etc/passwd")

        let first = try CodeArchive.pack(folder)
        defer { try? FileManager.default.removeItem(at: first.file) }
        // Touching a file changes its time, not the archive.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 0)], ofItemAtPath: folder.appendingPathComponent("train.py").path)
        let second = try CodeArchive.pack(folder)
        defer { try? FileManager.default.removeItem(at: second.file) }
        #expect(first.digest.sha256 == second.digest.sha256)
        #expect(first.files == 4, "train.py, lib/model.py, the long path and .slipwayignore")
        #expect(first.skippedLinks == ["link"])

        let target = FileManager.default.temporaryDirectory.appendingPathComponent("unpacked-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: target) }
        #expect(try CodeArchive.unpack(first.file, into: target) == 4)
        #expect(try String(contentsOf: target.appendingPathComponent("lib/model.py"), encoding: .utf8) == "x = 1\n")
        let long = String(repeating: "deep/", count: 30) + "long-name.txt"
        #expect(try String(contentsOf: target.appendingPathComponent(long), encoding: .utf8) == "a path over 100 bytes")
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent("data").path))
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent(".git").path))
        let mode = try FileManager.default.attributesOfItem(atPath: target.appendingPathComponent("train.py").path)[.posixPermissions] as? Int
        #expect(mode == 0o755)

        // An archive that would write outside the folder is refused.
        var hostile = TarWriter()
        hostile.file("../escape.txt", Data("x".utf8))
        hostile.end()
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString).tar")
        defer { try? FileManager.default.removeItem(at: bad) }
        try Data(hostile.bytes).write(to: bad)
        #expect(throws: CodeArchiveError.self) { try CodeArchive.unpack(bad, into: target) }
        #expect(!FileManager.default.fileExists(atPath: target.deletingLastPathComponent().appendingPathComponent("escape.txt").path))
    }

    @Test func specFilesReadYAMLWithMemoryInUnitsAndACodeFolder() throws {
        let (spec, code) = try JobSpecFile.parse(
            """
            name: train
            command: python train.py
            code: src
            resources: {cpu: 2, memory: 4GiB}
            inputs:
              - {name: train, dataset: flowers, version: 3, layout: image_folder}
            node_selector: {zone: a}
            env: {SEED: "7"}
            """, name: "job.yaml")
        #expect(code == "src")
        #expect(spec.resources == ComputeResources(cpu: 2, memoryBytes: 4 << 30, gpu: 0))
        #expect(spec.inputs == [JobDatasetInput(name: "train", dataset: "flowers", version: 3, layout: "image_folder")])
        #expect(spec.nodeSelector == ["zone": "a"])
        #expect(spec.env == ["SEED": "7"])
        #expect(throws: JobSpecError.self) { try JobSpecFile.parse("name: x\ncommand: [unclosed", name: "bad.yaml") }
        #expect(throws: JobSpecError.self) { try JobSpecFile.parse("- just\n- a list\n", name: "list.yaml") }
    }
}
