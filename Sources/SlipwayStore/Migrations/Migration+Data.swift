extension Migration {
    /// Datasets, their versions, and which blobs each owner (a version, a namespace) references.
    static let data = Migration(
        version: 2, name: "datasets and blob references",
        statements: [
            """
            CREATE TABLE datasets (
                id TEXT PRIMARY KEY,
                namespace_id TEXT NOT NULL REFERENCES namespaces(id),
                project_id TEXT NOT NULL REFERENCES projects(id),
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                task_type TEXT NOT NULL,
                visibility TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                UNIQUE (project_id, name)
            )
            """,
            "CREATE INDEX datasets_visibility ON datasets (visibility)",
            """
            CREATE TABLE dataset_versions (
                id TEXT PRIMARY KEY,
                dataset_id TEXT NOT NULL REFERENCES datasets(id),
                number BIGINT NOT NULL,
                state TEXT NOT NULL,
                message TEXT NOT NULL,
                record_count BIGINT NOT NULL,
                manifest TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                created_by TEXT NOT NULL,
                UNIQUE (dataset_id, number)
            )
            """,
            """
            CREATE TABLE blob_references (
                owner_type TEXT NOT NULL,
                owner_id TEXT NOT NULL,
                digest TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (owner_type, owner_id, digest)
            )
            """,
            "CREATE INDEX blob_references_digest ON blob_references (digest)",
        ])
}
