import Foundation
import HTTPTypes
import SQLKit
import SlipwayDomain
import SlipwayServer
import SlipwayStore
import Testing

/// Every malformed request gets a 4xx with a code and a sentence, and changes nothing.
@Suite("Bad input")
struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var method: HTTPRequest.Method
        var path: String
        var body: String?
        var status: HTTPResponse.Status
        var code: String
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        .init(label: "malformed JSON", method: .post, path: "/api/v1/namespaces", body: #"{"name": "#, status: .badRequest, code: "invalid_json"),
        .init(label: "empty body", method: .post, path: "/api/v1/namespaces", body: "", status: .badRequest, code: "invalid_json"),
        .init(label: "array instead of object", method: .post, path: "/api/v1/namespaces", body: "[]", status: .badRequest, code: "invalid_json"),
        .init(label: "missing field", method: .post, path: "/api/v1/namespaces", body: "{}", status: .badRequest, code: "missing_field"),
        .init(label: "wrong type", method: .post, path: "/api/v1/namespaces", body: #"{"name": 5}"#, status: .badRequest, code: "invalid_field"),
        .init(label: "null name", method: .post, path: "/api/v1/namespaces", body: #"{"name": null}"#, status: .badRequest, code: "invalid_field"),
        .init(
            label: "uppercase name", method: .post, path: "/api/v1/namespaces", body: #"{"name": "Team"}"#, status: .badRequest, code: "invalid_name"),
        .init(
            label: "name with space", method: .post, path: "/api/v1/namespaces", body: #"{"name": "bad name"}"#, status: .badRequest,
            code: "invalid_name"),
        .init(
            label: "name starting with dash", method: .post, path: "/api/v1/namespaces", body: #"{"name": "-x"}"#, status: .badRequest,
            code: "invalid_name"),
        .init(
            label: "64-character name", method: .post, path: "/api/v1/namespaces", body: #"{"name": "\#(String(repeating: "a", count: 64))"}"#,
            status: .badRequest, code: "invalid_name"),
        .init(
            label: "duplicate namespace", method: .post, path: "/api/v1/namespaces", body: #"{"name": "existing"}"#, status: .conflict,
            code: "already_exists"),
        .init(
            label: "duplicate project", method: .post, path: "/api/v1/namespaces/existing/projects", body: #"{"name": "p1"}"#,
            status: .conflict, code: "already_exists"),
        .init(
            label: "invalid project name", method: .post, path: "/api/v1/namespaces/existing/projects", body: #"{"name": "P_1"}"#,
            status: .badRequest, code: "invalid_name"),
        .init(
            label: "unknown role", method: .put, path: "/api/v1/namespaces/existing/members/admin", body: #"{"role": "god"}"#,
            status: .badRequest, code: "invalid_field"),
        .init(
            label: "negative quota", method: .put, path: "/api/v1/namespaces/existing/quota", body: #"{"cpu": -1}"#, status: .badRequest,
            code: "invalid_field"),
        .init(
            label: "quota of wrong type", method: .put, path: "/api/v1/namespaces/existing/quota", body: #"{"gpu": "many"}"#,
            status: .badRequest, code: "invalid_field"),
        .init(
            label: "bad audit limit", method: .get, path: "/api/v1/namespaces/existing/audit?limit=abc", status: .badRequest,
            code: "invalid_parameter"),
        .init(label: "audit limit out of range", method: .get, path: "/api/v1/audit?limit=100000", status: .badRequest, code: "invalid_parameter"),
        .init(
            label: "short password", method: .post, path: "/api/v1/users", body: #"{"username": "zed", "password": "short"}"#,
            status: .badRequest, code: "invalid_field"),
        .init(
            label: "bad e-mail", method: .post, path: "/api/v1/users", body: #"{"username": "zed", "password": "long-enough", "email": "nope"}"#,
            status: .badRequest, code: "invalid_field"),
        .init(
            label: "duplicate user", method: .post, path: "/api/v1/users", body: #"{"username": "admin", "password": "long-enough"}"#,
            status: .conflict, code: "already_exists"),
        .init(
            label: "token expiry out of range", method: .post, path: "/api/v1/tokens", body: #"{"name": "x", "expires_in_days": 0}"#,
            status: .badRequest, code: "invalid_field"),
        .init(
            label: "revoke a token id that is not a UUID", method: .delete, path: "/api/v1/tokens/not-a-uuid", status: .notFound, code: "not_found"),
        .init(label: "unknown namespace", method: .get, path: "/api/v1/namespaces/nope", status: .notFound, code: "not_found"),
        .init(label: "unknown route", method: .get, path: "/api/v1/no-such-thing", status: .notFound, code: "not_found"),
        .init(
            label: "deleting a namespace that still has projects", method: .delete, path: "/api/v1/namespaces/existing",
            status: .conflict, code: "namespace_not_empty"),
        .init(
            label: "wrong password", method: .post, path: "/api/v1/auth/token",
            body: #"{"username": "admin", "password": "wrong-password", "name": "x"}"#, status: .unauthorized, code: "invalid_credentials"),
        .init(
            label: "unknown user", method: .post, path: "/api/v1/auth/token",
            body: #"{"username": "ghost", "password": "whatever1", "name": "x"}"#, status: .unauthorized, code: "invalid_credentials"),
    ]

    @Test(arguments: cases)
    func refusedWithClearErrorAndNothingChanged(testCase: Case) async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await api.token()
            #expect(try await api.request(.post, "/api/v1/namespaces", token: admin, json: #"{"name":"existing"}"#).status == .created)
            #expect(try await api.request(.post, "/api/v1/namespaces/existing/projects", token: admin, json: #"{"name":"p1"}"#).status == .created)
            let before = try await api.platform.store.audit.events(namespaceID: nil, before: nil, limit: 1000).count

            let result = try await api.request(testCase.method, testCase.path, token: admin, json: testCase.body)
            #expect(result.status == testCase.status, "\(result.text)")
            #expect(result.errorCode == testCase.code, "\(result.text)")
            let message = (result.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.count > 10, "the error explains itself: \(result.text)")
            #expect(result.headers[.contentType]?.hasPrefix("application/json") == true)

            let after = try await api.platform.store.audit.events(namespaceID: nil, before: nil, limit: 1000).count
            // A token created by logging in is the only change expected, and only on successful logins.
            #expect(after == before, "a refused request changes nothing")
        }
    }

    /// PostgreSQL refuses NUL bytes in text; they must be turned away as bad input before they reach it.
    @Test(arguments: TestBackend.available)
    func textWithNULCharactersIsRefusedOnEveryBackend(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let admin = try await api.token()
            let description = try await api.request(.post, "/api/v1/namespaces", token: admin, json: #"{"name":"ok","description":"a\u0000b"}"#)
            #expect(description.status == .badRequest)
            #expect(description.errorCode == "invalid_field")
            let login = try await api.request(.post, "/api/v1/auth/token", json: #"{"username":"ad\u0000min","password":"x","name":"t"}"#)
            #expect(login.status == .badRequest)
            let escapedBackslash = try await api.request(
                .post, "/api/v1/namespaces", token: admin, json: #"{"name":"fine","description":"C:\\u0000"}"#)
            #expect(escapedBackslash.status == .created, "an escaped backslash followed by u0000 is plain text: \(escapedBackslash.text)")
            let urls: [(HTTPRequest.Method, String)] = [
                (.get, "/api/v1/namespaces/a%00b"), (.get, "/api/v1/users/a%00b"), (.put, "/api/v1/namespaces/fine/members/a%00b"),
                (.get, "/api/v1/namespaces/fine/projects/a%00b"), (.get, "/api/v1/datasets?search=%00"), (.get, "/api/v1/audit?limit=1%00"),
            ]
            for (method, url) in urls {
                let result = try await api.request(method, url, token: admin, json: method == .put ? #"{"role":"viewer"}"# : nil)
                #expect(result.status == .badRequest, "\(url): \(result.text)")
                #expect(result.errorCode == "invalid_parameter")
            }
            #expect(try await api.platform.store.namespaces.namespace(named: "ok") == nil)
        }
    }

    @Test func oversizedBodyIsRefusedWith413() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await api.token()
            let huge = #"{"name":"big","description":""# + String(repeating: "x", count: 200_000) + #""}"#
            let result = try await api.request(.post, "/api/v1/namespaces", token: admin, json: huge)
            #expect(result.status == .contentTooLarge)
            #expect(result.errorCode == "payload_too_large")
            #expect(try await api.platform.store.namespaces.namespace(named: "big") == nil)
        }
    }

    @Test func expiredAndRevokedTokensAreRefused() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await api.token()
            let me = try await api.request(.get, "/api/v1/me", token: admin).decode(User.self)
            // A token that expired a second ago, stored the way the server stores them.
            let secret = "slw_" + String(repeating: "ab", count: 32)
            _ = try await api.platform.store.tokens.create(
                userID: me.id, name: try ResourceName(validating: "expired"), prefix: "slw_abababab", secretHash: sha256Hex(secret),
                expiresAt: Date().addingTimeInterval(-1), by: .system)
            let expired = try await api.request(.get, "/api/v1/me", token: secret)
            #expect(expired.status == .unauthorized)
            #expect(expired.errorCode == "invalid_token")

            let issued = try await api.request(.post, "/api/v1/tokens", token: admin, json: #"{"name":"short-lived","expires_in_days":1}"#)
                .decode(IssuedAPIToken.self)
            #expect(try await api.request(.get, "/api/v1/me", token: issued.secret).status == .ok)
            #expect(try await api.request(.delete, "/api/v1/tokens/\(issued.token.id.uuidString)", token: admin).status == .ok)
            let revoked = try await api.request(.get, "/api/v1/me", token: issued.secret)
            #expect(revoked.status == .unauthorized)
            #expect(revoked.errorCode == "invalid_token")

            let garbage = try await api.request(.get, "/api/v1/me", headers: [.authorization: "Basic Zm9vOmJhcg=="])
            #expect(garbage.status == .unauthorized)
        }
    }

    @Test func onlyAHashOfATokenIsStoredAndTheSecretIsShownOnce() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await api.token()
            let issued = try await api.request(.post, "/api/v1/tokens", token: admin, json: #"{"name":"ci"}"#)
            #expect(issued.status == .created)
            let secret = try #require(issued.json["secret"] as? String)
            #expect(secret.hasPrefix("slw_") && secret.count == 68)
            let listed = try await api.request(.get, "/api/v1/tokens", token: admin)
            #expect(!listed.text.contains(secret))
            #expect(listed.items.contains { $0["name"] as? String == "ci" })
            let stored = try await api.platform.database.read { db in
                try await db.raw("SELECT secret_hash FROM api_tokens").all(decodingColumn: "secret_hash", as: String.self)
            }
            #expect(!stored.contains(secret))
            #expect(stored.contains(sha256Hex(secret)))
        }
    }
}
