import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayBlobs
import SlipwayDomain
import SlipwayServer
import SlipwayStore
import Testing

/// Datasets through the REST API: uploads by digest, importing versions, browsing and exporting, tenancy.
@Suite("Dataset API")
struct DatasetAPITests {
    static let csv = """
        sepal_length,sepal_width,species
        5.1,3.5,setosa
        4.9,3.0,setosa
        7.0,3.2,versicolor
        6.3,3.3,virginica

        """

    static let base = "/api/v1/namespaces/team/projects/flowers/datasets"

    /// Namespace `team` with project `flowers`, as the admin; returns the admin's token.
    static func setUp(_ api: APIClient) async throws -> String {
        let admin = try await api.token()
        #expect(try await api.request(.post, "/api/v1/namespaces", token: admin, json: #"{"name":"team"}"#).status == .created)
        #expect(try await api.request(.post, "/api/v1/namespaces/team/projects", token: admin, json: #"{"name":"flowers"}"#).status == .created)
        return admin
    }

    static func upload(_ api: APIClient, _ text: String, namespace: String = "team", token: String) async throws -> (String, APIResult) {
        let digest = sha256Hex(text)
        let response = try await api.client.execute(
            uri: "/api/v1/namespaces/\(namespace)/blobs/\(digest)", method: .put, headers: [.authorization: "Bearer \(token)"],
            body: ByteBuffer(string: text))
        return (digest, APIResult(status: response.status, headers: response.headers, body: response.body))
    }

    static func blobFileCount(_ api: APIClient) throws -> Int {
        let folder = api.platform.configuration.dataDirectory.appendingPathComponent("blobs/sha256")
        return FileManager.default.enumerator(atPath: folder.path)?.allObjects.compactMap { $0 as? String }
            .filter { $0.split(separator: "/").count == 3 }.count ?? 0
    }

    @Test(arguments: TestBackend.available)
    func pushingACSVMakesAVersionWithSchemaStatisticsRecordsAndExport(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let admin = try await Self.setUp(api)
            #expect(
                try await api.request(.post, Self.base, token: admin, json: #"{"name":"iris","task_type":"tabular_classification"}"#).status
                    == .created)

            let digest = sha256Hex(Self.csv)
            let check = try await api.request(.post, "/api/v1/namespaces/team/blobs/check", token: admin, body: BlobCheckRequest(digests: [digest]))
            #expect(try check.decode(BlobCheckResponse.self).missing == [digest])
            let (_, uploaded) = try await Self.upload(api, Self.csv, token: admin)
            #expect(uploaded.status == .created)

            let source = ImportSource(format: .csv, blob: digest, labelColumn: "species")
            let created = try await api.request(
                .post, Self.base + "/iris/versions", token: admin, body: CreateVersionRequest(source: source, message: "first"))
            #expect(created.status == .created, "\(created.text)")
            let detail = created.json
            let manifest = try #require(detail["manifest"] as? [String: Any])
            #expect(manifest["record_count"] as? Int == 4)
            let statistics = try #require(manifest["statistics"] as? [String: Any])
            #expect(statistics["class_counts"] as? [String: Int] == ["setosa": 2, "versicolor": 1, "virginica": 1])
            let schema = try #require(manifest["schema"] as? [String: Any])
            #expect(schema["classes"] as? [String] == ["setosa", "versicolor", "virginica"])

            let records = try await api.request(.get, Self.base + "/iris/versions/1/records?offset=1&limit=2", token: admin)
            #expect(records.items.map { $0["id"] as? String } == ["row-2", "row-3"])
            #expect(records.json["total"] as? Int == 4)

            let exported = try await api.request(.get, Self.base + "/iris/versions/latest/export?format=csv", token: admin)
            #expect(exported.status == .ok)
            #expect(exported.text.hasPrefix("id,sepal_length,sepal_width,label\nrow-1,5.1,3.5,setosa\n"))
            #expect(exported.text.split(separator: "\n").count == 5)

            // Re-pushing the unchanged file: nothing to upload, and a new version writes no new blob.
            let blobsBefore = try Self.blobFileCount(api)
            let recheck = try await api.request(.post, "/api/v1/namespaces/team/blobs/check", token: admin, body: BlobCheckRequest(digests: [digest]))
            #expect(try recheck.decode(BlobCheckResponse.self).missing.isEmpty)
            let second = try await api.request(.post, Self.base + "/iris/versions", token: admin, body: CreateVersionRequest(source: source))
            #expect(second.status == .created)
            #expect(try Self.blobFileCount(api) == blobsBefore)
            let versions = try await api.request(.get, Self.base + "/iris/versions", token: admin).items.map { $0["number"] as? Int }
            #expect(versions == [2, 1])
            let dataset = try await api.request(.get, Self.base + "/iris", token: admin)
            #expect(dataset.json["latest_version"] as? Int == 2)
        }
    }

    @Test func diffComparesTwoVersionsRecordByRecord() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.setUp(api)
            #expect(
                try await api.request(.post, Self.base, token: admin, json: #"{"name":"d","task_type":"tabular_classification"}"#).status == .created)
            for text in ["id,x,label\na,1,cat\nb,2,dog\nc,3,dog\n", "id,x,label\na,1,cat\nc,30,dog\nd,4,cat\n"] {
                let (digest, _) = try await Self.upload(api, text, token: admin)
                let created = try await api.request(
                    .post, Self.base + "/d/versions", token: admin,
                    body: CreateVersionRequest(source: ImportSource(format: .csv, blob: digest, labelColumn: "label", idColumn: "id")))
                #expect(created.status == .created, "\(created.text)")
            }
            let diff = try await api.request(.get, Self.base + "/d/diff?from=1&to=latest", token: admin).json
            #expect(diff["added"] as? Int == 1 && diff["removed"] as? Int == 1 && diff["changed"] as? Int == 1 && diff["unchanged"] as? Int == 1)
            #expect(diff["changed_sample"] as? [String] == ["c"])
            #expect(diff["class_counts_after"] as? [String: Int] == ["cat": 2, "dog": 1])
            let missing = try await api.request(.get, Self.base + "/d/diff?from=1&to=9", token: admin)
            #expect(missing.status == .notFound)
            #expect(try await api.request(.get, Self.base + "/d/diff?from=1", token: admin).status == .badRequest)
        }
    }

    @Test func anUploadWhoseBytesDoNotMatchTheDigestStoresNothing() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.setUp(api)
            let wrong = sha256Hex("something else")
            let response = try await api.client.execute(
                uri: "/api/v1/namespaces/team/blobs/\(wrong)", method: .put, headers: [.authorization: "Bearer \(admin)"],
                body: ByteBuffer(string: "actual bytes"))
            #expect(response.status == .badRequest)
            #expect(try Self.blobFileCount(api) == 0)
            let check = try await api.request(.post, "/api/v1/namespaces/team/blobs/check", token: admin, body: BlobCheckRequest(digests: [wrong]))
            #expect(try check.decode(BlobCheckResponse.self).missing == [wrong])
            let bad = try await api.request(.put, "/api/v1/namespaces/team/blobs/not-a-digest", token: admin, json: "x")
            #expect(bad.errorCode == "invalid_digest")
        }
    }

    @Test func anotherNamespaceNeitherSeesNorUsesTheBlobsOfThisOne() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.setUp(api)
            let (digest, _) = try await Self.upload(api, Self.csv, token: admin)
            let bob = try await api.user("bob", adminToken: admin)
            #expect(try await api.request(.post, "/api/v1/namespaces", token: bob, json: #"{"name":"other"}"#).status == .created)
            #expect(try await api.request(.post, "/api/v1/namespaces/other/projects", token: bob, json: #"{"name":"p"}"#).status == .created)
            let check = try await api.request(.post, "/api/v1/namespaces/other/blobs/check", token: bob, body: BlobCheckRequest(digests: [digest]))
            #expect(try check.decode(BlobCheckResponse.self).missing == [digest], "existence in another tenant is not revealed")
            #expect(try await api.request(.get, "/api/v1/namespaces/other/blobs/\(digest)", token: bob).status == .notFound)
            #expect(try await api.request(.get, "/api/v1/namespaces/team/blobs/\(digest)", token: bob).status == .notFound)
            #expect(
                try await api.request(
                    .post, "/api/v1/namespaces/other/projects/p/datasets", token: bob, json: #"{"name":"d","task_type":"unlabeled"}"#
                ).status == .created)
            let stolen = try await api.request(
                .post, "/api/v1/namespaces/other/projects/p/datasets/d/versions", token: bob,
                body: CreateVersionRequest(source: ImportSource(format: .csv, blob: digest)))
            #expect(stolen.status == .badRequest)
            #expect(stolen.errorCode == "blob_missing")
            // Uploading the same bytes proves possession; then it may be used.
            let (_, own) = try await Self.upload(api, Self.csv, namespace: "other", token: bob)
            #expect(own.status == .created)
            #expect(try await api.request(.get, "/api/v1/namespaces/other/blobs/\(digest)", token: bob).text == Self.csv)
        }
    }

    @Test func publicDatasetsAreReadableByEveryoneAndPrivateOnesAreNot() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.setUp(api)
            let eve = try await api.user("eve", adminToken: admin)
            #expect(
                try await api.request(
                    .post, Self.base, token: admin,
                    json: #"{"name":"open","task_type":"unlabeled","visibility":"public","description":"Shared flowers"}"#
                ).status == .created)
            #expect(try await api.request(.post, Self.base, token: admin, json: #"{"name":"closed","task_type":"unlabeled"}"#).status == .created)
            #expect(try await api.request(.get, Self.base + "/open", token: eve).status == .ok)
            #expect(try await api.request(.get, Self.base + "/closed", token: eve).status == .notFound)
            #expect(try await api.request(.get, Self.base, token: eve).status == .notFound, "listing a project needs membership")
            func found(_ query: String, token: String) async throws -> [String] {
                try await api.request(.get, "/api/v1/datasets" + query, token: token).items.compactMap { item in
                    guard let dataset = item["dataset"] as? [String: Any] else { return nil }
                    return "\(item["namespace"] ?? "")/\(item["project"] ?? "")/\(dataset["name"] ?? "")"
                }
            }
            #expect(try await found("?search=flowers", token: eve) == ["team/flowers/open"], "a stranger finds only public datasets")
            #expect(try await found("?search=FLOW", token: admin) == ["team/flowers/open"], "matches the description, in any case")
            #expect(try await found("", token: admin) == ["team/flowers/closed", "team/flowers/open"])
            #expect(try await found("", token: eve) == ["team/flowers/open"])
            #expect(try await found("?search=nothing-like-it", token: admin).isEmpty)
            // A member of the namespace finds its private datasets once a member of their project too.
            let mia = try await api.user("mia", adminToken: admin)
            #expect(try await api.request(.put, "/api/v1/namespaces/team/members/mia", token: admin, json: #"{"role":"viewer"}"#).status == .ok)
            #expect(try await found("?search=clo", token: mia).isEmpty)
            #expect(
                try await api.request(.put, "/api/v1/namespaces/team/projects/flowers/members/mia", token: admin, json: #"{"role":"viewer"}"#)
                    .status == .ok)
            #expect(try await found("?search=clo", token: mia) == ["team/flowers/closed"])
            let write = try await api.request(
                .post, Self.base + "/open/versions", token: eve,
                body: CreateVersionRequest(source: ImportSource(format: .csv, blob: sha256Hex("x"))))
            #expect(write.status == .notFound, "public means readable, not writable")

            // The files of a public version are readable too; other blobs of the namespace stay hidden.
            let (image, _) = try await Self.upload(api, "pretend image bytes", token: admin)
            let (secret, _) = try await Self.upload(api, "private bytes", token: admin)
            let line =
                #"{"id": "a", "file": {"sha256": "\#(image)", "size": 19, "media_type": "image/png", "path": "a.png"}, "fields": {}, "annotations": []}"#
            let (records, _) = try await Self.upload(api, line + "\n", token: admin)
            let imported = try await api.request(
                .post, Self.base + "/open/versions", token: admin, body: CreateVersionRequest(source: ImportSource(format: .jsonl, blob: records)))
            #expect(imported.status == .created, "\(imported.text)")
            #expect(try await api.request(.get, "/api/v1/namespaces/team/blobs/\(image)", token: eve).text == "pretend image bytes")
            #expect(try await api.request(.get, "/api/v1/namespaces/team/blobs/\(secret)", token: eve).status == .notFound)
        }
    }

    @Test func aFileThatCannotBeImportedIsExplainedAndCreatesNoVersion() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.setUp(api)
            #expect(
                try await api.request(.post, Self.base, token: admin, json: #"{"name":"broken","task_type":"tabular_regression"}"#).status == .created
            )
            let (digest, _) = try await Self.upload(api, "a,b\n1,2\n3\n", token: admin)
            let result = try await api.request(
                .post, Self.base + "/broken/versions", token: admin,
                body: CreateVersionRequest(source: ImportSource(format: .csv, blob: digest)))
            #expect(result.status == .badRequest)
            #expect(result.errorCode == "invalid_data")
            #expect(result.text.contains("line 3"))
            #expect(try await api.request(.get, Self.base + "/broken/versions", token: admin).items.isEmpty)
            let missing = try await api.request(.get, Self.base + "/broken/versions/1", token: admin)
            #expect(missing.status == .notFound)
        }
    }

    @Test func aProjectHoldingDatasetsCannotBeDeleted() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.setUp(api)
            #expect(try await api.request(.post, Self.base, token: admin, json: #"{"name":"kept","task_type":"unlabeled"}"#).status == .created)
            let delete = try await api.request(.delete, "/api/v1/namespaces/team/projects/flowers", token: admin)
            #expect(delete.status == .conflict)
            #expect(delete.errorCode == "project_not_empty")
        }
    }
}
