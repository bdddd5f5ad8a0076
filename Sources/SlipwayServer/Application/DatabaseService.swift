import Logging
import ServiceLifecycle
import SlipwayStore

/// Keeps the database open while the server runs and closes it after the HTTP server has drained.
///
/// Listed before the HTTP server in the service group, so it shuts down after it.
struct DatabaseService: Service {
    let database: Database
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        do {
            try await database.close()
        } catch {
            logger.warning("closing the database failed: \(error)")
        }
    }
}
