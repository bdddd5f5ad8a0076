import SlipwayTracking
import Testing

/// MLflow's search grammar over runs and experiments: every key kind, comparator and quoting style;
/// errors that say what is wrong; orderings with missing values; page tokens bound to their query.
@Suite("MLflow search grammar")
struct RunSearchTests {
    static let runs: [RunSearchFields] = [
        RunSearchFields(
            runID: "a1", runName: "alpha", experimentID: "1", status: "FINISHED", startTime: 100, endTime: 200, artifactURI: "x", userID: "ana",
            lifecycleStage: "active", metrics: ["acc": 0.91, "my metric": 3], params: ["lr": "0.01", "model": "resnet"],
            tags: ["team": "vision", "mlflow.runName": "alpha"],
            datasets: [DatasetInputFields(name: "iris", digest: "d1", context: "training")]),
        RunSearchFields(
            runID: "b2", runName: "beta", experimentID: "1", status: "RUNNING", startTime: 300, endTime: nil, artifactURI: "x", userID: "bob",
            lifecycleStage: "active", metrics: ["acc": 0.75], params: ["lr": "0.1", "model": "ResNet-50"], tags: ["team": "nlp"]),
        RunSearchFields(
            runID: "c3", runName: "gamma", experimentID: "1", status: "FAILED", startTime: 200, endTime: 250, artifactURI: "x", userID: "ana",
            lifecycleStage: "active", metrics: ["acc": .nan], params: ["lr": "0.01"], tags: [:],
            datasets: [DatasetInputFields(name: "digits", digest: "d2", context: "evaluation")]),
    ]

    static func matching(_ filter: String) throws -> [String] {
        let parsed = try RunFilter.parse(filter)
        return runs.filter { parsed.matches($0) }.map(\.runID)
    }

    @Test(arguments: [
        ("", ["a1", "b2", "c3"]),
        ("metrics.acc > 0.8", ["a1"]),
        ("metric.acc >= 0.75 and metrics.acc < 0.95", ["a1", "b2"]),
        ("metrics.acc != 0.91", ["b2"]),
        ("metrics.`my metric` = 3", ["a1"]),
        ("metrics.\"my metric\" = 3", ["a1"]),
        ("params.lr = '0.01'", ["a1", "c3"]),
        ("params.lr = \"0.01\" AND tags.team = 'vision'", ["a1"]),
        ("params.model LIKE 'Res%'", ["b2"]),
        ("params.model ILIKE 'res%'", ["a1", "b2"]),
        ("params.model LIKE '%net'", ["a1"]),
        ("params.model LIKE 'resne_'", ["a1"]),
        ("tags.team != 'vision'", ["b2"]),
        ("tags.`mlflow.runName` = 'alpha'", ["a1"]),
        ("tags.team IS NULL", ["c3"]),
        ("params.model IS NOT NULL", ["a1", "b2"]),
        ("attributes.status = 'FINISHED'", ["a1"]),
        ("status != 'FINISHED'", ["b2", "c3"]),
        ("attributes.run_name ILIKE 'GAM%'", ["c3"]),
        ("attributes.run_id IN ('a1', 'c3')", ["a1", "c3"]),
        ("run_id NOT IN ('a1')", ["b2", "c3"]),
        ("attributes.start_time >= 200", ["b2", "c3"]),
        ("attributes.end_time < 220", ["a1"]),
        ("attributes.user_id = 'ana' AND metrics.acc > 0", ["a1"]),
        ("datasets.name = 'iris'", ["a1"]),
        ("datasets.context IN ('training', 'evaluation')", ["a1", "c3"]),
        ("datasets.digest LIKE 'd%'", ["a1", "c3"]),
        ("metrics.missing > 0", []),
    ])
    func filtersMatchAsMLflowDoes(filter: String, expected: [String]) throws {
        #expect(try Self.matching(filter) == expected, "\(filter)")
    }

    @Test(arguments: [
        ("metrics.acc >>> 1", "comparator"),
        ("metrics.acc ~ 1", "unexpected character"),
        ("metrics.acc LIKE '0.9'", "invalid comparator 'LIKE' for metric"),
        ("params.lr > '0.1'", "invalid comparator '>' for param"),
        ("metrics.acc > 'high'", "is not a number"),
        ("params.lr = 0.1", "must be a quoted string"),
        ("attributes.color = 'red'", "invalid attribute 'color'"),
        ("params.lr = '0.1' OR params.lr = '1'", "OR is not supported"),
        ("params.lr = '0.1", "is not closed"),
        ("metrics.acc >", "expected a value"),
        ("metrics.acc", "expected a comparator"),
        ("params.lr = '1' params.x = '2'", "expected AND"),
        ("attributes.run_id IN ('a', 'b'", "not closed"),
        ("metrics.acc IN ('1')", "IN applies to strings"),
        ("datasets.size = '1'", "invalid dataset key"),
    ])
    func badFiltersSayWhatIsWrong(filter: String, message: String) {
        #expect {
            _ = try RunFilter.parse(filter)
        } throws: { error in
            (error as? SearchSyntaxError)?.description.contains(message) == true
        }
    }

    @Test func noInputCrashesTheParser() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("metrics.acc params tags attributes ` ' \" = != < > ( ) , IN NOT IS NULL AND LIKE 0.5 -1e3 % _ \\")
        for _ in 0..<2000 {
            let text = String((0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            _ = try? RunFilter.parse(text)
            _ = try? RunOrdering.parse([text])
        }
    }

    @Test func orderingPutsMissingValuesLastInBothDirections() throws {
        func order(_ items: [String]) throws -> [String] {
            try RunOrdering.parse(items).sorted(Self.runs) { $0 }.map(\.runID)
        }
        #expect(try order(["metrics.acc DESC"]) == ["a1", "b2", "c3"], "NaN sorts with the missing")
        #expect(try order(["metrics.acc ASC"]) == ["b2", "a1", "c3"])
        #expect(try order(["metrics.acc"]) == ["b2", "a1", "c3"])
        #expect(try order(["params.model DESC"]) == ["a1", "b2", "c3"])
        #expect(try order(["params.lr", "attributes.start_time DESC"]) == ["c3", "a1", "b2"])
        #expect(try order([]) == ["b2", "c3", "a1"], "default: newest first")
        #expect(throws: SearchSyntaxError.self) { _ = try RunOrdering.parse(["metrics.acc SIDEWAYS"]) }
    }

    @Test func experimentFiltersSeeNamesTagsAndTimes() throws {
        let experiments = [
            ExperimentSearchFields(experimentID: "1", name: "search", creationTime: 5, lastUpdateTime: 9, lifecycleStage: "active", tags: ["k": "v"]),
            ExperimentSearchFields(experimentID: "2", name: "other", creationTime: 7, lastUpdateTime: 7, lifecycleStage: "active", tags: [:]),
        ]
        func names(_ filter: String, _ order: [String] = []) throws -> [String] {
            let parsed = try ExperimentFilter.parse(filter)
            return try ExperimentOrdering.parse(order).sorted(experiments.filter { parsed.matches($0) }) { $0 }.map(\.name)
        }
        #expect(try names("name LIKE 'sea%'") == ["search"])
        #expect(try names("attribute.creation_time > 6") == ["other"])
        #expect(try names("tags.k = 'v'") == ["search"])
        #expect(try names("") == ["other", "search"])
        #expect(try names("", ["name ASC"]) == ["other", "search"])
        #expect(throws: SearchSyntaxError.self) { _ = try ExperimentFilter.parse("metrics.acc > 1") }
    }

    @Test func pageTokensAreBoundToTheirQuery() throws {
        let token = PageToken(offset: 50, query: "runs|1|metrics.acc > 0").encoded
        #expect(try PageToken.decode(token, query: "runs|1|metrics.acc > 0").offset == 50)
        #expect(throws: SearchSyntaxError.self) { _ = try PageToken.decode(token, query: "runs|1|metrics.acc > 1") }
        #expect(throws: SearchSyntaxError.self) { _ = try PageToken.decode("not a token!", query: "q") }
        #expect(throws: SearchSyntaxError.self) { _ = try PageToken.decode("LTE6YWJj", query: "q") }
    }

    @Test
    func filtersAndOrderingsNameTheKeysTheyRead() throws {
        let filter = try RunFilter.parse(
            "metrics.acc > 0.5 AND params.lr IN ('0.1') AND tags.team IS NULL AND datasets.name = 'iris' AND status = 'FINISHED'")
        #expect(
            filter.keys == [
                SearchKey(kind: .metric, name: "acc"), SearchKey(kind: .param, name: "lr"), SearchKey(kind: .tag, name: "team"),
                SearchKey(kind: .dataset, name: "name"), SearchKey(kind: .attribute, name: "status"),
            ])
        #expect(try RunFilter.parse("").keys.isEmpty)
        let ordering = try RunOrdering.parse(["metrics.`my metric` DESC", "attributes.start_time"])
        #expect(ordering.keys == [SearchKey(kind: .metric, name: "my metric"), SearchKey(kind: .attribute, name: "start_time")])
    }
}
