import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayData
import SlipwayDomain
import SlipwayServer
import SlipwayStore
import Testing

/// Drafts: the editable staging area before a commit. Records are added, removed and relabelled, then
/// committed as the next immutable version; bad edits change nothing; a draft's files survive GC.
@Suite("Dataset drafts")
struct DraftTests {
    static let base = DatasetAPITests.base
    static let draft = base + "/iris/draft"

    /// The `iris` dataset with version 1: three flowers labelled by species.
    static func irisWithOneVersion(_ api: APIClient) async throws -> String {
        let admin = try await DatasetAPITests.setUp(api)
        #expect(
            try await api.request(.post, base, token: admin, json: #"{"name":"iris","task_type":"tabular_classification"}"#).status == .created)
        let csv = "id,length,species\na,5.1,setosa\nb,6.2,versicolor\nc,7.3,virginica\n"
        let (digest, _) = try await DatasetAPITests.upload(api, csv, token: admin)
        let created = try await api.request(
            .post, base + "/iris/versions", token: admin,
            body: CreateVersionRequest(source: ImportSource(format: .csv, blob: digest, labelColumn: "species", idColumn: "id")))
        #expect(created.status == .created, "\(created.text)")
        return admin
    }

    static func record(_ id: String, length: Double, label: String) -> DatasetRecord {
        DatasetRecord(id: id, fields: ["length": .number(length)], annotations: [.imported(label: label)])
    }

    @Test(arguments: TestBackend.available)
    func editsInADraftAreCommittedAsTheNextVersion(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let admin = try await Self.irisWithOneVersion(api)
            let opened = try await api.request(.post, Self.draft, token: admin, json: "{}")
            #expect(opened.status == .created, "\(opened.text)")
            #expect(opened.json["base_version"] as? Int == 1)
            #expect(opened.json["record_count"] as? Int == 3)
            #expect(opened.json["state"] as? String == "draft")

            // Add a record, relabel one (a person's label is signed by the caller, whatever name it claims), remove one.
            let added = try await api.request(.put, Self.draft + "/records/d", token: admin, body: Self.record("d", length: 4.9, label: "setosa"))
            #expect(added.status == .ok, "\(added.text)")
            let relabel = AnnotationsRequest(annotations: [
                Annotation(kind: .classLabel, label: "virginica", source: AnnotationSource(kind: .human, user: "mallory"))
            ])
            let relabelled = try await api.request(.put, Self.draft + "/records/b/annotations", token: admin, body: relabel)
            #expect(relabelled.status == .ok, "\(relabelled.text)")
            let signed = try relabelled.decode(DatasetRecord.self)
            #expect(signed.annotations.first?.source.user == "admin")
            #expect(signed.fields["length"] == .number(6.2), "relabelling keeps the fields")
            #expect(try await api.request(.delete, Self.draft + "/records/c", token: admin).status == .noContent)

            let summary = try await api.request(.get, Self.draft, token: admin)
            #expect(summary.json["record_count"] as? Int == 3)
            #expect(summary.json["added"] as? Int == 1)
            #expect(summary.json["changed"] as? Int == 1)
            #expect(summary.json["removed"] as? Int == 1)
            let page = try await api.request(.get, Self.draft + "/records?limit=10", token: admin)
            #expect(page.items.map { $0["id"] as? String } == ["a", "b", "d"], "base records keep their order; new ones come last")

            let committed = try await api.request(.post, Self.draft + "/commit", token: admin, body: CommitDraftRequest(message: "relabel b"))
            #expect(committed.status == .created, "\(committed.text)")
            let detail = try committed.decode(DatasetVersionDetail.self)
            #expect(detail.version.number == 2)
            #expect(detail.version.message == "relabel b")
            #expect(detail.manifest.recordCount == 3)
            #expect(detail.manifest.statistics.classCounts == ["setosa": 2, "virginica": 1])
            #expect(detail.manifest.schema.classes == ["setosa", "virginica"])

            let diff = try await api.request(.get, Self.base + "/iris/diff?from=1&to=2", token: admin)
            #expect(diff.json["added"] as? Int == 1)
            #expect(diff.json["removed"] as? Int == 1)
            #expect(diff.json["changed"] as? Int == 1)
            let first = try await api.request(.get, Self.base + "/iris/versions/1/records", token: admin)
            #expect(first.items.count == 3, "version 1 is untouched")
            let closed = try await api.request(.get, Self.draft, token: admin)
            #expect(closed.status == .notFound)
            #expect(closed.errorCode == "no_draft")
        }
    }

    @Test func badEditsAreRefusedAndChangeNothing() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.irisWithOneVersion(api)
            #expect(try await api.request(.post, Self.draft, token: admin, json: "{}").status == .created)
            let again = try await api.request(.post, Self.draft, token: admin, json: "{}")
            #expect(again.status == .conflict)
            #expect(again.errorCode == "draft_exists")
            let revision = try await api.request(.get, Self.draft, token: admin).json["revision"] as? Int

            let mismatch = try await api.request(.put, Self.draft + "/records/x", token: admin, body: Self.record("y", length: 1, label: "setosa"))
            #expect(mismatch.status == .badRequest)
            var wrongType = Self.record("x", length: 1, label: "setosa")
            wrongType.fields["length"] = .string("long")
            let typed = try await api.request(.put, Self.draft + "/records/x", token: admin, body: wrongType)
            #expect(typed.status == .badRequest)
            #expect(typed.errorCode == "invalid_record")
            var withFile = Self.record("x", length: 1, label: "setosa")
            withFile.file = RecordFile(sha256: String(repeating: "ab", count: 32), size: 3, mediaType: "image/png", path: "x.png")
            let missing = try await api.request(.put, Self.draft + "/records/x", token: admin, body: withFile)
            #expect(missing.status == .badRequest)
            #expect(missing.errorCode == "blob_missing")
            let noBox = AnnotationsRequest(annotations: [Annotation(kind: .box, label: "setosa", source: .imported)])
            #expect(try await api.request(.put, Self.draft + "/records/a/annotations", token: admin, body: noBox).status == .badRequest)
            #expect(try await api.request(.delete, Self.draft + "/records/zzz", token: admin).status == .notFound)
            #expect(try await api.request(.put, Self.draft + "/records/zzz/annotations", token: admin, body: noBox).status == .notFound)

            let viewer = try await api.user("vera", adminToken: admin)
            #expect(try await api.request(.put, "/api/v1/namespaces/team/members/vera", token: admin, json: #"{"role":"viewer"}"#).status == .ok)
            // The dataset is private: a viewer of the namespace sees it once a member of its project.
            #expect(try await api.request(.get, Self.draft, token: viewer).status == .notFound)
            #expect(
                try await api.request(.put, "/api/v1/namespaces/team/projects/flowers/members/vera", token: admin, json: #"{"role":"viewer"}"#)
                    .status == .ok)
            #expect(try await api.request(.get, Self.draft, token: viewer).status == .ok)
            #expect(try await api.request(.delete, Self.draft + "/records/a", token: viewer).status == .forbidden)

            let after = try await api.request(.get, Self.draft, token: admin)
            #expect(after.json["revision"] as? Int == revision, "no refused edit touched the draft")
            #expect(after.json["record_count"] as? Int == 3)
        }
    }

    @Test func anEmptyDraftNeedsRecordsAndGrowsItsSchemaFromThem() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.irisWithOneVersion(api)
            #expect(try await api.request(.post, Self.draft, token: admin, json: #"{"empty":true}"#).status == .created)
            let empty = try await api.request(.post, Self.draft + "/commit", token: admin, json: "{}")
            #expect(empty.status == .badRequest)
            #expect(empty.errorCode == "draft_empty")
            // Ids with a slash travel percent-encoded.
            var record = DatasetRecord(id: "cats/001", fields: ["weight": .integer(4), "indoor": .bool(true)])
            record.annotations = [.imported(label: "cat")]
            let put = try await api.request(.put, Self.draft + "/records/cats%2F001", token: admin, body: record)
            #expect(put.status == .ok, "\(put.text)")
            #expect(try await api.request(.get, Self.draft + "/records/cats%2F001", token: admin).json["id"] as? String == "cats/001")
            let schema = try await api.request(.get, Self.draft, token: admin).decode(DatasetDraft.self).schema
            #expect(schema.fields == [FieldSpec(name: "indoor", type: .boolean), FieldSpec(name: "weight", type: .integer)])
            let committed = try await api.request(.post, Self.draft + "/commit", token: admin, json: "{}")
            #expect(committed.status == .created, "\(committed.text)")
            #expect(try committed.decode(DatasetVersionDetail.self).manifest.recordCount == 1)
        }
    }

    @Test func importingAFileIntoTheDraftAddsAndReplacesRecords() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.irisWithOneVersion(api)
            #expect(try await api.request(.post, Self.draft, token: admin, json: #"{"from_version":1}"#).status == .created)
            let (digest, _) = try await DatasetAPITests.upload(api, "id,length,species\nc,7.0,setosa\ne,3.3,setosa\n", token: admin)
            let imported = try await api.request(
                .post, Self.draft + "/import", token: admin,
                body: ImportSource(format: .csv, blob: digest, labelColumn: "species", idColumn: "id"))
            #expect(imported.status == .ok, "\(imported.text)")
            #expect(imported.json["added"] as? Int == 1)
            #expect(imported.json["replaced"] as? Int == 1)
            let c = try await api.request(.get, Self.draft + "/records/c", token: admin).decode(DatasetRecord.self)
            #expect(c.classLabel == "setosa")
            let (clash, _) = try await DatasetAPITests.upload(api, "id,length\nf,long\n", token: admin)
            let refused = try await api.request(
                .post, Self.draft + "/import", token: admin, body: ImportSource(format: .csv, blob: clash, idColumn: "id"))
            #expect(refused.status == .badRequest)
            #expect(refused.errorCode == "schema_conflict")
            #expect(try await api.request(.get, Self.draft, token: admin).json["record_count"] as? Int == 4)
        }
    }

    @Test func aDraftsFilesSurviveGarbageCollectionUntilItIsDiscarded() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.irisWithOneVersion(api)
            #expect(try await api.request(.post, Self.draft, token: admin, json: "{}").status == .created)
            let (digest, _) = try await DatasetAPITests.upload(api, "pretend these are image bytes", token: admin)
            var record = Self.record("e", length: 2, label: "setosa")
            record.file = RecordFile(sha256: digest, size: 29, mediaType: "image/png", path: "e.png")
            #expect(try await api.request(.put, Self.draft + "/records/e", token: admin, body: record).status == .ok)

            _ = try await LifecycleTests.collect(api, token: admin, grace: 0)
            let kept = try await api.request(.get, "/api/v1/namespaces/team/blobs/\(digest)", token: admin)
            #expect(kept.status == .ok, "a draft's file is kept however old its upload")

            #expect(try await api.request(.delete, Self.draft, token: admin).status == .noContent)
            _ = try await LifecycleTests.collect(api, token: admin, grace: 0)
            #expect(try await api.request(.get, "/api/v1/namespaces/team/blobs/\(digest)", token: admin).status == .notFound)
        }
    }

    @Test func aCommitRacingAnEditIsRefused() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.irisWithOneVersion(api)
            #expect(try await api.request(.post, Self.draft, token: admin, json: "{}").status == .created)
            let store = api.platform.store
            let namespace = try #require(try await store.namespaces.namespace(named: "team"))
            let project = try #require(try await store.projects.project(named: "flowers", in: namespace))
            let dataset = try #require(try await store.datasets.dataset(named: "iris", in: project))
            let stale = try #require(try await store.drafts.draft(of: dataset)).revision
            #expect(try await api.request(.delete, Self.draft + "/records/a", token: admin).status == .noContent)
            await #expect(throws: StoreError.self) {
                _ = try await store.drafts.commit(
                    dataset, revision: stale, manifestJSON: "{}", recordCount: 0, message: "", digests: [], by: .system)
            }
            #expect(try await api.request(.get, Self.base + "/iris/versions", token: admin).items.count == 1, "no version was written")
        }
    }
}
