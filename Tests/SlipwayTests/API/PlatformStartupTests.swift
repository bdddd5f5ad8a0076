import Foundation
import HTTPTypes
import SlipwayDomain
import SlipwayServer
import SlipwayStore
import Testing

/// Start-up: the first administrator, restarts, health.
@Suite("Platform start-up")
struct PlatformStartupTests {
    @Test(arguments: TestBackend.available)
    func firstStartCreatesAdminWithGeneratedPasswordAndRestartKeepsIt(backend: TestBackend) async throws {
        try await TestDatabases.withFreshDatabase(backend) { database, directory in
            var configuration = TestPlatform.configuration(database, directory: directory)
            configuration.adminPassword = nil
            let first = try await Platform.open(configuration, logger: TestDatabases.logger)
            let password = try #require(first.generatedAdminPassword)
            #expect(password.count >= 16)
            let admin = try #require(try await first.store.users.credentials(named: "admin"))
            #expect(admin.user.isAdmin)
            #expect(try await first.passwords.verify(password, against: admin.passwordHash))
            #expect(!admin.passwordHash.contains(password), "only a bcrypt hash is stored")
            #expect(admin.passwordHash.hasPrefix("$2"))
            try await first.close()

            configuration.adminPassword = "ignored-on-restart"
            let second = try await Platform.open(configuration, logger: TestDatabases.logger)
            #expect(second.generatedAdminPassword == nil)
            let again = try #require(try await second.store.users.credentials(named: "admin"))
            #expect(again.passwordHash == admin.passwordHash, "a restart keeps the admin's password")
            #expect(try await second.store.users.count() == 1)
            try await second.close()
            #expect(
                FileManager.default.fileExists(atPath: directory.appendingPathComponent("blobs/sha256").path),
                "the blob store lives under the data directory")
            if backend == .sqlite {
                #expect(
                    FileManager.default.fileExists(atPath: directory.appendingPathComponent("slipway.sqlite").path),
                    "the embedded database lives under the data directory")
            }
        }
    }

    @Test func healthAndReadinessAnswer() async throws {
        try await TestPlatform.withAPI { api in
            let health = try await api.request(.get, "/healthz")
            #expect(health.status == .ok)
            #expect(health.json["status"] as? String == "ok")
            #expect(try await api.request(.get, "/readyz").status == .ok)
        }
    }

    @Test func passwordChangeNeedsTheCurrentPasswordAndTakesEffect() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await api.token()
            let wrong = try await api.request(
                .post, "/api/v1/me/password", token: admin,
                body: ChangePasswordRequest(currentPassword: "nope-nope", newPassword: "brand-new-password"))
            #expect(wrong.status == .unauthorized)
            let changed = try await api.request(
                .post, "/api/v1/me/password", token: admin,
                body: ChangePasswordRequest(currentPassword: TestPlatform.adminPassword, newPassword: "brand-new-password"))
            #expect(changed.status == .ok)
            _ = try await api.token("admin", password: "brand-new-password")
            let old = try await api.request(
                .post, "/api/v1/auth/token", body: PasswordTokenRequest(username: "admin", password: TestPlatform.adminPassword, name: "x"))
            #expect(old.status == .unauthorized)
        }
    }

    @Test func disabledUsersCannotSignInOrUseTheirTokens() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await api.token()
            let eve = try await api.user("eve", adminToken: admin)
            #expect(try await api.request(.patch, "/api/v1/users/eve", token: admin, json: #"{"is_disabled":true}"#).status == .ok)
            #expect(try await api.request(.get, "/api/v1/me", token: eve).status == .unauthorized)
            let login = try await api.request(
                .post, "/api/v1/auth/token", body: PasswordTokenRequest(username: "eve", password: "password-eve", name: "x"))
            #expect(login.status == .unauthorized)
            let selfLock = try await api.request(.patch, "/api/v1/users/admin", token: admin, json: #"{"is_disabled":true}"#)
            #expect(selfLock.status == .conflict)
        }
    }
}
