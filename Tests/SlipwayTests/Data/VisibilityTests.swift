import Foundation
import HTTPTypes
import HummingbirdTesting
import SlipwayDomain
import SlipwayServer
import SlipwayStore
import Testing

/// Who sees a dataset, through the API: `private` (the project's members and the namespace's maintainers and
/// owners), `namespace` (every member of the namespace), `public` (every signed-in user); project membership, and
/// changing a dataset's visibility.
@Suite("Dataset visibility")
struct VisibilityTests {
    static let project = "/api/v1/namespaces/team/projects/vision"

    /// Namespace `team` (admin owns it) with project `vision` and three datasets, one per visibility, and users:
    /// `maint` (namespace maintainer), `member` (namespace developer and project developer), `dev` (namespace
    /// developer only), `watcher` (namespace viewer only), `stranger` (not in the namespace).
    static func setUp(_ api: APIClient) async throws -> [String: String] {
        let admin = try await api.token()
        #expect(try await api.request(.post, "/api/v1/namespaces", token: admin, json: #"{"name":"team"}"#).status == .created)
        #expect(try await api.request(.post, "/api/v1/namespaces/team/projects", token: admin, json: #"{"name":"vision"}"#).status == .created)
        var tokens = ["admin": admin]
        for (user, role) in [("maint", "maintainer"), ("member", "developer"), ("dev", "developer"), ("watcher", "viewer"), ("stranger", nil)] {
            tokens[user] = try await api.user(user, adminToken: admin)
            if let role {
                let added = try await api.request(.put, "/api/v1/namespaces/team/members/\(user)", token: admin, json: #"{"role":"\#(role)"}"#)
                #expect(added.status == .ok, "\(added.text)")
            }
        }
        let joined = try await api.request(.put, Self.project + "/members/member", token: admin, json: #"{"role":"developer"}"#)
        #expect(joined.status == .ok, "\(joined.text)")
        for visibility in Visibility.allCases {
            let created = try await api.request(
                .post, Self.project + "/datasets", token: admin,
                body: CreateDatasetRequest(name: "d-\(visibility.rawValue)", taskType: .unlabeled, visibility: visibility))
            #expect(created.status == .created, "\(created.text)")
        }
        return tokens
    }

    static func names(_ result: APIResult) -> Set<String> {
        Set(result.items.compactMap { ($0["name"] as? String) ?? (($0["dataset"] as? [String: Any])?["name"] as? String) })
    }

    @Test(arguments: TestBackend.available)
    func eachVisibilityShowsADatasetToItsOwnCircle(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let tokens = try await Self.setUp(api)
            let sees: [String: Set<String>] = [
                "admin": ["d-private", "d-namespace", "d-public"],
                "maint": ["d-private", "d-namespace", "d-public"],
                "member": ["d-private", "d-namespace", "d-public"],
                "dev": ["d-namespace", "d-public"],
                "watcher": ["d-namespace", "d-public"],
                "stranger": ["d-public"],
            ]
            for (user, visible) in sees {
                let token = try #require(tokens[user])
                for visibility in Visibility.allCases {
                    let name = "d-\(visibility.rawValue)"
                    let shown = try await api.request(.get, Self.project + "/datasets/\(name)", token: token)
                    #expect(shown.status == (visible.contains(name) ? .ok : .notFound), "\(user) reading \(name): \(shown.text)")
                    let versions = try await api.request(.get, Self.project + "/datasets/\(name)/versions", token: token)
                    #expect(versions.status == (visible.contains(name) ? .ok : .notFound), "\(user) listing versions of \(name)")
                }
                // Search across namespaces finds exactly what may be read.
                #expect(Self.names(try await api.request(.get, "/api/v1/datasets", token: token)) == visible, "\(user) searching")
                // The project's list: members of the namespace see it without the private dataset unless they may.
                let listed = try await api.request(.get, Self.project + "/datasets", token: token)
                if user == "stranger" {
                    #expect(listed.status == .notFound)
                } else {
                    #expect(Self.names(listed) == visible, "\(user) listing the project")
                }
            }
            // Someone who does not see the private dataset cannot tell it from a missing one.
            let hidden = try await api.request(.get, Self.project + "/datasets/d-private", token: try #require(tokens["dev"]))
            let missing = try await api.request(.get, Self.project + "/datasets/nothing-here", token: try #require(tokens["dev"]))
            #expect(hidden.errorCode == missing.errorCode)
            // A public dataset is read-only to outsiders, and what they cannot do looks like a missing namespace.
            let push = try await api.request(
                .post, Self.project + "/datasets/d-public/versions", token: try #require(tokens["stranger"]),
                json: #"{"source":{"format":"csv","blob":"\#(String(repeating: "0", count: 64))"}}"#)
            #expect(push.status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func projectRolesDecideWhatMembersMayDoAndVisibilityCanChange(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let tokens = try await Self.setUp(api)
            let (maint, member, dev, watcher) = (tokens["maint"]!, tokens["member"]!, tokens["dev"]!, tokens["watcher"]!)
            let privateDataset = Self.project + "/datasets/d-private"

            // A project developer may change the description of a private dataset, not its visibility.
            let described = try await api.request(.patch, privateDataset, token: member, json: #"{"description":"faces"}"#)
            #expect(described.status == .ok, "\(described.text)")
            #expect(described.json["description"] as? String == "faces")
            let widened = try await api.request(.patch, privateDataset, token: member, json: #"{"visibility":"public"}"#)
            #expect(widened.status == .forbidden)
            #expect(try await api.request(.patch, privateDataset, token: maint, json: #"{}"#).status == .badRequest)
            #expect(try await api.request(.patch, privateDataset, token: maint, json: #"{"visibility":"everyone"}"#).status == .badRequest)

            // A namespace maintainer opens it to the namespace: the viewer now reads it, and the change is audited.
            let opened = try await api.request(.patch, privateDataset, token: maint, json: #"{"visibility":"namespace"}"#)
            #expect(opened.json["visibility"] as? String == "namespace")
            #expect(try await api.request(.get, privateDataset, token: watcher).status == .ok)
            let audit = try await api.request(.get, "/api/v1/namespaces/team/audit", token: tokens["admin"]!)
            #expect(audit.items.contains { $0["action"] as? String == "dataset.update" })
            #expect(try await api.request(.patch, privateDataset, token: maint, json: #"{"visibility":"private"}"#).status == .ok)
            #expect(try await api.request(.get, privateDataset, token: watcher).status == .notFound)

            // Project members are managed by maintainers (of the namespace or the project), and must be namespace members.
            #expect(try await api.request(.put, Self.project + "/members/dev", token: member, json: #"{"role":"viewer"}"#).status == .forbidden)
            let stranger = try await api.request(.put, Self.project + "/members/stranger", token: maint, json: #"{"role":"viewer"}"#)
            #expect(stranger.status == .badRequest)
            #expect(stranger.errorCode == "not_a_member")
            #expect(try await api.request(.put, Self.project + "/members/dev", token: maint, json: #"{"role":"owner"}"#).status == .badRequest)
            #expect(try await api.request(.put, Self.project + "/members/dev", token: maint, json: #"{"role":"viewer"}"#).status == .ok)
            let members = try await api.request(.get, Self.project + "/members", token: watcher)
            #expect(Set(members.items.compactMap { "\($0["username"]!)=\($0["role"]!)" }) == ["member=developer", "dev=viewer"])
            // As a project viewer, dev reads the private dataset but may not import into it.
            #expect(try await api.request(.get, privateDataset, token: dev).status == .ok)
            let importing = try await api.request(
                .post, privateDataset + "/versions", token: dev,
                json: #"{"source":{"format":"csv","blob":"\#(String(repeating: "0", count: 64))"}}"#)
            #expect(importing.status == .forbidden)
            // dev leaves the project; gone again.
            #expect(try await api.request(.delete, Self.project + "/members/dev", token: dev).status == .noContent)
            #expect(try await api.request(.get, privateDataset, token: dev).status == .notFound)

            // Leaving the namespace ends the project membership too: coming back does not restore it.
            #expect(try await api.request(.delete, "/api/v1/namespaces/team/members/member", token: maint).status == .noContent)
            #expect(try await api.request(.put, "/api/v1/namespaces/team/members/member", token: maint, json: #"{"role":"developer"}"#).status == .ok)
            #expect(try await api.request(.get, privateDataset, token: member).status == .notFound)

            // A developer outside the project cannot create a private dataset they could not use, but can create
            // one for the namespace; making a project makes you its maintainer.
            let refused = try await api.request(
                .post, Self.project + "/datasets", token: dev, body: CreateDatasetRequest(name: "mine", taskType: .unlabeled))
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("slipway project member add team/vision dev"))
            let shared = try await api.request(
                .post, Self.project + "/datasets", token: dev, body: CreateDatasetRequest(name: "mine", taskType: .unlabeled, visibility: .namespace))
            #expect(shared.status == .created)
            #expect(try await api.request(.post, "/api/v1/namespaces/team/projects", token: dev, json: #"{"name":"own"}"#).status == .created)
            let own = try await api.request(
                .post, "/api/v1/namespaces/team/projects/own/datasets", token: dev, body: CreateDatasetRequest(name: "secret", taskType: .unlabeled))
            #expect(own.status == .created, "\(own.text)")
            #expect(try await api.request(.get, "/api/v1/namespaces/team/projects/own/datasets/secret", token: watcher).status == .notFound)
            #expect(
                try await api.request(.get, "/api/v1/namespaces/team/projects/own/members", token: dev).items.first?["role"] as? String
                    == "maintainer")

            // A job cannot read a private dataset its submitter does not see.
            var spec = JobSpec(name: "peek", command: "true", resources: ComputeResources(cpu: 1, memoryBytes: 64 << 20, gpu: 0))
            spec.inputs = [JobDatasetInput(name: "faces", dataset: "d-private")]
            let job = try await api.request(.post, Self.project + "/jobs", token: dev, body: spec)
            #expect(job.status == .notFound, "\(job.text)")
        }
    }
}
