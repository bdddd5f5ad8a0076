import Foundation
import Logging
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore

/// The opened server-side parts of a Slipway installation: database, repositories, credentials.
///
/// Opening it prepares the data directory, connects to the database, migrates it and creates the first
/// administrator. `slipway serve` opens one; tests open one on a temporary directory.
public struct Platform: Sendable {
    public let configuration: ServerConfiguration
    public let database: Database
    public let store: MetadataStore
    /// Datasets, artifacts and models, by content.
    public let blobs: any BlobStore
    public let passwords: PasswordHasher
    public let logger: Logger
    /// What opening did about the first administrator.
    let bootstrap: AdminBootstrap.Outcome
    /// The clock routes read the time from.
    let now: @Sendable () -> Date

    /// Opens the platform described by `configuration`.
    /// - Parameters:
    ///   - now: the clock routes read the time from (tests pass one they move by hand).
    ///   - wrapBlobs: wraps the blob store the platform uses (tests pause writes with it to interleave work).
    public static func open(
        _ configuration: ServerConfiguration, logger: Logger, now: @escaping @Sendable () -> Date = { Date() },
        wrapBlobs: @Sendable (any BlobStore) -> any BlobStore = { $0 }
    ) async throws -> Platform {
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        let databaseConfiguration = try DatabaseConfiguration.resolve(
            databaseURL: configuration.databaseURL, dataDirectory: configuration.dataDirectory)
        logger.info("opening metadata database: \(databaseConfiguration)")
        let blobs = wrapBlobs(try FileBlobStore(root: configuration.dataDirectory.appendingPathComponent("blobs", isDirectory: true)))
        let database = try await Database.open(databaseConfiguration, logger: logger)
        do {
            try await Migrator(database: database, logger: logger).migrate()
            let store = MetadataStore.sql(database)
            let passwords = PasswordHasher(cost: configuration.bcryptCost)
            let outcome = try await AdminBootstrap(store: store, passwords: passwords, logger: logger)
                .run(configuredPassword: configuration.adminPassword)
            return Platform(
                configuration: configuration, database: database, store: store, blobs: blobs, passwords: passwords, logger: logger,
                bootstrap: outcome, now: now)
        } catch {
            try? await database.close()
            throw error
        }
    }

    /// The generated administrator password, when this start created `admin` without a configured one.
    public var generatedAdminPassword: String? {
        if case .createdWithGeneratedPassword(let password) = bootstrap { return password }
        return nil
    }

    /// Closes the database.
    public func close() async throws {
        try await database.close()
    }
}
