import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SlipwayDomain
import SlipwayServer
import SlipwayStore
import Synchronization
import Testing

/// A platform opened on a fresh database for one test, with a fast bcrypt cost.
enum TestPlatform {
    static let adminPassword = "admin-password-1"

    static func configuration(_ configuration: DatabaseConfiguration, directory: URL) -> ServerConfiguration {
        var server = ServerConfiguration(dataDirectory: directory, adminPassword: adminPassword, bcryptCost: 4)
        if case .postgres(let url) = configuration { server.databaseURL = url }
        server.maxBodyBytes = 64 * 1024
        // Collections with no grace period, to see at once what a collection keeps.
        server.minimumGCGraceSeconds = 0
        return server
    }

    /// Opens a platform on a fresh `backend` database, builds the router and runs `body` against it in-process.
    static func withAPI<T: Sendable>(
        _ backend: TestBackend = .sqlite, clock: TestClock? = nil, _ body: @Sendable (APIClient) async throws -> T
    ) async throws -> T {
        var now: @Sendable () -> Date = { Date() }
        if let clock { now = clock.now }
        return try await TestDatabases.withFreshDatabase(backend) { database, directory in
            let platform = try await Platform.open(configuration(database, directory: directory), logger: TestDatabases.logger, now: now)
            do {
                let router = try await buildRouter(platform)
                let app = Application(router: router, logger: TestDatabases.logger)
                let result = try await app.test(.router) { client in
                    try await body(APIClient(client: client, platform: platform))
                }
                try await platform.close()
                return result
            } catch {
                try? await platform.close()
                throw error
            }
        }
    }
}

/// A clock a test moves by hand, for the platform's routes and the scheduling loop.
final class TestClock: Sendable {
    private let time: Mutex<Date>

    init(_ start: Date = Date()) { time = Mutex(start) }

    var now: @Sendable () -> Date { { [self] in self.time.withLock { $0 } } }

    func advance(by seconds: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// What a test got back from the API.
struct APIResult: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer

    var text: String { String(buffer: body) }

    /// The body as a JSON object (empty when it is not one).
    var json: [String: any Sendable] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: any Sendable] ?? [:]
    }

    /// The `error.code` of an error body.
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }

    /// `items` of a list body.
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try APICoding.decoder().decode(T.self, from: Data(body.readableBytesView))
    }
}

/// Sends API requests to an in-process router.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let platform: Platform

    @discardableResult
    func request(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: String? = nil, headers: HTTPFields = [:]
    ) async throws -> APIResult {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return APIResult(status: response.status, headers: response.headers, body: response.body)
    }

    func request(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: some Encodable) async throws -> APIResult {
        let data = try APICoding.encoder().encode(body)
        return try await request(method, path, token: token, json: String(decoding: data, as: UTF8.self))
    }

    /// A token for `username`/`password`, via `POST /api/v1/auth/token`.
    func token(_ username: String = "admin", password: String = TestPlatform.adminPassword) async throws -> String {
        let result = try await request(
            .post, "/api/v1/auth/token",
            body: PasswordTokenRequest(username: username, password: password, name: "t-\(UUID().uuidString.prefix(8).lowercased())"))
        #expect(result.status == .created, "login of \(username) failed: \(result.text)")
        return try result.decode(IssuedAPIToken.self).secret
    }

    /// Creates a user (as `adminToken`) and returns a token for them.
    func user(_ username: String, adminToken: String) async throws -> String {
        let created = try await request(
            .post, "/api/v1/users", token: adminToken,
            body: CreateUserRequest(username: username, password: "password-\(username)"))
        #expect(created.status == .created, "creating \(username) failed: \(created.text)")
        return try await token(username, password: "password-\(username)")
    }
}
