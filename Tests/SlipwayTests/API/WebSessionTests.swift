import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayDomain
import SlipwayServer
import SlipwayStore
import Testing

/// Browser sign-in, session cookies and CSRF protection of the web UI, driven in-process.
@Suite("Web sessions")
struct WebSessionTests {
    /// A tiny cookie jar for one simulated browser.
    struct Browser: Sendable {
        let api: APIClient
        var cookies: [String: String] = [:]

        mutating func send(
            _ method: HTTPRequest.Method, _ path: String, form: [String: String]? = nil, headers: HTTPFields = [:]
        ) async throws -> APIResult {
            var headers = headers
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            var body: String?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            }
            let response = try await api.client.execute(uri: path, method: method, headers: headers, body: body.map { .init(string: $0) })
            for header in response.headers[values: .setCookie] {
                let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let value = pair.count > 1 ? String(pair[1]) : ""
                cookies[String(pair[0])] = value.isEmpty ? nil : value
            }
            return APIResult(status: response.status, headers: response.headers, body: response.body)
        }

        /// The value of the first hidden `_csrf` field on a page.
        static func csrf(in page: APIResult) -> String? {
            guard let range = page.text.range(of: #"name="_csrf" value=""#) else { return nil }
            return String(page.text[range.upperBound...].prefix(64))
        }

        mutating func signIn(password: String = TestPlatform.adminPassword) async throws -> APIResult {
            let page = try await send(.get, "/login")
            let csrf = try #require(Self.csrf(in: page))
            return try await send(.post, "/login", form: ["_csrf": csrf, "username": "admin", "password": password, "next": ""])
        }
    }

    @Test func signingInSetsAnHttpOnlySameSiteSessionCookie() async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            let response = try await browser.signIn()
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/namespaces")
            let cookie = try #require(response.headers[values: .setCookie].first { $0.hasPrefix("slipway_session=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(!cookie.contains("Secure"), "Secure is opt-in (SLIPWAY_SECURE_COOKIES) so plain-HTTP installs work")
            let page = try await browser.send(.get, "/namespaces")
            #expect(page.status == .ok)
            #expect(page.text.contains(#"id="current-user""#) && page.text.contains(">admin</span>"))
        }
    }

    @Test func wrongPasswordShowsAnErrorAndStartsNoSession() async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            let response = try await browser.signIn(password: "not-the-password")
            #expect(response.status == .unauthorized)
            #expect(response.text.contains("flash-error"))
            #expect(response.text.contains("Wrong username or password"))
            #expect(browser.cookies["slipway_session"] == nil)
            #expect(try await browser.send(.get, "/namespaces").status == .seeOther)
        }
    }

    @Test func signInWithoutTheFormsCSRFTokenIsRefused() async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            _ = try await browser.send(.get, "/login")
            let forged = try await browser.send(
                .post, "/login",
                form: [
                    "_csrf": String(repeating: "0", count: 64), "username": "admin",
                    "password": TestPlatform.adminPassword,
                ])
            #expect(forged.status == .forbidden)
            #expect(browser.cookies["slipway_session"] == nil)
        }
    }

    @Test func formPostsWithoutTheSessionsCSRFTokenChangeNothing() async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            _ = try await browser.signIn()
            let forged = try await browser.send(.post, "/namespaces", form: ["name": "forged", "_csrf": "wrong"])
            #expect(forged.status == .forbidden)
            #expect(try await api.platform.store.namespaces.namespace(named: "forged") == nil)
            let logout = try await browser.send(.post, "/logout", form: [:])
            #expect(logout.status == .forbidden, "logging out also needs the token")
            #expect(try await browser.send(.get, "/namespaces").status == .ok, "still signed in")
        }
    }

    @Test func apiCallsAuthenticatedByCookieNeedTheCSRFHeaderToChangeState() async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            _ = try await browser.signIn()
            #expect(try await browser.send(.get, "/api/v1/me").status == .ok, "reads need no token")
            let page = try await browser.send(.get, "/namespaces")
            let csrf = try #require(Browser.csrf(in: page))
            var json: HTTPFields = [.contentType: "application/json"]
            let refused = try await browser.api.client.execute(
                uri: "/api/v1/namespaces", method: .post,
                headers: [.cookie: "slipway_session=\(browser.cookies["slipway_session"]!)", .contentType: "application/json"],
                body: .init(string: #"{"name":"via-cookie"}"#))
            #expect(refused.status == .forbidden)
            json[HTTPField.Name("X-CSRF-Token")!] = csrf
            json[.cookie] = "slipway_session=\(browser.cookies["slipway_session"]!)"
            let accepted = try await browser.api.client.execute(
                uri: "/api/v1/namespaces", method: .post, headers: json, body: .init(string: #"{"name":"via-cookie"}"#))
            #expect(accepted.status == .created)
        }
    }

    @Test func creatingANamespaceInTheBrowserMakesTheCreatorItsOwner() async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            _ = try await browser.signIn()
            let csrf = try #require(Browser.csrf(in: try await browser.send(.get, "/namespaces")))
            let created = try await browser.send(.post, "/namespaces", form: ["_csrf": csrf, "name": "team-web", "display_name": "Web team"])
            #expect(created.status == .seeOther)
            #expect(created.headers[.location] == "/namespaces/team-web")
            let page = try await browser.send(.get, "/namespaces/team-web")
            #expect(page.text.contains("<td>admin</td><td class=\"role\">owner</td>"))
            let bad = try await browser.send(.post, "/namespaces", form: ["_csrf": csrf, "name": "Bad Name!"])
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("flash-error") && bad.text.contains("not a valid name"))
            let project = try await browser.send(.post, "/namespaces/team-web/projects", form: ["_csrf": csrf, "name": "detector"])
            #expect(project.status == .seeOther)
            #expect(
                try await browser.send(.get, "/namespaces/team-web").text.contains(#"<a href="/namespaces/team-web/projects/detector">detector</a>"#))
        }
    }

    @Test func signingOutEndsTheSession() async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            _ = try await browser.signIn()
            let session = try #require(browser.cookies["slipway_session"])
            let csrf = try #require(Browser.csrf(in: try await browser.send(.get, "/namespaces")))
            let out = try await browser.send(.post, "/logout", form: ["_csrf": csrf])
            #expect(out.status == .seeOther && out.headers[.location] == "/login")
            // Even a client that kept the old cookie is no longer signed in.
            let replay = try await api.client.execute(uri: "/api/v1/me", method: .get, headers: [.cookie: "slipway_session=\(session)"])
            #expect(replay.status == .unauthorized)
            let actions = try await api.platform.store.audit.events(namespaceID: nil, before: nil, limit: 10).map(\.action)
            #expect(Array(actions.prefix(2)) == ["session.delete", "session.create"], "signing in and out is audited")
        }
    }

    @Test(arguments: [
        ("/namespaces/x", "/namespaces/x"), ("https://evil.example", "/namespaces"), ("//evil.example", "/namespaces"),
        ("/\\evil.example", "/namespaces"), ("", "/namespaces"),
    ])
    func signInOnlyReturnsToPagesOfThisSite(next: String, expected: String) async throws {
        try await TestPlatform.withAPI { api in
            var browser = Browser(api: api)
            let page = try await browser.send(.get, "/login")
            let csrf = try #require(Browser.csrf(in: page))
            let response = try await browser.send(
                .post, "/login", form: ["_csrf": csrf, "username": "admin", "password": TestPlatform.adminPassword, "next": next])
            #expect(response.headers[.location] == expected)
        }
    }
}
