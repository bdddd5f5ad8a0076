import Foundation
import HTTPTypes
import SlipwayDomain
import SlipwayServer
import Testing

/// Route by route: a user of one namespace can neither read nor change another's, and a viewer changes nothing.
@Suite("Tenancy isolation")
struct TenancyIsolationTests {
    /// Every namespace-scoped route, with a body that would succeed for a caller allowed to use it.
    struct ScopedRoute: Sendable, CustomTestStringConvertible {
        var method: HTTPRequest.Method
        var path: String
        var body: String?
        /// The least role that may use it; `nil` for administrators only.
        var minimumRole: Role?

        var testDescription: String { "\(method) \(path)" }
        func url(_ namespace: String) -> String { "/api/v1/namespaces/\(namespace)" + path }
    }

    static let routes: [ScopedRoute] = [
        .init(method: .get, path: "", minimumRole: .viewer),
        .init(method: .patch, path: "", body: #"{"description":"changed"}"#, minimumRole: .maintainer),
        .init(method: .delete, path: "", minimumRole: .owner),
        .init(method: .get, path: "/members", minimumRole: .viewer),
        .init(method: .put, path: "/members/dave", body: #"{"role":"viewer"}"#, minimumRole: .maintainer),
        .init(method: .delete, path: "/members/devon", minimumRole: .maintainer),
        .init(method: .get, path: "/quota", minimumRole: .viewer),
        .init(method: .put, path: "/quota", body: #"{"gpu":1}"#, minimumRole: nil),
        .init(method: .get, path: "/audit", minimumRole: .owner),
        .init(method: .get, path: "/projects", minimumRole: .viewer),
        .init(method: .post, path: "/projects", body: #"{"name":"new-project"}"#, minimumRole: .developer),
        .init(method: .get, path: "/projects/p1", minimumRole: .viewer),
        .init(method: .patch, path: "/projects/p1", body: #"{"description":"changed"}"#, minimumRole: .developer),
        .init(method: .delete, path: "/projects/p1", minimumRole: .maintainer),
    ]

    /// Namespace `team-a` (owner alice, viewer vera, developer devon) with project p1; namespace `team-b` owned by bob; user dave.
    struct World: Sendable {
        var api: APIClient
        var admin: String
        var alice: String
        var bob: String
        var vera: String

        static func make(_ api: APIClient) async throws -> World {
            let admin = try await api.token()
            let alice = try await api.user("alice", adminToken: admin)
            let bob = try await api.user("bob", adminToken: admin)
            let vera = try await api.user("vera", adminToken: admin)
            _ = try await api.user("devon", adminToken: admin)
            _ = try await api.user("dave", adminToken: admin)
            #expect(try await api.request(.post, "/api/v1/namespaces", token: alice, json: #"{"name":"team-a"}"#).status == .created)
            #expect(try await api.request(.post, "/api/v1/namespaces", token: bob, json: #"{"name":"team-b"}"#).status == .created)
            #expect(try await api.request(.put, "/api/v1/namespaces/team-a/members/vera", token: alice, json: #"{"role":"viewer"}"#).status == .ok)
            #expect(
                try await api.request(.put, "/api/v1/namespaces/team-a/members/devon", token: alice, json: #"{"role":"developer"}"#).status == .ok)
            #expect(try await api.request(.post, "/api/v1/namespaces/team-a/projects", token: alice, json: #"{"name":"p1"}"#).status == .created)
            return World(api: api, admin: admin, alice: alice, bob: bob, vera: vera)
        }

        /// Audit events of team-a, as the administrator sees them: any accepted change adds one.
        func auditCount() async throws -> Int {
            try await api.request(.get, "/api/v1/namespaces/team-a/audit?limit=500", token: admin).items.count
        }
    }

    @Test(arguments: routes)
    func outsiderGetsNotFoundAndChangesNothing(route: ScopedRoute) async throws {
        try await TestPlatform.withAPI { api in
            let world = try await World.make(api)
            let before = try await world.auditCount()
            let result = try await api.request(route.method, route.url("team-a"), token: world.bob, json: route.body)
            #expect(result.status == .notFound, "\(route.testDescription) as an outsider: \(result.text)")
            #expect(result.errorCode == "not_found")
            #expect(!result.text.contains("p1") && !result.text.contains("alice"), "nothing of team-a leaks")
            #expect(try await world.auditCount() == before)
            #expect(try await api.request(.get, "/api/v1/namespaces/team-a/projects/p1", token: world.alice).status == .ok)
        }
    }

    @Test(arguments: routes)
    func viewerReadsButCannotChange(route: ScopedRoute) async throws {
        try await TestPlatform.withAPI { api in
            let world = try await World.make(api)
            let before = try await world.auditCount()
            let result = try await api.request(route.method, route.url("team-a"), token: world.vera, json: route.body)
            if route.minimumRole == .viewer {
                #expect(result.status == .ok, "\(route.testDescription) as a viewer: \(result.text)")
            } else {
                #expect(result.status == .forbidden, "\(route.testDescription) as a viewer: \(result.text)")
                #expect(result.errorCode == "forbidden")
            }
            #expect(try await world.auditCount() == before, "a viewer's request changes nothing")
        }
    }

    @Test(arguments: routes)
    func unauthenticatedRequestsAreRefused(route: ScopedRoute) async throws {
        try await TestPlatform.withAPI { api in
            let result = try await api.request(route.method, route.url("team-a"), json: route.body)
            #expect(result.status == .unauthorized)
            #expect(result.errorCode == "unauthenticated")
            #expect(result.headers[.wwwAuthenticate] != nil)
        }
    }

    @Test func ownerMayUseEveryRouteExceptAdministratorOnes() async throws {
        try await TestPlatform.withAPI { api in
            let world = try await World.make(api)
            // In an order that keeps each route's target present.
            for route in Self.routes where route.method == .get || route.method == .put || route.method == .patch || route.method == .post {
                let result = try await api.request(route.method, route.url("team-a"), token: world.alice, json: route.body)
                if route.minimumRole == nil {
                    #expect(result.status == .forbidden, "\(route.testDescription): only administrators set quotas")
                } else {
                    #expect(result.status.code < 300, "\(route.testDescription) as owner: \(result.text)")
                }
            }
            #expect(try await api.request(.put, "/api/v1/namespaces/team-a/quota", token: world.admin, json: #"{"gpu":2,"cpu":8}"#).status == .ok)
            #expect(try await api.request(.get, "/api/v1/namespaces/team-a/quota", token: world.vera).json["gpu"] as? Int == 2)
        }
    }

    @Test func maintainersManageOnlyDevelopersAndViewers() async throws {
        try await TestPlatform.withAPI { api in
            let world = try await World.make(api)
            let maria = try await api.user("maria", adminToken: world.admin)
            #expect(
                try await api.request(.put, "/api/v1/namespaces/team-a/members/maria", token: world.alice, json: #"{"role":"maintainer"}"#).status
                    == .ok)
            let promote = try await api.request(.put, "/api/v1/namespaces/team-a/members/dave", token: maria, json: #"{"role":"owner"}"#)
            #expect(promote.status == .forbidden)
            let demoteOwner = try await api.request(.put, "/api/v1/namespaces/team-a/members/alice", token: maria, json: #"{"role":"viewer"}"#)
            #expect(demoteOwner.status == .forbidden)
            #expect(try await api.request(.put, "/api/v1/namespaces/team-a/members/dave", token: maria, json: #"{"role":"developer"}"#).status == .ok)
            // Any member may leave on their own; the last owner may not.
            #expect(try await api.request(.delete, "/api/v1/namespaces/team-a/members/vera", token: world.vera).status == .noContent)
            let lastOwner = try await api.request(.delete, "/api/v1/namespaces/team-a/members/alice", token: world.alice)
            #expect(lastOwner.status == .conflict)
            #expect(lastOwner.errorCode == "last_owner")
        }
    }

    @Test func usersSeeOnlyTheirOwnNamespacesTokensAndAccount() async throws {
        try await TestPlatform.withAPI { api in
            let world = try await World.make(api)
            let names = try await api.request(.get, "/api/v1/namespaces", token: world.bob).items.compactMap {
                ($0["namespace"] as? [String: Any])?["name"] as? String
            }
            #expect(names == ["team-b"])
            let adminNames = try await api.request(.get, "/api/v1/namespaces", token: world.admin).items.count
            #expect(adminNames == 2, "administrators see every namespace")

            let aliceTokens = try await api.request(.get, "/api/v1/tokens", token: world.alice).items
            let aliceTokenID = try #require(aliceTokens.first?["id"] as? String)
            #expect(try await api.request(.delete, "/api/v1/tokens/\(aliceTokenID)", token: world.bob).status == .notFound)
            #expect(try await api.request(.get, "/api/v1/me", token: world.alice).status == .ok, "alice's token still works")

            #expect(try await api.request(.get, "/api/v1/users", token: world.bob).status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/users/alice", token: world.bob).status == .notFound)
            #expect(try await api.request(.get, "/api/v1/users/bob", token: world.bob).status == .ok)
            #expect(try await api.request(.patch, "/api/v1/users/bob", token: world.bob, json: #"{"is_admin":true}"#).status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/audit", token: world.bob).status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/audit", token: world.admin).status == .ok)
        }
    }
}
