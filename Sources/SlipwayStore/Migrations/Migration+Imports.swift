extension Migration {
    /// Imports in flight: while one runs, garbage collection keeps every blob stored or retained since it began.
    static let importsInFlight = Migration(
        version: 12, name: "imports in flight",
        statements: [
            """
            CREATE TABLE imports_in_flight (
                id TEXT PRIMARY KEY,
                namespace_id TEXT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )
            """
        ])
}
