import Foundation
import Logging
import SlipwayDomain
import SlipwayStore

/// Creates the first administrator, `admin`, on a fresh installation.
struct AdminBootstrap: Sendable {
    let store: MetadataStore
    let passwords: PasswordHasher
    let logger: Logger

    /// What the bootstrap did.
    enum Outcome: Equatable {
        /// Users existed already; nothing changed.
        case alreadyInitialised
        /// Created `admin` with the configured password.
        case createdWithConfiguredPassword
        /// Created `admin` with this generated password, to be shown once.
        case createdWithGeneratedPassword(String)
    }

    /// Creates `admin` unless any user exists. Safe to run on every start and from several replicas.
    func run(configuredPassword: String?) async throws -> Outcome {
        guard try await store.users.count() == 0 else { return .alreadyInitialised }
        let password = configuredPassword ?? SecretGenerator.hex(bytes: 12)
        do {
            _ = try await store.users.create(
                NewUser(username: try ResourceName(validating: "admin"), displayName: "Administrator", isAdmin: true),
                passwordHash: try await passwords.hash(password), by: .system)
        } catch let error as StoreError where error.isAlreadyExists {
            // Another replica created it first.
            return .alreadyInitialised
        }
        return configuredPassword == nil ? .createdWithGeneratedPassword(password) : .createdWithConfiguredPassword
    }
}
