import Foundation
import Logging
import SQLKit
import SlipwayStore
import Testing

/// The metadata backends a contract test runs against.
///
/// SQLite always; PostgreSQL when `SLIPWAY_TEST_DATABASE_URL` names a server (the test script starts one).
/// Under CI (`CI=true`) PostgreSQL is required: a missing URL fails instead of silently skipping.
enum TestBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    static var available: [TestBackend] {
        let environment = ProcessInfo.processInfo.environment
        if environment["SLIPWAY_TEST_DATABASE_URL"]?.isEmpty == false || environment["CI"] == "true" {
            return [.sqlite, .postgres]
        }
        return [.sqlite]
    }
}

enum TestDatabases {
    static let logger: Logger = {
        var logger = Logger(label: "slipway-tests")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with a fresh, empty database of `backend` and a temporary data directory; removes both afterwards.
    static func withFreshDatabase<T: Sendable>(
        _ backend: TestBackend, _ body: (DatabaseConfiguration, URL) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        switch backend {
        case .sqlite:
            return try await body(.sqlite(path: directory.appendingPathComponent("slipway.sqlite").path), directory)
        case .postgres:
            guard let base = ProcessInfo.processInfo.environment["SLIPWAY_TEST_DATABASE_URL"], !base.isEmpty else {
                Issue.record("SLIPWAY_TEST_DATABASE_URL is not set: run the tests through scripts/test, which starts PostgreSQL")
                throw CancellationError()
            }
            let name = "slipway_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
            let admin = try await Database.open(.postgres(url: base), logger: logger)
            try await admin.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
            var components = URLComponents(string: base)!
            components.path = "/" + name
            do {
                let result = try await body(.postgres(url: components.string!), directory)
                try await admin.read { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
                try await admin.close()
                return result
            } catch {
                try? await admin.read { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
                try? await admin.close()
                throw error
            }
        }
    }

    /// Runs `body` with an opened, migrated database of `backend`.
    static func withDatabase<T: Sendable>(_ backend: TestBackend, _ body: (Database) async throws -> T) async throws -> T {
        try await withFreshDatabase(backend) { configuration, _ in
            let database = try await Database.open(configuration, logger: logger)
            do {
                try await Migrator(database: database, logger: logger).migrate()
                let result = try await body(database)
                try await database.close()
                return result
            } catch {
                try? await database.close()
                throw error
            }
        }
    }
}
