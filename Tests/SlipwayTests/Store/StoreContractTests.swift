import Foundation
import SQLKit
import SlipwayDomain
import SlipwayStore
import Testing

/// One contract for the repositories, run against every backend (SQLite, and PostgreSQL when available).
@Suite("Metadata store contract")
struct StoreContractTests {
    static let actor = AuditActor.system

    func name(_ text: String) throws -> ResourceName { try ResourceName(validating: text) }

    @Test(arguments: TestBackend.available)
    func migrationsAreIdempotent(backend: TestBackend) async throws {
        try await TestDatabases.withFreshDatabase(backend) { configuration, _ in
            let database = try await Database.open(configuration, logger: TestDatabases.logger)
            let first = try await Migrator(database: database, logger: TestDatabases.logger).migrate()
            let second = try await Migrator(database: database, logger: TestDatabases.logger).migrate()
            try await database.close()
            #expect(first == Migration.all.map(\.version))
            #expect(second.isEmpty)
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentMigrationsApplyEachVersionOnce(backend: TestBackend) async throws {
        try await TestDatabases.withFreshDatabase(backend) { configuration, _ in
            let databases = [
                try await Database.open(configuration, logger: TestDatabases.logger),
                try await Database.open(configuration, logger: TestDatabases.logger),
            ]
            let outcome: Result<[Int], any Error>
            do {
                outcome = .success(
                    try await withThrowingTaskGroup(of: [Int].self) { group in
                        for database in databases {
                            group.addTask { try await Migrator(database: database, logger: TestDatabases.logger).migrate() }
                        }
                        return try await group.reduce(into: [Int]()) { $0 += $1 }
                    })
            } catch {
                outcome = .failure(error)
            }
            // Closed whatever happened: a pool dropped open is a crash, which would hide the error.
            for database in databases { try await database.close() }
            let applied = try outcome.get()
            #expect(applied.sorted() == Migration.all.map(\.version))
        }
    }

    @Test(arguments: TestBackend.available)
    func garbageCollectionForgetsOnlyReferencesMadeBeforeItStarted(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let references = SQLBlobReferenceRepository(database: database)
            let namespace = UUID()
            let (gone, again) = (String(repeating: "a", count: 64), String(repeating: "b", count: 64))
            try await references.recordUpload(gone, namespaceID: namespace)
            try await references.recordUpload(again, namespaceID: namespace)
            let started = Date()
            try await Task.sleep(for: .milliseconds(20))
            // Both were deleted by the pass; meanwhile the second was uploaded again, and needs its reference.
            try await references.recordUpload(again, namespaceID: namespace)
            try await references.forget([gone, again], createdBefore: started)
            #expect(try await references.held([gone, again], namespaceID: namespace) == [again])
        }
    }

    @Test(arguments: TestBackend.available)
    func usersAreUniqueByUsernameAndKeepTheirChanges(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let users = SQLUserRepository(database: database)
            let ada = try await users.create(NewUser(username: try name("ada"), email: "ada@example.com"), passwordHash: "h1", by: Self.actor)
            await #expect(throws: StoreError.alreadyExists("user", "ada")) {
                try await users.create(NewUser(username: try name("ada")), passwordHash: "h2", by: Self.actor)
            }
            #expect(try await users.count() == 1)
            let updated = try await users.update(id: ada.id, UserChange(passwordHash: "h3", isDisabled: true), by: Self.actor)
            #expect(updated.isDisabled)
            let credentials = try #require(try await users.credentials(named: "ada"))
            #expect(credentials.passwordHash == "h3")
            #expect(credentials.user.email == "ada@example.com")
            #expect(try await users.user(id: ada.id)?.username.value == "ada")
            #expect(try await users.user(named: "nobody") == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func tokensAuthenticateOnlyWhileLiveAndUnrevoked(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let users = SQLUserRepository(database: database)
            let tokens = SQLTokenRepository(database: database)
            let user = try await users.create(NewUser(username: try name("bob")), passwordHash: "h", by: Self.actor)
            let now = Date()
            let live = try await tokens.create(
                userID: user.id, name: try name("laptop"), prefix: "slw_1", secretHash: "hash-live",
                expiresAt: now.addingTimeInterval(3600), by: .user(user))
            _ = try await tokens.create(
                userID: user.id, name: try name("old"), prefix: "slw_2", secretHash: "hash-expired",
                expiresAt: now.addingTimeInterval(-1), by: .user(user))
            await #expect(throws: StoreError.alreadyExists("token", "laptop")) {
                try await tokens.create(
                    userID: user.id, name: try name("laptop"), prefix: "slw_3", secretHash: "hash-3", expiresAt: nil, by: .user(user))
            }
            #expect(try await tokens.authenticate(secretHash: "hash-live", at: now)?.user.id == user.id)
            #expect(try await tokens.authenticate(secretHash: "hash-expired", at: now) == nil)
            #expect(try await tokens.authenticate(secretHash: "unknown", at: now) == nil)
            #expect(try await tokens.token(id: live.id)?.lastUsedAt != nil)

            let revoked = try await tokens.revoke(id: live.id, by: .user(user))
            #expect(revoked.revokedAt != nil)
            #expect(try await tokens.authenticate(secretHash: "hash-live", at: now) == nil)
            // The name is free again once the token is revoked.
            _ = try await tokens.create(
                userID: user.id, name: try name("laptop"), prefix: "slw_4", secretHash: "hash-4", expiresAt: nil, by: .user(user))
            #expect(try await tokens.list(userID: user.id).count == 3)

            _ = try await users.update(id: user.id, UserChange(isDisabled: true), by: Self.actor)
            #expect(try await tokens.authenticate(secretHash: "hash-4", at: now) == nil, "a disabled user's tokens stop working")
        }
    }

    @Test(arguments: TestBackend.available)
    func sessionsExpireAndEndWhenTheUserIsDisabled(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let users = SQLUserRepository(database: database)
            let sessions = SQLSessionRepository(database: database)
            let user = try await users.create(NewUser(username: try name("cy")), passwordHash: "h", by: Self.actor)
            let now = Date()
            try await sessions.create(
                WebSession(idHash: "s1", userID: user.id, csrfToken: "c1", expiresAt: now.addingTimeInterval(60)), by: Self.actor)
            try await sessions.create(
                WebSession(idHash: "s2", userID: user.id, csrfToken: "c2", expiresAt: now.addingTimeInterval(-60)), by: Self.actor)
            #expect(try await sessions.session(idHash: "s1", at: now)?.session.csrfToken == "c1")
            #expect(try await sessions.session(idHash: "s2", at: now) == nil)
            #expect(try await sessions.deleteExpired(at: now) == 1)
            try await sessions.delete(idHash: "s1", by: Self.actor)
            #expect(try await sessions.session(idHash: "s1", at: now) == nil)

            try await sessions.create(
                WebSession(idHash: "s3", userID: user.id, csrfToken: "c3", expiresAt: now.addingTimeInterval(60)), by: Self.actor)
            _ = try await users.update(id: user.id, UserChange(isDisabled: true), by: Self.actor)
            #expect(try await sessions.session(idHash: "s3", at: now) == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func namespacesKeepAtLeastOneOwner(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let store = MetadataStore.sql(database)
            let owner = try await store.users.create(NewUser(username: try name("olga")), passwordHash: "h", by: Self.actor)
            let dev = try await store.users.create(NewUser(username: try name("dev")), passwordHash: "h", by: Self.actor)
            let namespace = try await store.namespaces.create(
                name: try name("vision"), displayName: nil, description: "", owner: owner.id, by: .user(owner))
            await #expect(throws: StoreError.alreadyExists("namespace", "vision")) {
                try await store.namespaces.create(name: try name("vision"), displayName: nil, description: "", owner: dev.id, by: .user(dev))
            }
            #expect(try await store.namespaces.role(of: owner.id, in: namespace.id) == .owner)
            _ = try await store.namespaces.setMember(dev, role: .developer, in: namespace, by: .user(owner))
            #expect(try await store.namespaces.members(of: namespace).map(\.username.value) == ["dev", "olga"])

            await #expect(throws: StoreError.self) { try await store.namespaces.removeMember(owner, from: namespace, by: .user(owner)) }
            await #expect(throws: StoreError.self) { _ = try await store.namespaces.setMember(owner, role: .viewer, in: namespace, by: .user(owner)) }
            #expect(try await store.namespaces.role(of: owner.id, in: namespace.id) == .owner, "a refused change changes nothing")

            _ = try await store.namespaces.setMember(dev, role: .owner, in: namespace, by: .user(owner))
            try await store.namespaces.removeMember(owner, from: namespace, by: .user(dev))
            #expect(try await store.namespaces.role(of: owner.id, in: namespace.id) == nil)
            #expect(try await store.namespaces.list(memberID: owner.id).isEmpty)
            #expect(try await store.namespaces.list(memberID: dev.id).map { $0.role } == [.owner])
            #expect(try await store.namespaces.list(memberID: nil).count == 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func quotasRoundTripIncludingUnlimited(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let store = MetadataStore.sql(database)
            let owner = try await store.users.create(NewUser(username: try name("q")), passwordHash: "h", by: Self.actor)
            let namespace = try await store.namespaces.create(
                name: try name("nlp"), displayName: "NLP", description: "d", owner: owner.id, by: .user(owner))
            #expect(try await store.namespaces.quota(of: namespace) == .unlimited)
            let quota = Quota(cpu: 12.5, memoryBytes: 64 << 30, gpu: 4)
            _ = try await store.namespaces.setQuota(quota, of: namespace, by: .user(owner))
            #expect(try await store.namespaces.quota(of: namespace) == quota)
            _ = try await store.namespaces.setQuota(Quota(cpu: nil, memoryBytes: nil, gpu: 2), of: namespace, by: .user(owner))
            #expect(try await store.namespaces.quota(of: namespace) == Quota(gpu: 2))
        }
    }

    @Test(arguments: TestBackend.available)
    func projectsAreUniquePerNamespaceAndBlockNamespaceDeletion(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let store = MetadataStore.sql(database)
            let owner = try await store.users.create(NewUser(username: try name("pam")), passwordHash: "h", by: Self.actor)
            let a = try await store.namespaces.create(name: try name("a"), displayName: nil, description: "", owner: owner.id, by: .user(owner))
            let b = try await store.namespaces.create(name: try name("b"), displayName: nil, description: "", owner: owner.id, by: .user(owner))
            let project = try await store.projects.create(in: a, name: try name("detect"), description: "boxes", by: .user(owner))
            _ = try await store.projects.create(in: b, name: try name("detect"), description: "", by: .user(owner))
            await #expect(throws: StoreError.alreadyExists("project", "a/detect")) {
                try await store.projects.create(in: a, name: try name("detect"), description: "", by: .user(owner))
            }
            await #expect(throws: StoreError.self) { try await store.namespaces.delete(a, by: .user(owner)) }
            #expect(try await store.namespaces.namespace(named: "a") != nil)
            #expect(try await store.projects.update(project, in: a, description: "new", by: .user(owner)).description == "new")
            #expect(try await store.projects.project(named: "detect", in: a)?.description == "new")
            try await store.projects.delete(project, in: a, by: .user(owner))
            #expect(try await store.projects.list(in: a).isEmpty)
            #expect(try await store.projects.list(in: b).count == 1)
            try await store.namespaces.delete(a, by: .user(owner))
            #expect(try await store.namespaces.namespace(named: "a") == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func everyChangeIsAuditedWithActorActionAndTarget(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let store = MetadataStore.sql(database)
            let owner = try await store.users.create(NewUser(username: try name("aud")), passwordHash: "h", by: Self.actor)
            let namespace = try await store.namespaces.create(
                name: try name("team"), displayName: nil, description: "", owner: owner.id, by: .user(owner))
            _ = try await store.projects.create(in: namespace, name: try name("p1"), description: "", by: .user(owner))
            _ = try await store.namespaces.setQuota(Quota(gpu: 1), of: namespace, by: .user(owner))
            let events = try await store.audit.events(namespaceID: namespace.id, before: nil, limit: 10)
            #expect(events.map(\.action) == ["quota.update", "project.create", "namespace.create"])
            #expect(events.allSatisfy { $0.actorName == "aud" && $0.actorID == owner.id })
            #expect(events[1].target == "team/p1")
            #expect(events[0].details["gpu"] == "1")
            let all = try await store.audit.events(namespaceID: nil, before: nil, limit: 100)
            #expect(all.first?.action == "quota.update")
            #expect(all.last?.action == "user.create")
            let older = try await store.audit.events(namespaceID: nil, before: events[0].id, limit: 100)
            #expect(older.count == all.count - 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentWritersLoseNothing(backend: TestBackend) async throws {
        try await TestDatabases.withDatabase(backend) { database in
            let store = MetadataStore.sql(database)
            let owner = try await store.users.create(NewUser(username: try name("con")), passwordHash: "h", by: Self.actor)
            let namespace = try await store.namespaces.create(
                name: try name("busy"), displayName: nil, description: "", owner: owner.id, by: .user(owner))
            // 40 distinct projects plus 20 racing creations of one name: every distinct one lands, the race has exactly one winner.
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        _ = try await store.projects.create(
                            in: namespace, name: try ResourceName(validating: "p\(index)"), description: "", by: .user(owner))
                        return true
                    }
                }
                for _ in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await store.projects.create(
                                in: namespace, name: try ResourceName(validating: "same"), description: "", by: .user(owner))
                            return true
                        } catch let error as StoreError where error.isAlreadyExists {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 41)
            #expect(try await store.projects.list(in: namespace).count == 41)
            let creations = try await store.audit.events(namespaceID: namespace.id, before: nil, limit: 500).filter { $0.action == "project.create" }
            #expect(creations.count == 41, "refused creations leave no audit event")
        }
    }
}
