import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayDomain
import Testing

@testable import SlipwayServer

/// Slipway's own API over tracking and the registry, and the web pages built on it: runs written through
/// the MLflow API are read back placed in their project, searched with MLflow's grammar, charted, and linked
/// both ways to the dataset versions they used and the model versions they produced.
@Suite("Tracking API and pages")
struct TrackingAPITests {
    static let mlflow = "/api/2.0/mlflow"

    /// What `seed` made: the experiment, three runs (by name) and a child run.
    struct Seeded {
        var admin: String
        var experiment: String
        var runs: [String: String]
        var child: String
    }

    /// `team/flowers/iris` with runs `a` (acc 0.7, sgd), `b` (acc 0.9, adam, used iris@1, registered as
    /// team.flowers.classifier v1, with artifacts) and `c` (acc 0.8, adam), and a child run of `b`.
    static func seed(_ api: APIClient) async throws -> Seeded {
        let admin = try await DatasetAPITests.setUp(api)
        #expect(
            try await api.request(
                .post, DatasetAPITests.base, token: admin, json: #"{"name":"iris","task_type":"tabular_classification"}"#
            ).status == .created)
        let created = try await api.request(.post, mlflow + "/experiments/create", token: admin, json: #"{"name":"team/flowers/iris"}"#)
        #expect(created.status == .ok, "\(created.text)")
        let experiment = try #require(created.json["experiment_id"] as? String)
        var runs: [String: String] = [:]
        for (name, accuracy, optimizer) in [("a", 0.7, "sgd"), ("b", 0.9, "adam"), ("c", 0.8, "adam")] {
            let run = try await api.request(
                .post, mlflow + "/runs/create", token: admin,
                json: #"{"experiment_id":"\#(experiment)","run_name":"\#(name)","start_time":1700000000000}"#)
            let id = try #require((run.json["run"] as? [String: Any]).flatMap { ($0["info"] as? [String: Any])?["run_id"] as? String })
            runs[name] = id
            let steps = (0..<5).map { step in
                #"{"key":"acc","value":\#(accuracy * Double(step + 1) / 5),"timestamp":1700000000000,"step":\#(step)}"#
            }
            let batch = try await api.request(
                .post, mlflow + "/runs/log-batch", token: admin,
                json: #"""
                    {"run_id":"\#(id)","metrics":[\#(steps.joined(separator: ","))],
                     "params":[{"key":"optimizer","value":"\#(optimizer)"},{"key":"lr","value":"0.1"}],
                     "tags":[{"key":"team","value":"vision"},{"key":"mlflow.source.name","value":"train.py"}]}
                    """#)
            #expect(batch.status == .ok, "\(batch.text)")
            #expect(
                try await api.request(
                    .post, mlflow + "/runs/update", token: admin, json: #"{"run_id":"\#(id)","status":"FINISHED","end_time":1700000090000}"#
                ).status == .ok)
        }
        let b = runs["b"]!
        // A NaN point, the dataset version b trained on, a child run, artifacts and a model version.
        #expect(
            try await api.request(
                .post, mlflow + "/runs/log-metric", token: admin,
                json: #"{"run_id":"\#(b)","key":"loss","value":"NaN","timestamp":1700000000000,"step":0}"#
            ).status == .ok)
        let input = try await api.request(
            .post, mlflow + "/runs/log-inputs", token: admin,
            json: #"""
                {"run_id":"\#(b)","datasets":[{"tags":[{"key":"mlflow.data.context","value":"training"}],
                 "dataset":{"name":"iris","digest":"abc","source_type":"slipway","source":"team/flowers/iris@1"}}]}
                """#)
        #expect(input.status == .ok, "\(input.text)")
        let child = try await api.request(
            .post, mlflow + "/runs/create", token: admin,
            json: #"{"experiment_id":"\#(experiment)","run_name":"fold-1","tags":[{"key":"mlflow.parentRunId","value":"\#(b)"}]}"#)
        let childID = try #require((child.json["run"] as? [String: Any]).flatMap { ($0["info"] as? [String: Any])?["run_id"] as? String })
        for (path, body) in [("notes.txt", "trained on iris\n"), ("model/conf.json", #"{"depth":3,"kind":"tree"}"#)] {
            let uploaded = try await api.client.execute(
                uri: "/api/2.0/mlflow-artifacts/artifacts/\(experiment)/\(b)/artifacts/\(path)", method: .put,
                headers: [.authorization: "Bearer \(admin)"], body: ByteBuffer(string: body))
            #expect(uploaded.status == .ok)
        }
        #expect(
            try await api.request(.post, mlflow + "/registered-models/create", token: admin, json: #"{"name":"team.flowers.classifier"}"#)
                .status == .ok)
        let version = try await api.request(
            .post, mlflow + "/model-versions/create", token: admin,
            json: #"{"name":"team.flowers.classifier","source":"runs:/\#(b)/model","run_id":"\#(b)"}"#)
        #expect(version.status == .ok, "\(version.text)")
        return Seeded(admin: admin, experiment: experiment, runs: runs, child: childID)
    }

    @Test(arguments: TestBackend.available)
    func runsAreSearchedOrderedAndPagedWithMLflowsGrammar(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let seeded = try await Self.seed(api)
            let listed = try await api.request(.get, "/api/v1/namespaces/team/projects/flowers/experiments", token: seeded.admin)
            #expect(listed.items.map { $0["name"] as? String } == ["team/flowers/iris"])
            #expect(listed.items.first?["namespace"] as? String == "team")
            #expect(listed.items.first?["project"] as? String == "flowers")

            let base = "/api/v1/experiments/\(seeded.experiment)/runs"
            let filtered = try await api.request(
                .get,
                base + "?filter=" + Self.encode("metrics.acc > 0.75 and params.optimizer = 'adam'") + "&order_by="
                    + Self.encode("metrics.acc DESC"), token: seeded.admin)
            #expect(filtered.status == .ok, "\(filtered.text)")
            #expect(filtered.items.map { $0["name"] as? String } == ["b", "c"])
            let first = try #require(filtered.items.first)
            #expect((first["params"] as? [String: String])?["optimizer"] == "adam")
            let metrics = try #require(first["metrics"] as? [[String: Any]])
            #expect(metrics.first { $0["key"] as? String == "acc" }?["value"] as? Double == 0.9)
            #expect(metrics.first { $0["key"] as? String == "loss" }?["value"] as? String == "NaN", "NaN travels as a string")

            // One run a page, following the tokens, gives every run once in order.
            var names: [String] = []
            var token: String?
            repeat {
                let page = try await api.request(
                    .get,
                    base + "?order_by=" + Self.encode("attributes.run_name ASC") + "&max_results=1"
                        + (token.map { "&page_token=" + Self.encode($0) } ?? ""), token: seeded.admin)
                #expect(page.status == .ok, "\(page.text)")
                names += page.items.compactMap { $0["name"] as? String }
                token = page.json["next_page_token"] as? String
            } while token != nil && names.count < 10
            #expect(names == ["a", "b", "c", "fold-1"])

            let bad = try await api.request(.get, base + "?filter=" + Self.encode("metrics.acc >> 1"), token: seeded.admin)
            #expect(bad.status == .badRequest)
            #expect(bad.errorCode == "invalid_filter")
            #expect(try await api.request(.get, base + "?view=everything", token: seeded.admin).errorCode == "invalid_field")
            #expect(try await api.request(.get, base + "?max_results=0", token: seeded.admin).errorCode == "invalid_field")
            let otherQuery = try await api.request(
                .get, base + "?filter=" + Self.encode("params.lr = '0.1'") + "&page_token=" + Self.encode(token ?? "eyJ4IjoxfQ"), token: seeded.admin)
            #expect(otherQuery.status == .badRequest)
        }
    }

    /// A JSON value re-serialized with sorted keys, so two answers compare as values.
    static func canonical(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    /// MLflow's `runs/search` filters and orders over just the values its filter and order read, then returns
    /// the page's runs whole: each exactly as `runs/get` answers it.
    @Test(arguments: TestBackend.available)
    func mlflowSearchReturnsWholeRunsWhateverTheFilterReads(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let seeded = try await Self.seed(api)
            func search(_ filter: String, _ orderBy: [String], maxResults: Int = 100, token: String? = nil) async throws -> APIResult {
                var body: [String: Any] = ["experiment_ids": [seeded.experiment], "filter": filter, "order_by": orderBy, "max_results": maxResults]
                if let token { body["page_token"] = token }
                let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
                return try await api.request(.post, Self.mlflow + "/runs/search", token: seeded.admin, json: json)
            }
            let names = Dictionary(uniqueKeysWithValues: seeded.runs.map { ($0.value, $0.key) })
            for (filter, orderBy, expected) in [
                ("params.optimizer = 'adam'", ["metrics.acc DESC"], ["b", "c"]),
                ("datasets.name = 'iris'", [], ["b"]),
                ("tags.team = 'vision' AND metrics.acc < 0.85", ["params.optimizer ASC", "metrics.acc"], ["c", "a"]),
                ("metrics.loss IS NULL AND attributes.status = 'FINISHED'", ["attributes.run_name DESC"], ["c", "a"]),
            ] {
                let found = try await search(filter, orderBy)
                #expect(found.status == .ok, "\(found.text)")
                let runs = try #require(found.json["runs"] as? [[String: Any]])
                let ids = runs.compactMap { ($0["info"] as? [String: Any])?["run_id"] as? String }
                #expect(ids.map { names[$0] ?? "?" } == expected, "\(filter)")
                for (id, run) in zip(ids, runs) {
                    let got = try await api.request(.get, Self.mlflow + "/runs/get?run_id=\(id)", token: seeded.admin)
                    #expect(
                        try Self.canonical(run) == Self.canonical(try #require(got.json["run"])), "\(filter): the whole run, not what the filter read"
                    )
                }
            }
            let whole = try #require(try await search("params.optimizer = 'adam'", ["metrics.acc DESC"]).json["runs"] as? [[String: Any]])
            let params = ((whole.first?["data"] as? [String: Any])?["params"] as? [[String: Any]])?.compactMap { $0["key"] as? String }
            #expect(params?.sorted() == ["lr", "optimizer"], "params the filter does not read are there too")

            // Pages follow the same order, each run once.
            var seen: [String] = []
            var token: String?
            repeat {
                let page = try await search("", ["metrics.acc ASC"], maxResults: 1, token: token)
                seen += (page.json["runs"] as? [[String: Any]] ?? []).compactMap { ($0["info"] as? [String: Any])?["run_name"] as? String }
                token = page.json["next_page_token"] as? String
            } while token != nil && seen.count < 10
            #expect(seen == ["a", "c", "b", "fold-1"], "runs without the metric come last")
        }
    }

    @Test(arguments: TestBackend.available)
    func aRunKnowsItsDataCodeChildrenAndModelVersionsAndAVersionKnowsItsRun(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let seeded = try await Self.seed(api)
            let b = seeded.runs["b"]!
            let run = try await api.request(.get, "/api/v1/runs/\(b)", token: seeded.admin)
            #expect(run.status == .ok, "\(run.text)")
            let inputs = try #require(run.json["inputs"] as? [[String: Any]])
            #expect(inputs.count == 1)
            #expect(inputs.first?["context"] as? String == "training")
            let dataset = try #require(inputs.first?["dataset"] as? [String: Any])
            #expect(dataset["namespace"] as? String == "team")
            #expect(dataset["dataset"] as? String == "iris")
            #expect(dataset["version"] as? Int == 1)
            #expect((run.json["code"] as? [String: Any])?["source_name"] as? String == "train.py")
            #expect(run.json["child_run_ids"] as? [String] == [seeded.child])
            let versions = try #require(run.json["model_versions"] as? [[String: Any]])
            #expect(versions.map { $0["name"] as? String } == ["team.flowers.classifier"])
            #expect(versions.first?["approved"] as? Bool == false)
            #expect((run.json["experiment"] as? [String: Any])?["project"] as? String == "flowers")

            let history = try await api.request(.get, "/api/v1/runs/\(b)/metrics?key=acc", token: seeded.admin)
            let points = try #require(history.json["points"] as? [[String: Any]])
            #expect(points.map { $0["step"] as? Int } == [0, 1, 2, 3, 4])
            #expect(try await api.request(.get, "/api/v1/runs/\(b)/metrics?key=nope", token: seeded.admin).status == .notFound)
            #expect(try await api.request(.get, "/api/v1/runs/\(b)/metrics", token: seeded.admin).status == .badRequest)

            // The version goes back to its run and that run's dataset version.
            let version = try await api.request(.get, "/api/v1/models/team.flowers.classifier/versions/1", token: seeded.admin)
            #expect(version.status == .ok, "\(version.text)")
            #expect((version.json["run"] as? [String: Any])?["id"] as? String == b)
            #expect((version.json["experiment"] as? [String: Any])?["name"] as? String == "team/flowers/iris")
            let versionInputs = try #require(version.json["inputs"] as? [[String: Any]])
            #expect((versionInputs.first?["dataset"] as? [String: Any])?["dataset"] as? String == "iris")
            #expect(version.json["storage_location"] as? String == "mlflow-artifacts:/\(seeded.experiment)/\(b)/artifacts/model")

            let model = try await api.request(.get, "/api/v1/models/team.flowers.classifier", token: seeded.admin)
            #expect((model.json["model"] as? [String: Any])?["latest_version"] as? Int == 1)
            #expect((model.json["versions"] as? [[String: Any]])?.count == 1)
            let models = try await api.request(.get, "/api/v1/namespaces/team/projects/flowers/models", token: seeded.admin)
            #expect(models.items.map { $0["name"] as? String } == ["team.flowers.classifier"])
            #expect(try await api.request(.get, "/api/v1/models?search=classif", token: seeded.admin).items.count == 1)
            #expect(try await api.request(.get, "/api/v1/models?search=zebra", token: seeded.admin).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/models/team.flowers.classifier/versions/9", token: seeded.admin).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func artifactsAreListedAndServedSafely(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let seeded = try await Self.seed(api)
            let b = seeded.runs["b"]!
            let root = try await api.request(.get, "/api/v1/runs/\(b)/artifacts", token: seeded.admin)
            let files = try #require(root.json["files"] as? [[String: Any]])
            #expect(files.map { $0["name"] as? String } == ["model", "notes.txt"], "folders first")
            #expect(files.first?["is_dir"] as? Bool == true)
            let folder = try await api.request(.get, "/api/v1/runs/\(b)/artifacts?path=model", token: seeded.admin)
            #expect((folder.json["files"] as? [[String: Any]])?.first?["path"] as? String == "model/conf.json")

            let text = try await api.request(.get, "/api/v1/runs/\(b)/artifacts/content?path=notes.txt", token: seeded.admin)
            #expect(text.text == "trained on iris\n")
            #expect(text.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(text.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
            for bad in ["../../etc/passwd", "model/../../x", "/etc/passwd%00"] {
                let refused = try await api.request(.get, "/api/v1/runs/\(b)/artifacts/content?path=" + Self.encode(bad), token: seeded.admin)
                #expect(refused.status == .badRequest || refused.status == .notFound, "\(bad): \(refused.status)")
                #expect(refused.status != .ok)
            }
            #expect(
                try await api.request(.get, "/api/v1/runs/\(b)/artifacts?path=" + Self.encode("a/../b"), token: seeded.admin).errorCode
                    == "invalid_path")
            #expect(try await api.request(.get, "/api/v1/runs/\(b)/artifacts/content?path=missing.txt", token: seeded.admin).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func outsidersSeeNothingOfAnotherNamespacesTracking(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let seeded = try await Self.seed(api)
            let mallory = try await api.user("mallory", adminToken: seeded.admin)
            let b = seeded.runs["b"]!
            for path in [
                "/api/v1/experiments/\(seeded.experiment)", "/api/v1/experiments/\(seeded.experiment)/runs", "/api/v1/runs/\(b)",
                "/api/v1/runs/\(b)/metrics?key=acc", "/api/v1/runs/\(b)/artifacts", "/api/v1/runs/\(b)/artifacts/content?path=notes.txt",
                "/api/v1/models/team.flowers.classifier", "/api/v1/models/team.flowers.classifier/versions/1", "/runs/\(b)",
                "/experiments/\(seeded.experiment)", "/models/team.flowers.classifier",
            ] {
                #expect(try await api.request(.get, path, token: mallory).status == .notFound, "\(path)")
            }
            #expect(try await api.request(.get, "/api/v1/models", token: mallory).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/experiments/\(seeded.experiment)").status == .unauthorized)
        }
    }

    @Test
    func pagesShowRunsTablesChartsArtifactsComparisonsAndLineage() async throws {
        try await TestPlatform.withAPI(.sqlite) { api in
            let seeded = try await Self.seed(api)
            let (a, b, c) = (seeded.runs["a"]!, seeded.runs["b"]!, seeded.runs["c"]!)

            let table = try await api.request(
                .get,
                "/experiments/\(seeded.experiment)?filter=" + Self.encode("params.optimizer = 'adam'") + "&order_by="
                    + Self.encode("metrics.acc ASC"), token: seeded.admin)
            #expect(table.status == .ok)
            let rows = table.text.components(separatedBy: "data-run=\"").dropFirst().map { String($0.prefix(32)) }
            #expect(rows == [c, b], "filtered to adam, ordered by accuracy")
            #expect(table.text.contains(">metrics.acc</a> ▲"), "the sorted column says so")

            let chosen = try await api.request(
                .get, "/experiments/\(seeded.experiment)?columns=1&param=lr", token: seeded.admin)
            #expect(chosen.text.contains(">params.lr</a>"))
            #expect(!chosen.text.contains(">metrics.acc</a>"), "only the chosen columns")

            let bad = try await api.request(.get, "/experiments/\(seeded.experiment)?filter=" + Self.encode("metrics.acc >> 1"), token: seeded.admin)
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("id=\"filter-error\""))

            let run = try await api.request(.get, "/runs/\(b)?file=model/conf.json&path=model", token: seeded.admin)
            #expect(run.status == .ok)
            #expect(run.text.contains("<svg"), "metric charts are drawn on the server")
            #expect(run.text.contains("<polyline"))
            #expect(run.text.contains("href=\"/namespaces/team/projects/flowers/datasets/iris?version=1\""), "the run links its dataset version")
            #expect(run.text.contains("href=\"/models/team.flowers.classifier/versions/1\""), "and the model version made from it")
            #expect(run.text.contains("&quot;depth&quot; : 3"), "JSON artifacts are previewed pretty-printed")
            #expect(run.text.contains("/runs/\(seeded.child)"), "child runs are linked")

            let compare = try await api.request(.get, "/compare?runs=\(a)&runs=\(b)&runs=\(c)", token: seeded.admin)
            #expect(compare.status == .ok)
            #expect(compare.text.contains("class=\"differs\" data-key=\"optimizer\""))
            #expect(compare.text.contains("class=\"\" data-key=\"lr\""), "equal params are not highlighted")
            #expect(compare.text.components(separatedBy: "<polyline").count - 1 >= 3, "one line per run on the shared chart")
            #expect(try await api.request(.get, "/compare?runs=\(a)", token: seeded.admin).status == .badRequest)

            // The dataset version b trained on links back to b's page and to the model version made from it.
            let (digest, uploaded) = try await DatasetAPITests.upload(api, DatasetAPITests.csv, token: seeded.admin)
            #expect(uploaded.status == .created)
            let made = try await api.request(
                .post, DatasetAPITests.base + "/iris/versions", token: seeded.admin,
                body: CreateVersionRequest(source: ImportSource(format: .csv, blob: digest, labelColumn: "species")))
            #expect(made.status == .created, "\(made.text)")
            let dataset = try await api.request(.get, "/namespaces/team/projects/flowers/datasets/iris?version=1", token: seeded.admin)
            #expect(dataset.status == .ok)
            #expect(dataset.text.contains("<a href=\"/runs/\(b)\""), "Used by links the run's page")
            #expect(dataset.text.contains("<a href=\"/models/team.flowers.classifier/versions/1\">"), "and the model version's registry page")

            let version = try await api.request(.get, "/models/team.flowers.classifier/versions/1", token: seeded.admin)
            #expect(version.text.contains("id=\"lineage-run\""))
            #expect(version.text.contains("/namespaces/team/projects/flowers/datasets/iris?version=1"))
            let project = try await api.request(.get, "/namespaces/team/projects/flowers", token: seeded.admin)
            #expect(project.text.contains("/experiments/\(seeded.experiment)"))
            #expect(project.text.contains("/models/team.flowers.classifier"))
        }
    }

    @Test
    func chartsSkipNonFiniteValuesThinLongHistoriesAndEscapeLabels() {
        let points = (0..<5000).map { (step: Double($0), value: $0 == 7 ? Double.nan : Double($0)) }
        let chart = MetricChart(title: "loss <val>", series: [.init(label: "run \"x\"", points: points)], maximumPoints: 100)
        let svg = chart.svg
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        #expect(svg.contains("loss &lt;val&gt;") && !svg.contains("<val>"))
        #expect(svg.contains("run &quot;x&quot;"))
        let coordinates = svg.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }.split(separator: " ")
        #expect(coordinates.count == 100, "thinned to the limit")
        #expect(!svg.contains("nan") && !svg.contains("NaN"))
        let empty = MetricChart(title: "x", series: [.init(label: "r", points: [(0, .nan)])]).svg
        #expect(empty.contains("no finite values"))
        let flat = MetricChart(title: "x", series: [.init(label: "r", points: [(0, 1), (1, 1)])]).svg
        #expect(!flat.contains("inf") && !flat.contains("nan"), "a flat line still has a scale")
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
