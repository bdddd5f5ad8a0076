import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayDomain
import SlipwayServer
import Testing

/// Version lifecycle and garbage collection: nothing a live version references is ever collected.
@Suite("Dataset lifecycle and garbage collection")
struct LifecycleTests {
    static let base = DatasetAPITests.base

    /// Pushes `text` as the next version of `dataset`.
    static func push(_ api: APIClient, _ dataset: String, _ text: String, token: String) async throws {
        let (digest, _) = try await DatasetAPITests.upload(api, text, token: token)
        let created = try await api.request(
            .post, base + "/\(dataset)/versions", token: token, body: CreateVersionRequest(source: ImportSource(format: .csv, blob: digest)))
        #expect(created.status == .created, "\(created.text)")
    }

    static func collect(_ api: APIClient, token: String, grace: Int = 0) async throws -> [String: Any] {
        let result = try await api.request(.post, "/api/v1/admin/gc", token: token, body: GarbageCollectionRequest(graceSeconds: grace))
        #expect(result.status == .ok, "\(result.text)")
        return result.json
    }

    @Test func versionsOnlyMoveForwardAndDeletedOnesAreGone() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            #expect(try await api.request(.post, Self.base, token: admin, json: #"{"name":"d","task_type":"unlabeled"}"#).status == .created)
            try await Self.push(api, "d", "x\n1\n", token: admin)
            try await Self.push(api, "d", "x\n2\n", token: admin)
            let deprecated = try await api.request(.put, Self.base + "/d/versions/1/state", token: admin, json: #"{"state":"deprecated"}"#)
            #expect(deprecated.json["state"] as? String == "deprecated")
            let back = try await api.request(.put, Self.base + "/d/versions/1/state", token: admin, json: #"{"state":"committed"}"#)
            #expect(back.status == .conflict)
            #expect(back.errorCode == "invalid_transition")
            #expect(try await api.request(.put, Self.base + "/d/versions/2/state", token: admin, json: #"{"state":"deleted"}"#).status == .ok)
            let gone = try await api.request(.get, Self.base + "/d/versions/2/records", token: admin)
            #expect(gone.status == .gone)
            #expect(gone.errorCode == "version_deleted")
            #expect(try await api.request(.get, Self.base + "/d", token: admin).json["latest_version"] as? Int == 1)
            #expect(try await api.request(.put, Self.base + "/d/versions/9/state", token: admin, json: #"{"state":"archived"}"#).status == .notFound)
        }
    }

    @Test func garbageCollectionKeepsEveryBlobALiveVersionReferencesEvenWhenShared() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            for name in ["first", "second"] {
                #expect(
                    try await api.request(.post, Self.base, token: admin, json: #"{"name":"\#(name)","task_type":"unlabeled"}"#).status == .created)
            }
            // The same file in two datasets shares its source blob and its shard.
            try await Self.push(api, "first", "x,y\n1,2\n3,4\n", token: admin)
            try await Self.push(api, "second", "x,y\n1,2\n3,4\n", token: admin)
            try await Self.push(api, "first", "x,y\n5,6\n", token: admin)
            let before = try DatasetAPITests.blobFileCount(api)

            let nothing = try await Self.collect(api, token: admin)
            #expect(nothing["deleted"] as? Int == 0)
            #expect(try DatasetAPITests.blobFileCount(api) == before)

            // Deleting the first dataset frees only what the second does not share.
            #expect(try await api.request(.delete, Self.base + "/first", token: admin).status == .noContent)
            let report = try await Self.collect(api, token: admin)
            #expect(report["deleted"] as? Int == 2, "the source and shard of first's second version: \(report)")
            let records = try await api.request(.get, Self.base + "/second/versions/1/records", token: admin)
            #expect(records.status == .ok)
            #expect(records.items.count == 2, "the shared data is intact")
            let exported = try await api.request(.get, Self.base + "/second/versions/1/export?format=csv", token: admin)
            #expect(exported.text == "id,x,y\nrow-1,1,2\nrow-2,3,4\n")
        }
    }

    @Test func garbageCollectionDuringAPushKeepsTheUploadedBlobs() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            #expect(try await api.request(.post, Self.base, token: admin, json: #"{"name":"d","task_type":"unlabeled"}"#).status == .created)
            // The push has uploaded its file but not yet asked for the version when a collection runs.
            let (digest, _) = try await DatasetAPITests.upload(api, "x\n1\n2\n", token: admin)
            let report = try await Self.collect(api, token: admin, grace: 3600)
            #expect(report["deleted"] as? Int == 0)
            #expect(report["kept_young"] as? Int == 0, "the upload is referenced by its namespace while young")
            let created = try await api.request(
                .post, Self.base + "/d/versions", token: admin, body: CreateVersionRequest(source: ImportSource(format: .csv, blob: digest)))
            #expect(created.status == .created)
            // Once committed, even a collection with no grace keeps it.
            #expect(try await Self.collect(api, token: admin)["deleted"] as? Int == 0)
            #expect(try await api.request(.get, Self.base + "/d/versions/1/export", token: admin).status == .ok)
        }
    }

    @Test func onlyAdministratorsCollectAndOnlyMaintainersChangeLifecycles() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let dev = try await api.user("dev", adminToken: admin)
            #expect(try await api.request(.put, "/api/v1/namespaces/team/members/dev", token: admin, json: #"{"role":"developer"}"#).status == .ok)
            #expect(
                try await api.request(.post, Self.base, token: dev, json: #"{"name":"d","task_type":"unlabeled","visibility":"namespace"}"#).status
                    == .created)
            try await Self.push(api, "d", "x\n1\n", token: dev)
            #expect(try await api.request(.put, Self.base + "/d/versions/1/state", token: dev, json: #"{"state":"deleted"}"#).status == .forbidden)
            #expect(try await api.request(.delete, Self.base + "/d", token: dev).status == .forbidden)
            #expect(try await api.request(.post, "/api/v1/admin/gc", token: dev, json: "{}").status == .forbidden)
        }
    }
}
