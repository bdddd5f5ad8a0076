import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit

/// The metadata database: a pool of connections to SQLite or PostgreSQL behind one SQLKit interface.
///
/// Reads run on any pooled connection; writes run in a transaction on one connection
/// (on SQLite, one writer at a time, taken with `BEGIN IMMEDIATE`).
public final class Database: Sendable {
    /// Which SQL dialect the database speaks.
    public enum Dialect: String, Sendable {
        case sqlite
        case postgres
    }

    /// The dialect of the connected database.
    public let dialect: Dialect
    private let pool: any ConnectionPooling
    private let writerGate: WriterGate?
    private let logger: Logger

    private init(dialect: Dialect, pool: any ConnectionPooling, logger: Logger) {
        self.dialect = dialect
        self.pool = pool
        self.writerGate = dialect == .sqlite ? WriterGate() : nil
        self.logger = logger
    }

    /// Opens a pool of connections for `configuration`. Creates the SQLite file (and its folder) when missing.
    public static func open(
        _ configuration: DatabaseConfiguration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Database {
        switch configuration {
        case .sqlite(let path):
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let threadPool = NIOThreadPool(numberOfThreads: 4)
            threadPool.start()
            let source = TunedSQLiteSource(
                base: SQLiteConnectionSource(configuration: .init(storage: .file(path: path), enableForeignKeys: true), threadPool: threadPool)
            )
            let pool = EventLoopGroupConnectionPool(
                source: source, maxConnectionsPerEventLoop: 4, requestTimeout: .seconds(30),
                pruneInterval: nil, logger: logger, on: eventLoopGroup)
            let database = Database(dialect: .sqlite, pool: SQLitePooling(pool: pool, threadPool: threadPool), logger: logger)
            // Switch the file to WAL once; the mode is persistent.
            try await database.read { db in try await db.raw("PRAGMA journal_mode=WAL").run() }
            return database
        case .postgres(let url):
            let sqlConfiguration: SQLPostgresConfiguration
            do {
                sqlConfiguration = try SQLPostgresConfiguration(url: url)
            } catch {
                throw StoreError.configuration("SLIPWAY_DATABASE_URL is not a valid PostgreSQL URL: \(error)")
            }
            let pool = EventLoopGroupConnectionPool(
                source: PostgresConnectionSource(sqlConfiguration: sqlConfiguration),
                maxConnectionsPerEventLoop: 8, requestTimeout: .seconds(30),
                pruneInterval: .seconds(60), logger: logger, on: eventLoopGroup)
            return Database(dialect: .postgres, pool: PostgresPooling(pool: pool), logger: logger)
        }
    }

    /// Runs `body` with a connection for reading.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await pool.withConnection(logger: logger, body)
    }

    /// Runs `body` inside a transaction: committed when it returns, rolled back when it throws.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let writerGate { await writerGate.acquire() }
        do {
            let result = try await pool.withConnection(logger: logger) { db in
                try await db.raw(self.dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN").run()
                do {
                    let result = try await body(db)
                    try await db.raw("COMMIT").run()
                    return result
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
            if let writerGate { await writerGate.release() }
            return result
        } catch {
            if let writerGate { await writerGate.release() }
            throw error
        }
    }

    /// Whether the database answers a trivial query.
    public func isReachable() async -> Bool {
        do {
            return try await read { db in try await db.raw("SELECT 1 AS ok").first() != nil }
        } catch {
            return false
        }
    }

    /// Closes every connection. Call once, at shutdown.
    public func close() async throws {
        try await pool.shutdown()
    }
}

/// Whether `error` is a unique-constraint violation reported by either backend.
func isUniqueViolation(_ error: any Error) -> Bool {
    if let error = error as? SQLiteError {
        return error.reason == .constraint || error.reason == .constraintUniqueFailed || error.reason == .constraintPrimaryKeyFailed
    }
    if let error = error as? PSQLError {
        return error.serverInfo?[.sqlState] == "23505"
    }
    return false
}

/// Whether `error` is SQLite saying another connection held the write lock past the busy timeout.
func isSQLiteBusy(_ error: any Error) -> Bool {
    (error as? SQLiteError)?.reason == .busy
}

/// A pool that hands out `SQLDatabase` sessions bound to one connection.
private protocol ConnectionPooling: Sendable {
    func withConnection<T: Sendable>(logger: Logger, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func shutdown() async throws
}

/// `EventLoopGroupConnectionPool` guards its state with a lock but is not marked `Sendable`.
private struct SQLitePooling: ConnectionPooling, @unchecked Sendable {
    let pool: EventLoopGroupConnectionPool<TunedSQLiteSource>
    let threadPool: NIOThreadPool

    func withConnection<T: Sendable>(logger: Logger, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await body(connection.sql(queryLogLevel: .trace))
    }

    func shutdown() async throws {
        try await pool.shutdownAsync()
        try await threadPool.shutdownGracefully()
    }
}

/// `EventLoopGroupConnectionPool` guards its state with a lock but is not marked `Sendable`.
private struct PostgresPooling: ConnectionPooling, @unchecked Sendable {
    let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>

    func withConnection<T: Sendable>(logger: Logger, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await body(connection.sql(queryLogLevel: .trace))
    }

    func shutdown() async throws {
        try await pool.shutdownAsync()
    }
}

/// Opens SQLite connections with the settings Slipway relies on: a busy timeout and normal syncing under WAL.
private struct TunedSQLiteSource: ConnectionPoolSource {
    let base: SQLiteConnectionSource

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        base.makeConnection(logger: logger, on: eventLoop).flatMap { connection in
            connection.query("PRAGMA busy_timeout = 10000").flatMap { _ in
                connection.query("PRAGMA synchronous = NORMAL")
            }.map { _ in connection }
        }
    }
}
