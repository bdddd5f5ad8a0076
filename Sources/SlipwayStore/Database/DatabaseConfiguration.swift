import Foundation

/// Where Slipway keeps its metadata: an SQLite file (one machine) or PostgreSQL (a cluster).
public enum DatabaseConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite database file, opened in WAL mode with a busy timeout.
    case sqlite(path: String)
    /// A PostgreSQL database, given as a `postgres://user:password@host:port/database` URL.
    case postgres(url: String)

    /// Chooses the backend from `SLIPWAY_DATABASE_URL` when set, otherwise an SQLite file under `dataDirectory`.
    /// - Throws: ``StoreError`` when the URL names an unsupported scheme.
    public static func resolve(databaseURL: String?, dataDirectory: URL) throws -> DatabaseConfiguration {
        guard let databaseURL, !databaseURL.isEmpty else {
            return .sqlite(path: dataDirectory.appendingPathComponent("slipway.sqlite").path)
        }
        if databaseURL.hasPrefix("postgres://") || databaseURL.hasPrefix("postgresql://") {
            return .postgres(url: databaseURL)
        }
        if databaseURL.hasPrefix("sqlite://") {
            return .sqlite(path: String(databaseURL.dropFirst("sqlite://".count)))
        }
        throw StoreError.configuration("SLIPWAY_DATABASE_URL must start with postgres:// or sqlite:// (got '\(databaseURL)')")
    }

    /// The configuration with any password removed, safe to log.
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite at \(path)"
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres" }
            if components.password != nil { components.password = "***" }
            return "postgres at \(components.string ?? "?")"
        }
    }
}
